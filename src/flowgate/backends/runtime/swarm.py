"""The `swarm` runtime: each color of a target is one Swarm-mode service.

`<project>_<target>-<color>` runs `count` replicas (one task per instance) on the project's
attachable overlay network `<project>_default`, where side targets run as services
`<project>_<side>` reachable by their Compose name. Ports are published in host mode, so
the proxy reaches every task at its node's address and its own host port.

Stopping a color scales its service to 0 and records the replica count in a label: the
service keeps its image and settings, so `start` (a rollback) brings back exactly that
release. Services are found by their `io.flowgate.*` labels, never by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, ClassVar

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Runtime
from flowgate.backends.runtime import swarm_tasks as tasks
from flowgate.backends.runtime.docker_engine import STOP_TIMEOUT, EngineConnection, parallel
from flowgate.backends.runtime.docker_health import last_health_log
from flowgate.backends.runtime.docker_setup import ensure_image, image_name
from flowgate.backends.runtime.swarm_spec import (
    ensure_overlay_networks,
    network_attachments,
    service_options,
)
from flowgate.config.keys import Key
from flowgate.errors import BackendUnreachable, ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.services import Service

    from flowgate.config.compose import ServiceSpec

LABEL = "io.flowgate."
STOPPED_REPLICAS = f"{LABEL}replicas"  # set while a color is stopped (scaled to 0)
STOP_WAIT = 20.0  # seconds beyond stop_timeout a stopped color's tasks may take to end


class SwarmRuntime(EngineConnection, Runtime):
    """Runs each color as a replicated Swarm-mode service; a task is an instance."""

    name = "swarm"
    config_keys: ClassVar[tuple[Key, ...]] = (STOP_TIMEOUT,)

    # -- connection ------------------------------------------------------------------------

    def _not_manager(self, detail: str) -> BackendUnreachable:
        return BackendUnreachable(
            f"the Docker engine at {self.url} {detail}; runtime swarm needs a swarm manager: "
            "run `docker swarm init` there, or point host/DOCKER_HOST at a manager"
        )

    def check(self) -> None:
        with self._pinged() as client:
            swarm = client.info().get("Swarm") or {}
        state = swarm.get("LocalNodeState") or "inactive"
        if state != "active":
            raise self._not_manager(f"is not in a swarm (swarm state: {state})")
        if not swarm.get("ControlAvailable"):
            raise self._not_manager("is a swarm worker, not a manager")

    @contextmanager
    def _swarm_errors(self, action: str) -> Iterator[None]:
        """Like `_errors`, but the engine's 503 "not a swarm manager" is unreachable."""
        import docker

        try:
            with self._errors(action):
                yield
        except ReleaseFailed as err:
            cause = err.__cause__
            if isinstance(cause, docker.errors.APIError) and cause.status_code == 503:
                raise self._not_manager(f"refused: {cause.explanation}") from cause
            raise

    # -- finding services and tasks ----------------------------------------------------------

    def _services(self, **labels: str) -> list[Service]:
        filters = {"label": [f"{LABEL}{key}={value}" for key, value in labels.items()]}
        return list(self.client.services.list(filters=filters))

    def _color(self, project: str, target: str, color: Color) -> Service | None:
        found = self._services(project=project, target=target, color=str(color))
        return found[0] if found else None

    def _tasks(self, service: Service) -> list[tasks.Task]:
        return list(self.client.api.tasks(filters={"service": service.id}))

    def _node_addresses(self) -> dict[str, str]:
        """Where each node's published ports are reached from here."""
        from urllib.parse import urlparse

        url = urlparse(self.url)
        remote = url.hostname if url.scheme in ("tcp", "http", "https") else None
        fallback = remote or "127.0.0.1"
        found = {}
        for node in self.client.api.nodes():
            address = str((node.get("Status") or {}).get("Addr") or "")
            found[node["ID"]] = fallback if address in tasks.UNUSABLE_ADDRESSES else address
        return found

    def _view(self, service: Service, color: Color | None) -> tasks.TaskView:
        spec = service.attrs["Spec"]
        container = spec["TaskTemplate"]["ContainerSpec"]
        labels = spec.get("Labels") or {}
        check = (container.get("Healthcheck") or {}).get("Test") or []
        return tasks.TaskView(
            service=service.name or "",
            color=color,
            port=labels.get(f"{LABEL}port") or None,
            has_healthcheck=(
                check != ["NONE"]
                and (bool(check) or self._image_has_healthcheck(container.get("Image", "")))
            ),
            node_addresses=self._node_addresses(),
        )

    def _image_has_healthcheck(self, image: str) -> bool:
        """An image's own HEALTHCHECK counts too (swarm waits for it just the same)."""
        import docker

        try:
            config = self.client.images.get(image.split("@")[0]).attrs.get("Config") or {}
        except docker.errors.DockerException:
            return False  # not on this node: fall back to probing the port
        test = (config.get("Healthcheck") or {}).get("Test") or []
        return bool(test) and test != ["NONE"]

    def _update(self, service: Service, replicas: int, labels: dict[str, str]) -> None:
        """Change only the replica count and the labels, sending the spec back as read.

        The task template must compare equal to the one the running tasks have, or swarm
        replaces every task (a rolling restart on a mere scale). Two things break that: the
        SDK's `Service.update` rebuilds the container spec, and the engine reports an unset
        runtime as "container" but stores a sent "container" as set; so the template goes
        back verbatim, minus that one default.
        """
        from docker.types import ServiceMode

        service.reload()
        spec = service.attrs["Spec"]
        template = dict(spec["TaskTemplate"])
        if template.get("Runtime") == "container":
            del template["Runtime"]
        self.client.api.update_service(
            service.id,
            service.version,
            task_template=template,
            name=spec["Name"],
            labels=labels,
            mode=ServiceMode("replicated", replicas=replicas),
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
            fetch_current_spec=False,
        )
        service.reload()

    @staticmethod
    def _replicas(service: Service) -> int:
        mode = service.attrs["Spec"].get("Mode") or {}
        return int((mode.get("Replicated") or {}).get("Replicas") or 0)

    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        with self._swarm_errors(f"listing {target}-{color}"):
            service = self._color(project, target, color)
            if service is None:
                return []
            labels = service.attrs["Spec"].get("Labels") or {}
            if self._replicas(service) == 0:
                # Stopped: the slots that `start` brings back, none of them running.
                kept = int(labels.get(STOPPED_REPLICAS) or 0)
                return [
                    Instance(f"{service.name}.{slot}", "", "shutdown", False, color)
                    for slot in range(1, kept + 1)
                ]
            view = self._view(service, color)
            wanted = [t for t in self._tasks(service) if t.get("DesiredState") == "running"]
            wanted.sort(key=lambda t: int(t.get("Slot") or 0))
            healthy = parallel(view.healthy, wanted)
            return [view.instance(t, ok) for t, ok in zip(wanted, healthy, strict=True)]

    # -- waiting -----------------------------------------------------------------------------

    def _describe(self, task: tasks.Task) -> str:
        status = task.get("Status", {})
        text = f"task {tasks.task_state(task)}: {status.get('Err') or status.get('Message')}"
        cid = tasks.container_id(task)
        if cid:
            with suppress(Exception):  # the health log only decorates the message
                container = self.client.containers.get(cid)
                if container.attrs.get("State", {}).get("Health"):
                    text += f"; last health log: {last_health_log(container)}"
        return text

    def _wait(
        self, service: Service, color: Color, replicas: int, known: set[str], timeout: float
    ) -> None:
        service.reload()
        tasks.wait_converged(
            lambda: self._tasks(service),
            self._view(service, color),
            replicas,
            known,
            timeout,
            self._describe,
        )

    def _wait_stopped(self, service: Service) -> None:
        import time

        deadline = time.monotonic() + float(self.settings.get("stop_timeout", 10.0)) + STOP_WAIT
        live_states = ("assigned", "accepted", "preparing", "ready", "starting", "running")
        while time.monotonic() < deadline:
            if not any(tasks.task_state(t) in live_states for t in self._tasks(service)):
                return
            time.sleep(tasks.POLL_INTERVAL)
        raise ReleaseFailed(f"{service.name}: tasks still running after it was scaled to 0")

    # -- the color lifecycle ---------------------------------------------------------------

    def _image(self, project: str, service: ServiceSpec, pull: bool) -> str:
        """A `build` is built on this engine; any other image is the nodes' business (a
        task that cannot find it fails with "No such image", which ends the wait at once)."""
        if service.build is not None or pull:
            return ensure_image(self.client, project, service, pull=pull)
        return image_name(project, service)

    def _create(
        self,
        name: str,
        image: str,
        project: str,
        service: ServiceSpec,
        labels: dict[str, str],
        environment: dict[str, str],
        replicas: int,
    ) -> Service:
        from docker.types import ServiceMode

        networks = ensure_overlay_networks(self.client, project, service)
        options = service_options(
            project,
            self.settings.project_dir,
            service,
            environment,
            float(self.settings.get("stop_timeout", 10.0)),
        )
        return self.client.services.create(
            image,
            name=name,
            labels=labels,
            container_labels={**service.labels, **labels},
            mode=ServiceMode("replicated", replicas=replicas),
            networks=network_attachments(networks, service.name),
            **options,
        )

    def deploy(self, spec: DeploySpec) -> list[Instance]:
        with self._swarm_errors(f"deploying {spec.target}-{spec.color}"):
            image = self._image(spec.project, spec.service, pull=False)
            self.remove(spec.project, spec.target, spec.color)
            labels = {
                f"{LABEL}project": spec.project,
                f"{LABEL}target": spec.target,
                f"{LABEL}color": str(spec.color),
                f"{LABEL}release": spec.release_id,
                f"{LABEL}port": spec.service.main_port or "",
            }
            environment = {"FLOWGATE_COLOR": str(spec.color), "FLOWGATE_RELEASE": spec.release_id}
            name = f"{spec.project}_{spec.target}-{spec.color}"
            created = self._create(
                name, image, spec.project, spec.service, labels, environment, spec.count
            )
            try:
                self._wait(created, spec.color, spec.count, set(), spec.health_timeout)
            except ReleaseFailed as err:
                with suppress(Exception):
                    created.remove()
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
            except BaseException:
                with suppress(Exception):
                    created.remove()
                raise
        return self.instances(spec.project, spec.target, spec.color)

    def _set_replicas(self, spec: DeploySpec, replicas: int, action: str) -> list[Instance]:
        """Update the color's service to `replicas` running tasks and wait for them."""

        with self._swarm_errors(f"{action} {spec.target}-{spec.color}"):
            service = self._color(spec.project, spec.target, spec.color)
            if service is None:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to {action}; deploy it instead"
                )
            labels = dict(service.attrs["Spec"].get("Labels") or {})
            kept = int(labels.pop(STOPPED_REPLICAS, 0) or 0)
            count = replicas or kept or spec.count
            known = {str(t.get("ID")) for t in self._tasks(service)}
            self._update(service, count, labels)
            try:
                self._wait(service, spec.color, count, known, spec.health_timeout)
            except ReleaseFailed as err:
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
        return self.instances(spec.project, spec.target, spec.color)

    def scale(self, spec: DeploySpec) -> list[Instance]:
        return self._set_replicas(spec, spec.count, "scale")

    def start(self, spec: DeploySpec) -> list[Instance]:
        return self._set_replicas(spec, 0, "start")

    def stop(self, project: str, target: str, color: Color) -> None:

        with self._swarm_errors(f"stopping {target}-{color}"):
            service = self._color(project, target, color)
            if service is None:
                return
            replicas = self._replicas(service)
            if replicas > 0:
                labels = {**(service.attrs["Spec"].get("Labels") or {})}
                labels[STOPPED_REPLICAS] = str(replicas)
                self._update(service, 0, labels)
            self._wait_stopped(service)

    def remove(self, project: str, target: str, color: Color) -> None:
        import docker

        with self._swarm_errors(f"removing {target}-{color}"):
            for service in self._services(project=project, target=target, color=str(color)):
                with suppress(docker.errors.NotFound):
                    service.remove()

    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:

        with self._swarm_errors(f"starting side target {service.name}"):
            found = self._services(project=project, **{"side-target": service.name})
            if found:
                existing = found[0]
                if self._replicas(existing) == 0:  # someone stopped it: bring it back
                    labels = dict(existing.attrs["Spec"].get("Labels") or {})
                    self._update(existing, service.replicas or 1, labels)
                return
            labels = {f"{LABEL}project": project, f"{LABEL}side-target": service.name}
            image = self._image(project, service, pull)
            name = f"{project}_{service.name}"
            self._create(name, image, project, service, labels, {}, service.replicas or 1)


@hookimpl
def flowgate_backends() -> list[type[Runtime]]:
    return [SwarmRuntime]
