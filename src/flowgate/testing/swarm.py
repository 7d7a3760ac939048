"""Test helpers for the `swarm` runtime: a single-node swarm for the length of a test
module, and the clean-up of everything a test project left in it.

The engine is shared with other test sessions, so the swarm is only left again when this
helper created it; an engine that already was in a swarm stays in it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

LABEL = "io.flowgate.project"


def swarm_state(client: Any) -> str:
    return str((client.info().get("Swarm") or {}).get("LocalNodeState") or "inactive")


@contextmanager
def single_node_swarm(client: Any) -> Iterator[bool]:
    """Make the engine a swarm manager (advertising 127.0.0.1) if it is not in a swarm yet;
    yields whether this helper created the swarm, and leaves only a swarm it created."""
    created = swarm_state(client) != "active"
    if created:
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
        )
    try:
        yield created
    finally:
        if created:
            leave = ["docker", "swarm", "leave", "--force"]
            subprocess.run(leave, check=False, capture_output=True)


def remove_project(client: Any, project: str, timeout: float = 60.0) -> None:
    """Remove the project's services, wait until their containers are gone, then remove
    the project's networks (an overlay network with live endpoints cannot be removed)."""
    import docker.errors

    for service in client.services.list(filters={"label": f"{LABEL}={project}"}):
        with suppress(docker.errors.NotFound):
            service.remove()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = client.containers.list(all=True, filters={"label": f"{LABEL}={project}"})
        if not left:
            break
        for container in left:
            # Swarm's own clean-up may get there first.
            with suppress(docker.errors.APIError):
                container.remove(force=True)
        time.sleep(0.3)
    for network in client.networks.list(names=[project]):
        if not network.name.startswith(project + "_"):
            continue
        while True:
            try:
                network.remove()
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)
