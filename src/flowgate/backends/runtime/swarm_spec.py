"""A Compose service as Swarm-mode service options, and the overlay networks it joins.

Kept apart from swarm.py so the runtime itself is only the color lifecycle. Ports are
published in `host` mode with no fixed published port: every task gets its own host port
on its node, which is how the proxy reaches each instance (the ingress routing mesh would
hide the instances behind one port, and does not answer on every machine).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowgate.backends.runtime.docker_setup import healthcheck_options, volume_options
from flowgate.backends.runtime.swarm_deploy import NANOSECONDS, deploy_options
from flowgate.errors import ReleaseFailed

if TYPE_CHECKING:
    from docker import DockerClient

    from flowgate.config.compose import ServiceSpec


def published_ports(service: ServiceSpec) -> list[dict[str, Any]]:
    """Each container port, published in host mode on a port the node picks."""
    ports = []
    for port in service.ports:
        number, _, protocol = port.partition("/")
        ports.append(
            {"TargetPort": int(number), "Protocol": protocol or "tcp", "PublishMode": "host"}
        )
    return ports


def service_options(
    project: str,
    project_dir: Path,
    service: ServiceSpec,
    environment: dict[str, str],
    stop_timeout: float,
) -> dict[str, Any]:
    """Keyword arguments for `services.create` that come from the Compose service
    (its `deploy` section included; a key that cannot be honoured raises ConfigError).
    The `deploy.labels` come back under "labels", for the caller to merge with its own."""
    from docker.types import EndpointSpec, Healthcheck

    options = deploy_options(service)
    binds, mounts = volume_options(project, project_dir, service.volumes)
    mode = options.pop("endpoint_mode")
    options.update(
        {
            "env": [f"{k}={v}" for k, v in {**service.environment, **environment}.items()],
            "endpoint_spec": EndpointSpec(mode=mode, ports=published_ports(service)),
            "stop_grace_period": int(math.ceil(stop_timeout) * NANOSECONDS),
            "init": True,  # tini as PID 1 forwards SIGTERM (busybox httpd ignores it)
        }
    )
    # Swarm's Command is the entrypoint and Args the image's CMD, unlike `docker run`.
    if service.entrypoint is not None:
        options["command"] = list(service.entrypoint)
        options["args"] = list(service.command or [])
    elif service.command is not None:
        options["args"] = list(service.command)
    if binds or mounts:
        options["mounts"] = [*binds, *mounts]
    health = healthcheck_options(service.healthcheck, service.healthcheck_disabled)
    if health is not None:
        options["healthcheck"] = Healthcheck(**health)
    if service.placement:
        options["constraints"] = list(service.placement)
    return options


def network_names(project: str, service: ServiceSpec) -> list[str]:
    names = [f"{project}_default"]
    return names + [f"{project}_{n}" for n in service.networks if f"{project}_{n}" not in names]


def ensure_overlay_networks(client: DockerClient, project: str, service: ServiceSpec) -> list[str]:
    """Create (if missing) the project's attachable overlay networks the service joins.

    A same-named network of another scope (a bridge left by the `docker` runtime) cannot
    carry swarm services, so it is reported rather than silently shadowed.
    """
    import docker.errors

    names = network_names(project, service)
    for name in names:
        try:
            network = client.networks.get(name)
        except docker.errors.NotFound:
            try:
                client.networks.create(
                    name,
                    driver="overlay",
                    attachable=True,
                    scope="swarm",
                    labels={"io.flowgate.project": project},
                )
            except docker.errors.APIError as err:
                if err.status_code != 409:  # 409: created meanwhile by someone else
                    raise
            continue
        scope = network.attrs.get("Scope")
        if scope != "swarm":
            raise ReleaseFailed(
                f"network {name} exists with scope {scope!r} (left by the docker runtime?); "
                f"swarm services need an overlay network: remove it with `docker network rm "
                f"{name}`"
            )
    return names


def network_attachments(names: list[str], alias: str) -> list[Any]:
    """Join every network under the Compose service name, so `db` resolves as in Compose."""
    from docker.types import NetworkAttachmentConfig

    return [NetworkAttachmentConfig(target=name, aliases=[alias]) for name in names]


def remove_network(network: Any, deadline: float) -> None:
    """Remove a network, asking again until `deadline` (time.monotonic()) while the engine
    refuses because removed services' tasks are still attached; one already gone is fine."""
    import time

    import docker.errors

    while True:
        try:
            network.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
