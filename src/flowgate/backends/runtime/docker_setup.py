"""What must exist before the docker runtime can start a container: its image, its
networks and its options, kept apart so docker.py stays small.

Image resolution is shared by the target and its side targets: an image present locally is
used as is, a service with `build` is built when its image is missing, anything else is
pulled. A missing image fails the release before any container exists.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowgate.backends.docker_sdk import docker_reason
from flowgate.backends.runtime.docker_options import create_options
from flowgate.errors import ReleaseFailed

if TYPE_CHECKING:
    from docker import DockerClient

    from flowgate.config.compose import Healthcheck, ServiceSpec

log = logging.getLogger(__name__)

NANOSECONDS = 1_000_000_000


def image_name(project: str, service: ServiceSpec) -> str:
    """The service's image, or Compose's `<project>_<service>` for a build without one."""
    return service.image or f"{project}_{service.name}"


def _present(client: DockerClient, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _pull(client: DockerClient, name: str) -> None:
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(name)
    client.images.pull(repository, tag=tag or "latest")


def _build(client: DockerClient, name: str, service: ServiceSpec) -> None:
    import docker.errors

    assert service.build is not None
    build = service.build
    where = f"building image {name} from {build.context} failed"
    try:
        client.images.build(
            path=str(build.context),
            dockerfile=build.dockerfile,
            tag=name,
            buildargs=dict(build.args) or None,
            rm=True,
            forcerm=True,  # a failed step's container too, or each failed build leaks one
        )
    except docker.errors.BuildError as err:
        raise ReleaseFailed(f"{where}: {err.msg}") from err
    except (docker.errors.APIError, TypeError) as err:
        # docker-py raises TypeError for a context folder that does not exist.
        raise ReleaseFailed(f"{where}: {err}") from err


def ensure_image(client: DockerClient, project: str, service: ServiceSpec, pull: bool) -> str:
    """Make the service's image available locally and return its name.

    `pull=True` refreshes it from its registry first; a failed pull is then only an error
    when the image is absent.
    """
    import docker.errors

    name = image_name(project, service)
    if pull and service.build is None:
        # A moving tag (`:latest`) must not silently reuse a stale local image; with no
        # registry reachable, the local image is used and the user is told so.
        try:
            _pull(client, name)
            return name
        except docker.errors.APIError as err:
            if not _present(client, name):
                raise ReleaseFailed(
                    f"image {name} could not be pulled and is not here: {docker_reason(err)}"
                ) from err
            log.warning("could not pull %s (%s): using the local image", name, docker_reason(err))
            return name
    if _present(client, name):
        return name
    if service.build is not None:
        _build(client, name, service)
        return name
    try:
        _pull(client, name)
    except docker.errors.APIError as err:
        raise ReleaseFailed(
            f"image {name} not found locally and could not be pulled: {docker_reason(err)}"
        ) from err
    return name


def healthcheck_options(check: Healthcheck | None, disabled: bool) -> dict[str, Any] | None:
    """Compose's healthcheck (seconds) in the Engine API's terms (nanoseconds)."""
    if disabled:
        return {"test": ["NONE"]}
    if check is None:
        return None
    return {
        "test": list(check.test),
        "interval": int(check.interval * NANOSECONDS),
        "timeout": int(check.timeout * NANOSECONDS),
        "retries": check.retries,
        "start_period": int(check.start_period * NANOSECONDS),
    }


def volume_options(
    project: str, project_dir: Path, volumes: list[str]
) -> tuple[list[str], list[Any]]:
    """Compose's `src:dst[:mode]` as binds, and a bare `dst` as an anonymous volume mount.

    A path source (`.`, `/`, `~`) is resolved against the project folder; a name is a named
    volume, prefixed with the project like Compose does.
    """
    from docker.types import Mount

    binds: list[str] = []
    mounts: list[Any] = []
    for volume in volumes:
        parts = volume.split(":")
        if len(parts) == 1:
            mounts.append(Mount(target=parts[0], source=None, type="volume"))
            continue
        source, rest = parts[0], parts[1:]
        if source.startswith(("/", ".", "~")):
            path = Path(source).expanduser()
            source = str(path if path.is_absolute() else (project_dir / path).resolve())
        else:
            source = f"{project}_{source}"
        binds.append(":".join([source, *rest]))
    return binds, mounts


def container_options(
    project: str, project_dir: Path, service: ServiceSpec, publish_address: str
) -> dict[str, Any]:
    """Keyword arguments for `containers.create` that come from the Compose service."""
    binds, mounts = volume_options(project, project_dir, service.volumes)
    options: dict[str, Any] = {
        "environment": dict(service.environment),
        "ports": {port: (publish_address, None) for port in service.ports},
        "restart_policy": {"Name": "no"},
    }
    if service.command is not None:
        options["command"] = list(service.command)
    if service.entrypoint is not None:
        options["entrypoint"] = list(service.entrypoint)
    if binds:
        options["volumes"] = binds
    if mounts:
        options["mounts"] = mounts
    health = healthcheck_options(service.healthcheck, service.healthcheck_disabled)
    if health is not None:
        options["healthcheck"] = health
    options.update(create_options(service.name, service.options))
    return options


def ensure_networks(client: DockerClient, project: str, service: ServiceSpec) -> list[str]:
    """Create (if missing) the Compose-style project networks the service joins.

    Every container joins `<project>_default`, where the target reaches its side targets by
    service name, plus `<project>_<name>` for each network the service lists.
    """
    import docker.errors

    names = [f"{project}_default"]
    names += [f"{project}_{n}" for n in service.networks if f"{project}_{n}" not in names]
    for name in names:
        try:
            client.networks.get(name)
        except docker.errors.NotFound:
            try:
                client.networks.create(
                    name, driver="bridge", labels={"io.flowgate.project": project}
                )
            except docker.errors.APIError as err:
                if err.status_code != 409:  # 409: created meanwhile by someone else
                    raise
    return names
