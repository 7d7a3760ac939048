"""Docker Flow's Consul tests (consul_test.go), ported: how `flowgate flow` reads and
writes `docker-flow/<service>/color` and `.../scale` on the Consul test server."""

from __future__ import annotations

import pytest
from flow_project import Flow

SERVICE = "books-ms-app"


def seed(flow: Flow, color: str | None = None, scale: str | None = None) -> None:
    if color is not None:
        flow.put(f"docker-flow/{SERVICE}/color", color)
    if scale is not None:
        flow.put(f"docker-flow/{SERVICE}/scale", scale)


def count(flow: Flow, color: str) -> int:
    return len(flow.containers().get(f"books-ms_app-{color}", []))


def test_scale_is_1_for_a_service_never_deployed(flow: Flow) -> None:
    flow("-F", "deploy")
    assert count(flow, "blue") == 1
    assert flow.kv(f"docker-flow/{SERVICE}/scale") == "1"


def test_scale_comes_from_consul(flow: Flow) -> None:
    seed(flow, "green", "4")
    flow("-F", "deploy")
    assert count(flow, "blue") == 4


def test_scale_argument_replaces_it(flow: Flow) -> None:
    seed(flow, "green", "4")
    flow("-F", "deploy", "--scale", "7")
    assert count(flow, "blue") == 7


@pytest.mark.parametrize(("spec", "expected"), [("+2", 6), ("-2", 2), ("-100", 1)])
def test_relative_scale_moves_the_stored_count_never_below_1(
    flow: Flow, spec: str, expected: int
) -> None:
    seed(flow, "green", "4")
    flow("-F", "deploy", f"--scale={spec}")
    assert count(flow, "blue") == expected
    assert flow.kv(f"docker-flow/{SERVICE}/scale") == str(expected)


def test_color_defaults_so_the_first_deploy_is_blue(flow: Flow) -> None:
    flow("-F", "deploy")
    assert flow.kv(f"docker-flow/{SERVICE}/color") == "blue"


@pytest.mark.parametrize(("stored", "next_color"), [("blue", "green"), ("green", "blue")])
def test_next_color_is_the_one_not_stored(flow: Flow, stored: str, next_color: str) -> None:
    seed(flow, stored)
    flow("-F", "deploy")
    assert list(flow.containers()) == [f"books-ms_app-{next_color}"]
    assert flow.kv(f"docker-flow/{SERVICE}/color") == next_color


def test_docker_flows_color_is_taken_as_live_and_never_replaced(flow: Flow) -> None:
    seed(flow, "blue", "2")
    flow("-F", "deploy")  # green, not sent to the proxy: blue still serves
    code, _, err = flow("-F", "deploy")
    assert code == 2
    assert "refusing to deploy onto blue" in err


def test_scale_step_writes_the_scale_key(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    flow("-F", "scale", "-s", "+2")
    assert flow.kv(f"docker-flow/{SERVICE}/scale") == "3"
    assert flow.kv(f"docker-flow/{SERVICE}/color") == "blue"


def test_an_unreachable_consul_fails_before_anything_changes(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowgate.testing.network import free_port

    monkeypatch.setenv("FLOW_CONSUL_ADDRESS", f"http://127.0.0.1:{free_port()}")
    code, _, err = flow("-F", "deploy")
    assert code == 5
    assert "Consul" in err
    assert flow.containers() == {}


def test_consul_address_from_flag_and_file(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"http://{flow.consul.address}"
    monkeypatch.delenv("FLOW_CONSUL_ADDRESS")
    assert flow("-F", "deploy", "-c", address)[0] == 0
    assert flow.kv(f"docker-flow/{SERVICE}/color") == "blue"
    (flow.folder / "docker-flow.yml").write_text(
        f"target: app\nblue_green: true\nconsul_address: {address}\n"
    )
    assert flow("-F", "deploy")[0] == 0
    assert flow.kv(f"docker-flow/{SERVICE}/color") == "green"
