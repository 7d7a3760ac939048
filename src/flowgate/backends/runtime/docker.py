"""The `docker` runtime: one container per instance on a Docker Engine (or classic Swarm).

Containers are found by their `io.flowgate.*` labels, never by name, so a renamed or
half-created container is still cleaned up. Instances of a color start, stop and are
removed in parallel; a deploy returns only once all of them are healthy and otherwise
removes what it started, never touching the other color.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, ClassVar

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Runtime
from flowgate.backends.runtime import docker_health as health
from flowgate.backends.runtime.docker_compose_names import (
    NUMBER,
    compose_labels,
    compose_service,
    plain_names,
    published_port,
)
from flowgate.backends.runtime.docker_engine import STOP_TIMEOUT, EngineConnection, parallel
from flowgate.backends.runtime.docker_options import SUPPORTED
from flowgate.backends.runtime.docker_read import EngineReader
from flowgate.backends.runtime.docker_setup import (
    container_options,
    ensure_image,
    ensure_networks,
)
from flowgate.config.keys import Key
from flowgate.errors import ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.containers import Container

    from flowgate.config.compose import ServiceSpec

LABEL = "io.flowgate."


class DockerRuntime(EngineConnection, Runtime):
    """Runs each instance as a container named `<project>_<target>-<color>_<n>`."""

    name = "docker"
    config_keys: ClassVar[tuple[Key, ...]] = (STOP_TIMEOUT,)
    supported_service_options = frozenset(SUPPORTED)

    _use_init: bool | None = None
    _init_binary: str = "docker-init"

    # -- connection ------------------------------------------------------------------------

    def check(self) -> None:
        reader = EngineReader.for_url(self.url)
        if reader is None:
            with self._pinged():
                pass
            return
        try:
            reader.ping()
        except OSError as err:
            raise self._cannot_reach(err) from err

    # -- finding containers ----------------------------------------------------------------

    def _find(self, labels: dict[str, str]) -> list[Container]:
        import docker

        filters = {"label": [f"{LABEL}{key}={value}" for key, value in labels.items()]}
        found = []
        for summary in self.client.api.containers(all=True, filters=filters):
            try:
                found.append(self.client.containers.get(summary["Id"]))
            except docker.errors.NotFound:
                continue  # removed between the listing and the inspect
        return found

    def _by_name(self, name: str) -> Container | None:
        import docker

        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def _color(self, project: str, target: str, color: Color) -> list[Container]:
        found = self._find({"project": project, "target": target, "color": str(color)})
        if not found:  # what docker-compose ran for Docker Flow, until flowgate replaces it
            return compose_service(self.client, project, f"{target}-{color}")
        return sorted(found, key=lambda c: int(c.labels.get(f"{LABEL}index", "0") or 0))

    @property
    def address(self) -> str:
        """Where published ports are reached from here."""
        address = self.settings.publish_address
        if address in ("0.0.0.0", "::", ""):
            from urllib.parse import urlparse

            url = urlparse(self.url)
            remote = url.scheme in ("tcp", "http", "https") and url.hostname
            return url.hostname if remote and url.hostname else "127.0.0.1"
        return address

    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        reader = EngineReader.for_url(self.url)
        if reader is None:
            with self._errors(f"listing {target}-{color}"):
                containers = self._color(project, target, color)
                return self._to_instances(containers)
        labels = {"project": project, "target": target, "color": str(color)}
        try:
            views = reader.containers([f"{LABEL}{key}={value}" for key, value in labels.items()])
            if not views:  # what docker-compose ran for Docker Flow (compose_service)
                views = reader.containers(compose_labels(project, f"{target}-{color}"))
        except OSError as err:
            raise self._cannot_reach(err) from err
        views.sort(key=lambda c: int(c.labels.get(f"{LABEL}index") or c.labels.get(NUMBER) or 0))
        return self._to_instances(views)  # type: ignore[arg-type,unused-ignore]

    def _to_instances(self, containers: list[Container]) -> list[Instance]:
        port = self._main_port(containers)
        return parallel(lambda c: health.to_instance(c, port, self.address), containers)

    @staticmethod
    def _main_port(containers: list[Container]) -> str | None:
        """The main port recorded on the containers (the service spec is not passed here)."""
        for container in containers:
            port = container.labels.get(f"{LABEL}port")
            if port is not None:
                return port or None
        return published_port(containers)  # docker-compose's, from Docker Flow's time

    # -- networks and containers -----------------------------------------------------------

    def _supports_init(self) -> bool:
        """Docker's --init (tini as PID 1 forwards SIGTERM), only if the engine ships it."""
        if self._use_init is None:
            self._init_binary = str(self.client.info().get("InitBinary") or "")
            self._use_init = bool(self._init_binary)
        return self._use_init

    def _run(
        self,
        name: str,
        image: str,
        service: ServiceSpec,
        labels: dict[str, str],
        networks: list[str],
    ) -> Container:
        import docker

        publish = self.settings.publish_address
        options = container_options(
            labels[f"{LABEL}project"], self.settings.project_dir, service, publish
        )
        # A colored container knows its color and release (services may report them).
        for label, variable in (("color", "FLOWGATE_COLOR"), ("release", "FLOWGATE_RELEASE")):
            if f"{LABEL}{label}" in labels:
                options["environment"][variable] = labels[f"{LABEL}{label}"]
        # The SDK has no stop_timeout: Compose's stop_grace_period is kept as a label.
        grace = options.pop("stop_timeout", None)
        if grace is not None:
            labels = {**labels, f"{LABEL}stop-timeout": str(grace)}
        aliases = [service.name]
        endpoint = self.client.api.create_endpoint_config(aliases=aliases)
        container = self.client.containers.create(
            image,
            name=name,
            labels={**service.labels, **labels},
            init=options.pop("init", self._supports_init() or None),
            network=networks[0],
            networking_config={networks[0]: endpoint},
            **options,
        )
        for network in networks[1:]:
            self.client.networks.get(network).connect(container, aliases=aliases)
        try:
            container.start()
        except docker.errors.APIError as err:
            if not self._use_init or self._init_binary not in str(err):
                raise
            container.remove(force=True)  # the engine advertised an init it cannot run
            self._use_init = False
            return self._run(name, image, service, labels, networks)
        return container

    def _grace(self, container: Container) -> int:
        return int(container.labels.get(f"{LABEL}stop-timeout") or self._stop_timeout())

    def _stop_timeout(self) -> int:
        return math.ceil(self.settings.stop_timeout)

    @staticmethod
    def _remove_all(containers: Iterable[Container]) -> None:
        import docker

        def remove(container: Container) -> None:
            with suppress(docker.errors.NotFound):
                container.remove(force=True)

        parallel(remove, containers)

    # -- the color lifecycle ---------------------------------------------------------------

    def _start_indexes(
        self, spec: DeploySpec, indexes: list[int], like: Container | None = None
    ) -> list[Container]:
        """Start new instances at `indexes` in parallel and wait until all are healthy;
        on failure remove exactly those and raise ReleaseFailed. With `like`, they join
        that instance's release: its image and release id, not the Compose file's now."""
        if like is None:
            image = ensure_image(self.client, spec.project, spec.service, pull=False)
            release = spec.release_id
        else:
            image = self._image_of(like)
            release = like.labels.get(f"{LABEL}release") or spec.release_id
        self._supports_init()  # asked once here, not by every thread
        networks = ensure_networks(self.client, spec.project, spec.service)
        base = {
            f"{LABEL}project": spec.project,
            f"{LABEL}target": spec.target,
            f"{LABEL}color": str(spec.color),
            f"{LABEL}release": release,
            f"{LABEL}port": spec.service.main_port or "",
        }

        names = self._names(spec, indexes)

        def run(index: int) -> Container:
            labels = {**base, f"{LABEL}index": str(index)}
            return self._run(names[index], image, spec.service, labels, networks)

        try:
            started = parallel(run, indexes)
            health.wait_healthy(started, spec.service.main_port, self.address, spec.health_timeout)
        except BaseException:
            mine = {str(i) for i in indexes}
            self._remove_all(
                c
                for c in self._color(spec.project, spec.target, spec.color)
                if c.labels.get(f"{LABEL}index") in mine
            )
            raise
        return started

    def _names(self, spec: DeploySpec, indexes: list[int]) -> dict[int, str]:
        """`<project>_<target>-<color>_<n>`; with `color_names: false` (Docker Flow without
        blue-green) Compose's `<project>_<target>_<n>` (see plain_names)."""
        if self.settings.get("color_names", True):
            return {i: f"{spec.project}_{spec.target}-{spec.color}_{i}" for i in indexes}
        mine = self._find({"project": spec.project, "target": spec.target})
        return plain_names(self.client, spec.project, spec.target, mine, indexes)

    def _image_of(self, container: Container) -> str:
        """The image an instance runs: its tag while the tag still names those bits."""
        import docker

        tag, image_id = container.attrs["Config"]["Image"], container.attrs["Image"]
        with suppress(docker.errors.ImageNotFound):
            if self.client.images.get(tag).id == image_id:
                return str(tag)
        return str(image_id)

    def deploy(self, spec: DeploySpec) -> list[Instance]:
        with self._errors(f"deploying {spec.target}-{spec.color}"):
            pull = bool(self.settings.get("pull"))  # `flow`, like Docker Flow's deploy
            ensure_image(self.client, spec.project, spec.service, pull=pull)
            self._remove_all(self._color(spec.project, spec.target, spec.color))
            self._start_indexes(spec, list(range(1, spec.count + 1)))
        return self.instances(spec.project, spec.target, spec.color)

    def scale(self, spec: DeploySpec) -> list[Instance]:
        with self._errors(f"scaling {spec.target}-{spec.color} to {spec.count}"):
            existing = self._color(spec.project, spec.target, spec.color)
            if len(existing) > spec.count:
                self._remove_all(existing[spec.count :])
            elif len(existing) < spec.count:
                used = {int(c.labels.get(f"{LABEL}index", "0") or 0) for c in existing}
                free = (i for i in range(1, spec.count + len(used) + 1) if i not in used)
                missing = [next(free) for _ in range(spec.count - len(existing))]
                # Scaling adds instances of the release the color runs, even when the
                # Compose file names a newer image since (a rolled-back color, a CI env).
                self._start_indexes(spec, missing, like=existing[0] if existing else None)
        return self.instances(spec.project, spec.target, spec.color)

    def start(self, spec: DeploySpec) -> list[Instance]:
        with self._errors(f"starting {spec.target}-{spec.color}"):
            existing = self._color(spec.project, spec.target, spec.color)
            if not existing:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to start; deploy it instead"
                )
            parallel(lambda c: c.start() if c.status != "running" else None, existing)
            port = self._main_port(existing) or spec.service.main_port
            health.wait_healthy(existing, port, self.address, spec.health_timeout)
        return self.instances(spec.project, spec.target, spec.color)

    def stop(self, project: str, target: str, color: Color) -> None:
        with self._errors(f"stopping {target}-{color}"):
            running = [c for c in self._color(project, target, color) if c.status == "running"]
            # A Compose `stop_grace_period` (kept as a label) wins over stop_timeout.
            parallel(lambda c: c.stop(timeout=self._grace(c)), running)

    def remove(self, project: str, target: str, color: Color) -> None:
        with self._errors(f"removing {target}-{color}"):
            self._remove_all(self._color(project, target, color))

    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:
        with self._errors(f"starting side target {service.name}"):
            name = service.container_name or f"{project}_{service.name}_1"
            found = self._find({"project": project, "side-target": service.name})
            existing = found[0] if found else self._by_name(name)
            if existing is not None:  # ours, or one docker-compose (Docker Flow) started
                if existing.status != "running":
                    existing.start()
                return
            image = ensure_image(self.client, project, service, pull=pull)
            labels = {f"{LABEL}project": project, f"{LABEL}side-target": service.name}
            self._run(name, image, service, labels, ensure_networks(self.client, project, service))

    def teardown(self, project: str, side_targets: list[str]) -> None:
        """Side targets flowgate started (labelled; never one docker-compose started), then
        the project's networks when no container of the project is left on them."""
        with self._errors("removing side targets and networks"):
            for side in side_targets:
                self._remove_all(self._find({"project": project, "side-target": side}))
            if self._find({"project": project}):
                return  # another target of the project still runs there
            label = f"{LABEL}project={project}"
            for network in self.client.networks.list(filters={"label": label}):
                network.remove()


@hookimpl
def flowgate_backends() -> list[type[Runtime]]:
    return [DockerRuntime]
