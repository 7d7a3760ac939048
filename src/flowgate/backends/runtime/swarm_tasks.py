"""Reading a swarm service's tasks as instances, and waiting until a service has converged.

Each instance of a color is its own one-task service (labelled with its slot), whose
current task is the instance `<project>_<target>-<color>.<slot>`, reached at its node's
address and the host port the task published. A task whose node the manager has marked
down is `node-down` (never healthy, so the proxy leaves it out) until Swarm replaces it
on a live node. Swarm itself only reports a task `running` once the image's or
the Compose healthcheck passed (the task is `starting` until then), so a running task with
a healthcheck is healthy; without one, the published port must answer, as for the
`docker` runtime.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowgate.backends.runtime.docker_health import port_answers
from flowgate.errors import ReleaseFailed
from flowgate.models import Color, Instance

POLL_INTERVAL = 0.25
FAILED_STATES = ("failed", "rejected", "orphaned")
UNUSABLE_ADDRESSES = ("", "0.0.0.0", "::")
NODE_DOWN = "node-down"

Task = dict[str, Any]


@dataclass(frozen=True)
class Node:
    """A swarm node as the proxy reaches it: its address, and the manager's view of it."""

    address: str
    state: str = "ready"  # ready | down | unknown | disconnected
    availability: str = "active"

    @property
    def down(self) -> bool:
        return self.state in ("down", "disconnected")


def published_port(task: Task, port: str | None) -> int | None:
    """The host port the task published for the container port `port` ("8080/tcp")."""
    if not port:
        return None
    number, _, protocol = port.partition("/")
    for entry in (task.get("Status", {}).get("PortStatus") or {}).get("Ports") or []:
        if str(entry.get("TargetPort")) == number and entry.get("Protocol", "tcp") == (
            protocol or "tcp"
        ):
            return int(entry["PublishedPort"])
    return None


def task_state(task: Task) -> str:
    return str(task.get("Status", {}).get("State", "unknown"))


def task_name(service: str, task: Task, slot: int | None = None) -> str:
    return f"{service}.{slot or task.get('Slot') or task.get('ID', '')[:12]}"


def container_id(task: Task) -> str:
    return str((task.get("Status", {}).get("ContainerStatus") or {}).get("ContainerID") or "")


class TaskView:
    """How this runtime sees one service's tasks: where they answer and whether healthy.

    `service` is the name instances are called by (`<service>.<slot>`); `slot` is the
    instance's slot when the service is one instance, else each task's own slot counts."""

    def __init__(
        self,
        service: str,
        color: Color | None,
        port: str | None,
        has_healthcheck: bool,
        nodes: dict[str, Node],
        slot: int | None = None,
    ) -> None:
        self.service = service
        self.color = color
        self.port = port
        self.has_healthcheck = has_healthcheck
        self.nodes = nodes
        self.slot = slot

    def name(self, task: Task) -> str:
        return task_name(self.service, task, self.slot)

    def node(self, task: Task) -> Node | None:
        return self.nodes.get(str(task.get("NodeID") or ""))

    def state(self, task: Task) -> str:
        node = self.node(task)
        if node is not None and node.down and task.get("DesiredState") == "running":
            return NODE_DOWN
        return task_state(task)

    def address(self, task: Task) -> str:
        published = published_port(task, self.port)
        node = self.node(task)
        if self.state(task) != "running" or published is None or node is None:
            return ""
        return f"{node.address}:{published}"

    def healthy(self, task: Task) -> bool:
        if self.state(task) != "running":
            return False
        if self.has_healthcheck or not self.port:
            return True  # swarm marks a task running only once its healthcheck passed
        host, _, published = self.address(task).rpartition(":")
        return bool(host) and port_answers(host, int(published))

    def instance(self, task: Task, healthy: bool | None = None) -> Instance:
        node = self.node(task)
        return Instance(
            name=self.name(task),
            address=self.address(task),
            state=self.state(task),
            healthy=self.healthy(task) if healthy is None else healthy,
            color=self.color,
            id=container_id(task) or str(task.get("ID", "")),
            node=node.address if node is not None else "",
        )


def failure(view: TaskView, tasks: list[Task], known: set[str]) -> str | None:
    """Why a task started by this operation failed for good, or None."""
    for task in sorted(tasks, key=lambda t: str(t.get("CreatedAt", ""))):
        if task.get("ID") in known or task_state(task) not in FAILED_STATES:
            continue
        status = task.get("Status", {})
        reason = status.get("Err") or status.get("Message") or "no reason given"
        return f"{view.name(task)} {task_state(task)}: {reason}"
    return None


def current(tasks: list[Task]) -> Task | None:
    """The task that is the instance now: the newest one meant to run, else the newest."""
    newest = sorted(tasks, key=lambda t: str(t.get("CreatedAt", "")), reverse=True)
    wanted = [t for t in newest if t.get("DesiredState") == "running"]
    found = wanted or newest
    return found[0] if found else None


def wait_converged(
    read_tasks: Callable[[], list[Task]],
    view: TaskView,
    replicas: int,
    known: set[str],
    timeout: float,
    describe_pending: Callable[[Task], str],
) -> None:
    """Return once exactly `replicas` tasks should run and all of them are healthy.

    A task of this operation (not in `known`) that failed or was rejected ends the wait at
    once with its error ("No such image: ...", "task: non-zero exit (3)"); otherwise the
    first task still pending when `timeout` runs out is named.
    """
    deadline = time.monotonic() + timeout
    while True:
        tasks = read_tasks()
        reason = failure(view, tasks, known)
        if reason:
            raise ReleaseFailed(reason)
        wanted = [t for t in tasks if t.get("DesiredState") == "running"]
        pending = [t for t in wanted if not view.healthy(t)]
        if len(wanted) == replicas and not pending:
            return
        if time.monotonic() >= deadline:
            if pending:
                raise ReleaseFailed(
                    f"{view.name(pending[0])} did not become healthy within "
                    f"{timeout:g}s ({describe_pending(pending[0])})"
                )
            raise ReleaseFailed(
                f"{view.service} has {len(wanted)} of {replicas} tasks after {timeout:g}s"
            )
        time.sleep(POLL_INTERVAL)
