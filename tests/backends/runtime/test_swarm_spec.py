"""The swarm runtime's pure parts: a Compose service as service options, and tasks read
as instances and failures. No engine needed; the runtime tests prove the engine agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowgate.backends.runtime.swarm_spec import published_ports, service_options
from flowgate.backends.runtime.swarm_tasks import TaskView, failure, published_port
from flowgate.config.compose import Healthcheck, ServiceSpec
from flowgate.models import Color


def options(**fields: Any) -> dict[str, Any]:
    service = ServiceSpec(name="app", image="books-ms:1.0", **fields)
    return service_options("books", Path("/srv/books"), service, {"FLOWGATE_COLOR": "blue"}, 2)


def test_command_is_swarm_args_and_entrypoint_is_swarm_command() -> None:
    """Swarm's ContainerSpec calls the entrypoint Command and the CMD Args."""
    assert options(command=["serve", "-v"])["args"] == ["serve", "-v"]
    assert "command" not in options(command=["serve"])
    both = options(entrypoint=["/bin/sh", "-c"], command=["exec serve"])
    assert (both["command"], both["args"]) == (["/bin/sh", "-c"], ["exec serve"])
    assert options(entrypoint=["tini"])["args"] == []


def test_environment_healthcheck_volumes_and_placement() -> None:
    made = options(
        environment={"DB_HOST": "db", "FLOWGATE_COLOR": "stale"},
        healthcheck=Healthcheck(test=["CMD", "true"], interval=1.5, timeout=2, retries=4),
        volumes=["./data:/data:ro", "cache:/cache", "/scratch"],
        placement=["node.role == worker"],
    )
    assert made["env"] == ["DB_HOST=db", "FLOWGATE_COLOR=blue"]
    assert made["healthcheck"] == {
        "Test": ["CMD", "true"],
        "Interval": 1_500_000_000,
        "Timeout": 2_000_000_000,
        "Retries": 4,
        "StartPeriod": 0,
    }
    assert made["mounts"][:2] == ["/srv/books/data:/data:ro", "books_cache:/cache"]
    assert made["mounts"][2]["Target"] == "/scratch"
    assert made["constraints"] == ["node.role == worker"]
    assert made["stop_grace_period"] == 2_000_000_000
    assert options(healthcheck_disabled=True)["healthcheck"]["Test"] == ["NONE"]


def test_ports_are_published_in_host_mode_without_a_fixed_port() -> None:
    service = ServiceSpec(name="app", ports=["8080/tcp", "53/udp"])
    assert published_ports(service) == [
        {"TargetPort": 8080, "Protocol": "tcp", "PublishMode": "host"},
        {"TargetPort": 53, "Protocol": "udp", "PublishMode": "host"},
    ]
    assert options(ports=["8080/tcp"])["endpoint_spec"]["Mode"] == "dnsrr"


def task(state: str, slot: int = 1, desired: str = "running", **status: Any) -> dict[str, Any]:
    ports = [{"Protocol": "tcp", "TargetPort": 8080, "PublishedPort": 30000 + slot}]
    return {
        "ID": f"t{slot}{state}",
        "Slot": slot,
        "NodeID": "n1",
        "DesiredState": desired,
        "CreatedAt": f"2026-01-01T00:00:0{slot}Z",
        "Status": {
            "State": state,
            "PortStatus": {"Ports": ports},
            "ContainerStatus": {"ContainerID": f"c{slot}"},
            **status,
        },
    }


def test_a_task_is_an_instance_at_its_node_and_published_port() -> None:
    view = TaskView("books_app-blue", Color.BLUE, "8080/tcp", True, {"n1": "10.201.0.11"})
    running = view.instance(task("running", 2))
    assert (running.name, running.address, running.state) == (
        "books_app-blue.2",
        "10.201.0.11:30002",
        "running",
    )
    assert (running.healthy, running.color, running.id) == (True, Color.BLUE, "c2")
    starting = view.instance(task("starting", 1))
    assert (starting.address, starting.healthy) == ("", False)
    assert published_port(task("running"), "8080/udp") is None


def test_only_a_failure_of_this_operation_counts() -> None:
    rejected = task("rejected", 2, "shutdown", Err="No such image: books-ms:9")
    assert failure("books_app-blue", [task("running"), rejected], set()) == (
        "books_app-blue.2 rejected: No such image: books-ms:9"
    )
    assert failure("books_app-blue", [task("running"), rejected], {rejected["ID"]}) is None
