"""The `swarm` runtime: each instance of a color is its own one-task Swarm-mode service.

Instance N of a color is the service `<project>_<target>-<color>-<N>` (label
`io.flowgate.slot=N`, one replica), known to the proxy and `status` as
`<project>_<target>-<color>.<N>`. One service per instance, rather than one service with N
replicas, is what lets flowgate decide which instances a scale-down removes: Swarm picks
the tasks to drop from a replicated service itself, so the proxy could still be sending
requests to the one it takes. Here the engine takes the highest slots out of the proxy
and this runtime removes exactly those services. Swarm still places every task (the
Compose `deploy` settings as constraints, resources, restart policy) and replaces a task
whose node is lost.

Services run on the project's attachable overlay network `<project>_default`, where side
targets run as ordinary services `<project>_<side>` reachable by their Compose name. Ports
are published in host mode, so the proxy reaches every task at its node's address and its
own host port. Stopping a color scales its services to 0: they keep their image and
settings, so `start` (a rollback) brings back exactly that release at its scale. Services
are found by their `io.flowgate.*` labels, never by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Runtime
from flowgate.backends.runtime import swarm_tasks as tasks
from flowgate.backends.runtime.docker_engine import STOP_TIMEOUT, EngineConnection, parallel
from flowgate.backends.runtime.docker_health import last_health_log
from flowgate.backends.runtime.docker_setup import ensure_image, image_name
from flowgate.backends.runtime.swarm_spec import (
    ensure_overlay_networks,
    network_attachments,
    network_names,
    service_options,
)
from flowgate.backends.runtime.swarm_tasks import Node
from flowgate.config.keys import Key
from flowgate.errors import BackendUnreachable, ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.services import Service

    from flowgate.config.compose import ServiceSpec

LABEL = "io.flowgate."
SLOT = f"{LABEL}slot"
STOP_WAIT = 20.0  # seconds beyond stop_timeout a stopped color's tasks may take to end
LIVE_STATES = ("assigned", "accepted", "preparing", "ready", "starting", "running")


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

    def _slots(self, project: str, target: str, color: Color) -> list[Service]:
        """The color's instance services, by slot."""
        found = self._services(project=project, target=target, color=str(color))
        return sorted(found, key=slot_of)

    def _tasks(self, service: Service) -> list[tasks.Task]:
        return list(self.client.api.tasks(filters={"service": service.id}))

    def _nodes(self) -> dict[str, Node]:
        """Every node: where its published ports are reached from here, and its state."""
        from urllib.parse import urlparse

        url = urlparse(self.url)
        remote = url.hostname if url.scheme in ("tcp", "http", "https") else None
        fallback = remote or "127.0.0.1"
        found = {}
        for node in self.client.api.nodes():
            status = node.get("Status") or {}
            address = str(status.get("Addr") or "")
            found[node["ID"]] = Node(
                address=fallback if address in tasks.UNUSABLE_ADDRESSES else address,
                state=str(status.get("State") or "unknown"),
                availability=str((node.get("Spec") or {}).get("Availability") or "active"),
            )
        return found

    def _view(
        self, service: Service, color: Color | None, nodes: dict[str, Node]
    ) -> tasks.TaskView:
        spec = service.attrs["Spec"]
        container = spec["TaskTemplate"]["ContainerSpec"]
        labels = spec.get("Labels") or {}
        check = (container.get("Healthcheck") or {}).get("Test") or []
        slot = slot_of(service)
        return tasks.TaskView(
            service=instance_base(service) if slot else service.name or "",
            color=color,
            port=labels.get(f"{LABEL}port") or None,
            has_healthcheck=(
                check != ["NONE"]
                and (bool(check) or self._image_has_healthcheck(container.get("Image", "")))
            ),
            nodes=nodes,
            slot=slot or None,
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

    def _set_replicas(self, service: Service, replicas: int) -> None:
        """Change only the replica count, sending the spec back as read.

        The task template must compare equal to the one the running tasks have, or swarm
        replaces every task. Two things break that: the SDK's `Service.update` rebuilds the
        container spec, and the engine reports an unset runtime as "container" but stores
        a sent "container" as set; so the template goes back verbatim, minus that default.
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
            labels=spec.get("Labels") or {},
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

    def _instance(self, service: Service, color: Color, nodes: dict[str, Node]) -> Instance:
        name = f"{instance_base(service)}.{slot_of(service)}"
        if self._replicas(service) == 0:  # stopped: `start` brings it back
            return Instance(name, "", "shutdown", False, color)
        task = tasks.current(self._tasks(service))
        if task is None:
            return Instance(name, "", "pending", False, color)
        return self._view(service, color, nodes).instance(task)

    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        with self._swarm_errors(f"listing {target}-{color}"):
            nodes = self._nodes()
            return parallel(
                lambda service: self._instance(service, color, nodes),
                self._slots(project, target, color),
            )

    def nodes(self, project: str, target: str) -> list[dict[str, Any]]:
        """Every node, and on a node that is down the target's instances whose task was
        there (still `running` as far as the manager knows: the node cannot report)."""
        with self._swarm_errors("listing the swarm's nodes"):
            nodes = self._nodes()
            lost: dict[str, list[str]] = {node_id: [] for node_id in nodes}
            if any(node.down for node in nodes.values()):
                for service in self._services(project=project, target=target):
                    name = f"{instance_base(service)}.{slot_of(service)}"
                    for task in self._tasks(service):
                        node = nodes.get(str(task.get("NodeID") or ""))
                        if node is not None and node.down and tasks.task_state(task) == "running":
                            lost[str(task["NodeID"])].append(name)
        return [
            {
                "node": node.address,
                "id": node_id[:12],
                "state": node.state,
                "availability": node.availability,
                "lost": sorted(set(lost[node_id])),
            }
            for node_id, node in sorted(nodes.items(), key=lambda item: item[1].address)
        ]

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
        self, service: Service, color: Color | None, replicas: int, known: set[str], timeout: float
    ) -> None:
        """Until the service's `replicas` tasks run healthy; a failed task that existed
        before this operation (`known`) does not end the wait."""
        service.reload()
        tasks.wait_converged(
            lambda: self._tasks(service),
            self._view(service, color, self._nodes()),
            replicas,
            known,
            timeout,
            self._describe,
        )

    def _wait_stopped(self, services: list[Service]) -> None:
        """Until no task of `services` runs; a task on a node that is down cannot say it
        stopped, and is not waited for (swarm shuts it down when the node comes back)."""
        import time

        timeout = float(self.settings.get("stop_timeout", 10.0)) + STOP_WAIT
        deadline = time.monotonic() + timeout
        for service in services:
            while True:
                nodes = self._nodes()
                alive = [
                    t
                    for t in self._tasks(service)
                    if tasks.task_state(t) in LIVE_STATES
                    and not (nodes.get(str(t.get("NodeID") or "")) or Node("")).down
                ]
                if not alive:
                    break
                if time.monotonic() > deadline:
                    raise ReleaseFailed(f"{service.name}: tasks still running after it was stopped")
                time.sleep(tasks.POLL_INTERVAL)

    # -- the color lifecycle ---------------------------------------------------------------

    def _image(self, project: str, service: ServiceSpec, pull: bool) -> str:
        """A `build` is built on this engine; any other image is the nodes' business (a
        task that cannot find it fails with "No such image", which ends the wait at once)."""
        if service.build is not None or pull:
            return ensure_image(self.client, project, service, pull=pull)
        return image_name(project, service)

    def _options(
        self, project: str, service: ServiceSpec, environment: dict[str, str]
    ) -> dict[str, Any]:
        """Service options from the Compose service; raises ConfigError (nothing created
        yet) for a `deploy` key the swarm runtime cannot honour."""
        return service_options(
            project,
            self.settings.project_dir,
            service,
            environment,
            float(self.settings.get("stop_timeout", 10.0)),
        )

    def _create(
        self,
        name: str,
        image: str,
        project: str,
        service: ServiceSpec,
        options: dict[str, Any],
        labels: dict[str, str],
        replicas: int,
    ) -> Service:
        """One service; the project's overlay networks must exist already (created once
        before instances are created in parallel, which would race to create them)."""
        from docker.types import ServiceMode

        networks = network_names(project, service)
        options = dict(options)
        own = options.pop("labels", {})
        return self.client.services.create(
            image,
            name=name,
            labels={**own, **labels},
            container_labels={**service.labels, **labels},
            mode=ServiceMode("replicated", replicas=replicas),
            networks=network_attachments(networks, service.name),
            **options,
        )

    def deploy(self, spec: DeploySpec) -> list[Instance]:
        environment = {"FLOWGATE_COLOR": str(spec.color), "FLOWGATE_RELEASE": spec.release_id}
        options = self._options(spec.project, spec.service, environment)
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
            base = f"{spec.project}_{spec.target}-{spec.color}"
            ensure_overlay_networks(self.client, spec.project, spec.service)
            created: list[Service] = []

            def create(slot: int) -> Service:
                made = self._create(
                    f"{base}-{slot}",
                    image,
                    spec.project,
                    spec.service,
                    options,
                    {**labels, SLOT: str(slot)},
                    1,
                )
                created.append(made)
                return made

            try:
                services = parallel(create, range(1, spec.count + 1))
                parallel(
                    lambda s: self._wait(s, spec.color, 1, set(), spec.health_timeout), services
                )
            except ReleaseFailed as err:
                self._remove_all(created)
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
            except BaseException:
                self._remove_all(created)
                raise
        return self.instances(spec.project, spec.target, spec.color)

    def _copy(self, model: Service, slot: int) -> Service:
        """A new instance service of the same release as `model` (scale keeps the live
        release, not what the Compose file names today)."""
        from docker.types import ServiceMode

        spec = model.attrs["Spec"]
        template = dict(spec["TaskTemplate"])
        if template.get("Runtime") == "container":
            del template["Runtime"]
        answer = self.client.api.create_service(
            template,
            name=f"{instance_base(model)}-{slot}",
            labels={**(spec.get("Labels") or {}), SLOT: str(slot)},
            mode=ServiceMode("replicated", replicas=1),
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )
        return self.client.services.get(answer["ID"])

    def scale(self, spec: DeploySpec) -> list[Instance]:
        """Add slots above the highest, or remove the highest slots: the engine has taken
        exactly those out of the proxy before calling this."""
        with self._swarm_errors(f"scaling {spec.target}-{spec.color}"):
            slots = self._slots(spec.project, spec.target, spec.color)
            if not slots:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to scale; deploy it instead"
                )
            if spec.count < len(slots):
                self._remove_all(self._surplus(slots, spec.color, spec.count))
            top = slot_of(slots[-1])
            added = [top + n for n in range(1, spec.count - len(slots) + 1)]
            if added:
                created = parallel(lambda slot: self._copy(slots[0], slot), added)
                try:
                    parallel(
                        lambda s: self._wait(s, spec.color, 1, set(), spec.health_timeout),
                        created,
                    )
                except ReleaseFailed as err:
                    self._remove_all(created)
                    raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
        return self.instances(spec.project, spec.target, spec.color)

    def _surplus(self, slots: list[Service], color: Color, count: int) -> list[Service]:
        """The instance services a scale-down to `count` removes: all but the lowest
        `count` running ones, the ones not running (a lost node's) first. That is exactly
        what the proxy dropped: the engine keeps the first `count` running instances."""
        nodes = self._nodes()
        running = [s for s in slots if self._instance(s, color, nodes).running]
        idle = [s for s in slots if s not in running]
        keep = running[:count] + idle[: max(0, count - len(running))]
        return [s for s in slots if s not in keep]

    def start(self, spec: DeploySpec) -> list[Instance]:
        """Bring every stopped instance service of the color back (its own release)."""
        with self._swarm_errors(f"starting {spec.target}-{spec.color}"):
            slots = self._slots(spec.project, spec.target, spec.color)
            if not slots:
                raise ReleaseFailed(
                    f"no {spec.color} instances of {spec.target} to start; deploy it instead"
                )

            def start_one(service: Service) -> None:
                known = {str(t.get("ID")) for t in self._tasks(service)}
                if self._replicas(service) == 0:
                    self._set_replicas(service, 1)
                self._wait(service, spec.color, 1, known, spec.health_timeout)

            try:
                parallel(start_one, slots)
            except ReleaseFailed as err:
                raise ReleaseFailed(f"{spec.target}-{spec.color}: {err}") from err
        return self.instances(spec.project, spec.target, spec.color)

    def stop(self, project: str, target: str, color: Color) -> None:
        with self._swarm_errors(f"stopping {target}-{color}"):
            slots = self._slots(project, target, color)
            parallel(lambda s: self._set_replicas(s, 0) if self._replicas(s) else None, slots)
            self._wait_stopped(slots)

    @staticmethod
    def _remove_all(services: list[Service]) -> None:
        import docker

        def remove(service: Service) -> None:
            with suppress(docker.errors.NotFound):
                service.remove()

        parallel(remove, services)

    def remove(self, project: str, target: str, color: Color) -> None:
        with self._swarm_errors(f"removing {target}-{color}"):
            self._remove_all(self._services(project=project, target=target, color=str(color)))

    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:

        with self._swarm_errors(f"starting side target {service.name}"):
            found = self._services(project=project, **{"side-target": service.name})
            if found:
                existing = found[0]
                if self._replicas(existing) == 0:  # someone stopped it: bring it back
                    self._set_replicas(existing, service.replicas or 1)
                return
            options = self._options(project, service, {})
            labels = {f"{LABEL}project": project, f"{LABEL}side-target": service.name}
            image = self._image(project, service, pull)
            name = f"{project}_{service.name}"
            ensure_overlay_networks(self.client, project, service)
            self._create(name, image, project, service, options, labels, service.replicas or 1)


def slot_of(service: Service) -> int:
    return int((service.attrs["Spec"].get("Labels") or {}).get(SLOT) or 0)


def instance_base(service: Service) -> str:
    """`<project>_<target>-<color>`: what the instances of the service's color are called."""
    labels = service.attrs["Spec"].get("Labels") or {}
    project, target, color = (labels.get(f"{LABEL}{k}", "") for k in ("project", "target", "color"))
    return f"{project}_{target}-{color}" if project and target and color else service.name or ""


@hookimpl
def flowgate_backends() -> list[type[Runtime]]:
    return [SwarmRuntime]
