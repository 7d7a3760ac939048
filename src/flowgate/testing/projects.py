"""Clean-up for tests and benchmarks that run real projects on the local Docker engine."""

from __future__ import annotations

import time
from contextlib import suppress
from pathlib import Path


def remove_labelled(label: str, network_prefix: str, timeout: float = 60.0) -> None:
    """Remove the Swarm services and containers carrying `label` (`key=value`), then the
    networks named `<network_prefix>...`.

    Swarm stops a removed service's tasks on its own time, and an overlay network with live
    endpoints cannot be removed, so this waits (up to `timeout`) for both.
    """
    import docker
    import docker.errors

    from flowgate.backends.runtime.swarm_spec import remove_network

    client = docker.from_env()
    deadline = time.monotonic() + timeout
    try:
        with suppress(docker.errors.APIError):  # 503 when the engine is in no swarm
            for service in client.services.list(filters={"label": label}):
                with suppress(docker.errors.NotFound):
                    service.remove()
        while left := client.containers.list(all=True, filters={"label": label}):
            for container in left:
                with suppress(docker.errors.APIError):  # swarm may get there first
                    container.remove(force=True)
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for network in client.networks.list(names=[network_prefix]):
            if not network.name.startswith(network_prefix):
                continue  # `names` matches substrings
            remove_network(network, deadline)
    finally:
        client.close()


def leave_haproxy(project_dir: Path) -> None:
    """Take the project's services out of the shared HAProxy its settings name; the last
    one to leave stops it (process or container)."""
    from flowgate.backends.proxy.haproxy import HAProxyProxy
    from flowgate.engine.workspace import load_project_settings

    _, _, settings = load_project_settings(project_dir)
    if settings.proxy == "haproxy":
        HAProxyProxy(settings).leave()


def remove_project(name: str, project_dir: Path | None = None) -> None:
    """Everything flowgate started for project `name`, whatever state it was left in: its
    routes in the shared HAProxy (when `project_dir` is given; HAProxy stops when no other
    project uses it), every service and container of every color and side target, and the
    project's network."""
    try:
        if project_dir is not None and project_dir.exists():
            leave_haproxy(project_dir)
    finally:
        remove_labelled(f"io.flowgate.project={name}", f"{name}_")
