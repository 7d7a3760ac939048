"""The swarm runtime's pure parts: a Compose service as service options, and tasks read
as instances and failures. No engine needed; the runtime tests prove the engine agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowgate.backends.runtime.swarm_spec import published_ports, service_options
from flowgate.backends.runtime.swarm_tasks import Node, TaskView, current, failure, published_port
from flowgate.config.compose import Healthcheck, ServiceSpec
from flowgate.errors import ConfigError, ExitCode
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


NODES = {"n1": Node("10.201.0.11"), "n2": Node("10.201.0.12", state="down")}


def test_a_task_is_an_instance_at_its_node_and_published_port() -> None:
    view = TaskView("books_app-blue", Color.BLUE, "8080/tcp", True, NODES, slot=2)
    running = view.instance(task("running", 1))
    assert (running.name, running.address, running.state, running.node) == (
        "books_app-blue.2",
        "10.201.0.11:30001",
        "running",
        "10.201.0.11",
    )
    assert (running.healthy, running.color, running.id) == (True, Color.BLUE, "c1")
    assert running.to_dict()["node"] == "10.201.0.11"
    starting = view.instance(task("starting", 1))
    assert (starting.address, starting.healthy) == ("", False)
    assert published_port(task("running"), "8080/udp") is None


def test_a_task_on_a_node_that_is_down_is_node_down_and_never_healthy() -> None:
    """The manager still lists it as running: its node cannot report otherwise."""
    view = TaskView("books_app-blue", Color.BLUE, "8080/tcp", True, NODES, slot=1)
    lost = view.instance({**task("running", 1), "NodeID": "n2"})
    assert (lost.state, lost.healthy, lost.address, lost.node) == (
        "node-down",
        False,
        "",
        "10.201.0.12",
    )
    assert not lost.running  # so the proxy leaves it out


def test_the_current_task_is_the_newest_one_meant_to_run() -> None:
    old = {**task("running", 1), "CreatedAt": "2026-01-01T00:00:01Z", "DesiredState": "shutdown"}
    new = {**task("starting", 1), "ID": "new", "CreatedAt": "2026-01-01T00:00:09Z"}
    assert current([old, new])["ID"] == "new"
    assert current([old])["ID"] == old["ID"]
    assert current([]) is None


def test_only_a_failure_of_this_operation_counts() -> None:
    view = TaskView("books_app-blue", Color.BLUE, "8080/tcp", True, NODES)
    rejected = task("rejected", 2, "shutdown", Err="No such image: books-ms:9")
    assert failure(view, [task("running"), rejected], set()) == (
        "books_app-blue.2 rejected: No such image: books-ms:9"
    )
    assert failure(view, [task("running"), rejected], {rejected["ID"]}) is None


# -- Compose `deploy`: honoured or refused by name ------------------------------------------


def test_deploy_settings_become_service_options() -> None:
    made = options(
        deploy={
            "replicas": 3,
            "labels": {"team": "books"},
            "placement": {"constraints": ["node.labels.io.flowgate.node != manager"]},
            "resources": {
                "limits": {"cpus": "0.5", "memory": "64M"},
                "reservations": {"cpus": 0.1, "memory": "1.5k"},
            },
            "restart_policy": {"condition": "on-failure", "delay": "1s", "max_attempts": 3},
            "update_config": {"parallelism": 2, "delay": "10s", "order": "start-first"},
            "rollback_config": {"parallelism": 1, "failure_action": "pause"},
        },
        placement=["node.labels.io.flowgate.node != manager"],
    )
    assert made["labels"] == {"team": "books"}
    assert made["constraints"] == ["node.labels.io.flowgate.node != manager"]
    assert made["resources"] == {
        "Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024**2},
        "Reservations": {"NanoCPUs": 100_000_000, "MemoryBytes": 1536},
    }
    assert made["restart_policy"] == {
        "Condition": "on-failure",
        "Delay": 1_000_000_000,
        "MaxAttempts": 3,
        "Window": 0,
    }
    assert made["update_config"] == {
        "Parallelism": 2,
        "Delay": 10_000_000_000,
        "Order": "start-first",
    }
    assert made["rollback_config"] == {"Parallelism": 1, "FailureAction": "pause"}
    assert made["endpoint_spec"]["Mode"] == "dnsrr"
    assert options()["restart_policy"]["Condition"] == "any"


@pytest.mark.parametrize(
    ("deploy", "message"),
    [
        ({"mode": "global"}, r"app\.deploy\.mode: 'global' is not supported"),
        (
            {"placement": {"preferences": [{"spread": "node.labels.zone"}]}},
            r"app\.deploy\.placement\.preferences: not supported: .*use placement\.constraints",
        ),
        ({"placement": {"max_replicas_per_node": 1}}, r"placement\.max_replicas_per_node"),
        ({"resources": {"limits": {"pids": 10}}}, r"app\.deploy\.resources\.limits\.pids"),
        ({"resources": {"limits": {"gpus": 1}}}, r"resources\.limits\.gpus: unknown"),
        ({"restart_policy": {"condition": "always"}}, r"restart_policy\.condition: expected"),
        ({"update_config": {"order": "random"}}, r"update_config\.order: expected"),
        ({"resources": {"limits": {"memory": "lots"}}}, r"limits\.memory: expected a size"),
        ({"endpoint_mode": "mesh"}, r"deploy\.endpoint_mode: expected vip or dnsrr"),
        ({"wat": 1}, r"app\.deploy\.wat: unknown or unsupported deploy key"),
    ],
)
def test_a_deploy_key_that_cannot_be_honoured_is_refused_by_name(
    deploy: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        options(deploy=deploy)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == ExitCode.CONFIG


# -- which instance services a scale-down removes --------------------------------------------


@pytest.mark.parametrize(
    ("count", "removed"),
    [(3, ["s2"]), (2, ["s2", "s4"]), (1, ["s2", "s3", "s4"])],
)
def test_a_scale_down_removes_exactly_what_the_proxy_dropped(
    count: int, removed: list[str]
) -> None:
    """The engine keeps the first `count` running instances in the proxy; the runtime must
    remove all the others, a lost node's instance (s2) first, never a routed one."""
    from flowgate.backends.runtime.swarm import SwarmRuntime
    from flowgate.models import Instance

    states = {"s1": "running", "s2": "node-down", "s3": "running", "s4": "running"}
    runtime = SwarmRuntime.__new__(SwarmRuntime)
    runtime._nodes = lambda: {}  # type: ignore[method-assign]
    runtime._instance = lambda service, color, nodes: Instance(  # type: ignore[method-assign]
        service, "", states[service], states[service] == "running"
    )
    slots: list[Any] = ["s1", "s2", "s3", "s4"]
    routed = [s for s in slots if states[s] == "running"][:count]
    assert runtime._surplus(slots, Color.BLUE, count) == removed
    assert not set(routed) & set(removed)
