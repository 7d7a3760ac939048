"""Reading the swarm: the engine connection, the services and tasks of a target, the
nodes, and waiting until a service converged or stopped. The color lifecycle built on it
is swarm.py's `SwarmRuntime`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from flowgate.backends.runtime import swarm_tasks as tasks
from flowgate.backends.runtime.docker_engine import EngineConnection, parallel
from flowgate.backends.runtime.docker_health import last_health_log
from flowgate.backends.runtime.swarm_tasks import Node
from flowgate.errors import BackendUnreachable, ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.services import Service

LABEL = "io.flowgate."
SLOT = f"{LABEL}slot"
STOP_WAIT = 20.0  # seconds beyond stop_timeout a stopped color's tasks may take to end
LIVE_STATES = ("assigned", "accepted", "preparing", "ready", "starting", "running")


class SwarmServices(EngineConnection):
    """A swarm manager's view of flowgate's services: what runs where, and how healthy."""

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

        timeout = float(self.settings.stop_timeout) + STOP_WAIT
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


def slot_of(service: Service) -> int:
    return int((service.attrs["Spec"].get("Labels") or {}).get(SLOT) or 0)


def instance_base(service: Service) -> str:
    """`<project>_<target>-<color>`: what the instances of the service's color are called."""
    labels = service.attrs["Spec"].get("Labels") or {}
    project, target, color = (labels.get(f"{LABEL}{k}", "") for k in ("project", "target", "color"))
    return f"{project}_{target}-{color}" if project and target and color else service.name or ""
