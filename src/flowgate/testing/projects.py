"""Clean-up for tests and benchmarks that run real projects on the local Docker engine."""

from __future__ import annotations

from pathlib import Path


def remove_labelled(label: str, network: str) -> None:
    """Remove every container carrying `label` (`key=value`) and the network `network`."""
    import docker

    client = docker.from_env()
    try:
        for container in client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
        for found in client.networks.list(names=[network]):
            found.remove()
    finally:
        client.close()


def remove_project(name: str, project_dir: Path | None = None) -> None:
    """Everything flowgate started for project `name`, whatever state it was left in: its
    HAProxy (process or container, when `project_dir` is given), every container of every
    color and side target, and the project's network."""
    if project_dir is not None and project_dir.exists():
        from flowgate.backends.proxy.haproxy import stop_haproxy

        stop_haproxy(project_dir)
    remove_labelled(f"io.flowgate.project={name}", f"{name}_default")
