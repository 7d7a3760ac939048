"""Containers docker-compose made, as Docker Flow ran it: flowgate recognises them so a
Docker Flow user's running service is taken over, not collided with.

Under Docker Flow a blue-green target ran as the Compose service `<target>-<color>`
(containers `<project>_<target>-<color>_<n>`, Compose's labels, no flowgate labels) and a
plain one as `<target>` (`<project>_<target>_<n>`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"


def compose_labels(project: str, service: str) -> list[str]:
    return [f"{PROJECT}={project}", f"{SERVICE}={service}"]


def compose_service(client: DockerClient, project: str, service: str) -> list[Container]:
    """The containers docker-compose started for `service` of `project`, by number."""
    found = client.containers.list(all=True, filters={"label": compose_labels(project, service)})
    return sorted(found, key=lambda c: int(c.labels.get(NUMBER, "0") or 0))


def compose_named(client: DockerClient, prefix: str) -> list[Container]:
    """Containers named like Compose's instances, `<prefix><n>`: their names are taken."""
    found = client.containers.list(all=True, filters={"name": prefix})
    return [c for c in found if c.name.startswith(prefix) and c.name[len(prefix) :].isdigit()]


def plain_names(
    client: DockerClient, project: str, target: str, mine: list[Container], indexes: list[int]
) -> dict[int, str]:
    """Compose's `<project>_<target>_<n>` for new instances at `indexes`, numbered past
    every instance of the target still there (flowgate's or docker-compose's), so the
    new ones start beside the old ones."""
    prefix = f"{project}_{target}_"
    taken = {c.name for c in mine} | {c.name for c in compose_named(client, prefix)}
    free = (n for n in range(1, len(taken) + len(indexes) + 2) if f"{prefix}{n}" not in taken)
    return {i: f"{prefix}{next(free)}" for i in indexes}


def published_port(containers: list[Container]) -> str | None:
    """The lowest container port docker-compose published (it set no flowgate label)."""
    for container in containers:
        ports = container.attrs.get("NetworkSettings", {}).get("Ports") or {}
        published = sorted(port for port, bindings in ports.items() if bindings)
        if published:
            return str(published[0])
    return None
