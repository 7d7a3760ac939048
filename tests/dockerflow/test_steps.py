"""Docker Flow's step semantics (main_test.go, flow_test.go) ported as runs of
`flowgate flow` on the fake runtime, the Consul test server and the Docker Flow Proxy
test server, plus the places where flowgate deliberately does better."""

from __future__ import annotations

import pytest
from flow_project import Flow

SERVICE = "books-ms-app"


def color(flow: Flow) -> str | None:
    return flow.kv(f"docker-flow/{SERVICE}/color")


def scale(flow: Flow) -> str | None:
    return flow.kv(f"docker-flow/{SERVICE}/scale")


# -- deploy ---------------------------------------------------------------------------------


def test_first_deploy_is_blue_and_writes_color_and_scale(flow: Flow) -> None:
    code, _, err = flow("-F", "deploy")
    assert (code, err) == (0, "")
    assert flow.containers() == {"books-ms_app-blue": ["running"]}
    assert (color(flow), scale(flow)) == ("blue", "1")
    assert flow.sent() == []  # no proxy step: the proxy is not told


def test_two_deploys_in_a_row_land_on_blue_then_green(flow: Flow) -> None:
    assert flow("-F", "deploy")[0] == 0
    assert flow("-F", "deploy")[0] == 0
    assert flow.containers() == {
        "books-ms_app-blue": ["running"],
        "books-ms_app-green": ["running"],
    }
    assert color(flow) == "green"


def test_deploy_follows_the_color_docker_flow_stored(flow: Flow) -> None:
    flow.put(f"docker-flow/{SERVICE}/color", "blue")
    flow.put(f"docker-flow/{SERVICE}/scale", "2")
    code, _, _ = flow("-F", "deploy")
    assert code == 0
    assert flow.containers() == {"books-ms_app-green": ["running", "running"]}
    assert (color(flow), scale(flow)) == ("green", "2")


def test_deploy_applies_scale_relative_to_the_stored_count(flow: Flow) -> None:
    flow.put(f"docker-flow/{SERVICE}/color", "blue")
    flow.put(f"docker-flow/{SERVICE}/scale", "2")
    assert flow("-F", "deploy", "--scale=+2", "-F", "scale")[0] == 0
    assert flow.containers() == {"books-ms_app-green": ["running"] * 4}
    assert scale(flow) == "4"
    # The scale step was skipped: deploy already applied --scale (one runtime call).
    assert [call[1] for call in _calls(flow)] == [4]


def test_side_targets_start_with_the_deploy(flow: Flow) -> None:
    from flowgate.testing.fakes import fake_state

    flow("-F", "deploy")
    assert fake_state(flow.folder, "runtime").load()["side_targets"] == {"db": 1}


# -- proxy ----------------------------------------------------------------------------------


def test_deploy_and_proxy_send_the_new_color(flow: Flow) -> None:
    assert flow("-F", "deploy", "-F", "proxy")[0] == 0
    sent = flow.sent()[-1]
    assert (sent["serviceName"], sent["serviceColor"], sent["servicePath"]) == (
        SERVICE,
        "blue",
        "/demo",
    )
    assert flow.flowgate_state(SERVICE)["live_color"] == "blue"  # type: ignore[index]


def test_proxy_alone_resends_the_current_color(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    before = len(flow.sent())
    assert flow("-F", "proxy")[0] == 0  # e.g. after the proxy restarted
    assert len(flow.sent()) == before + 1
    assert flow.sent()[-1]["serviceColor"] == "blue"


def test_proxy_after_scale_sends_the_current_color(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    assert flow("-F", "scale", "-F", "proxy", "--scale=+1")[0] == 0
    assert flow.containers() == {"books-ms_app-blue": ["running", "running"]}
    assert flow.sent()[-1]["serviceColor"] == "blue"
    assert scale(flow) == "2"


def test_proxy_step_needs_a_service_path(flow: Flow) -> None:
    (flow.folder / "docker-flow.yml").write_text("target: app\nblue_green: true\n")
    flow("-F", "deploy")
    code, _, err = flow("-F", "proxy")
    assert code == 4
    assert "the proxy step needs a service path" in err
    assert flow.sent() == []


def test_service_paths_from_flags_are_joined_with_commas(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy", "--service-path", "/a", "--service-path=/b")
    assert flow.sent()[-1]["servicePath"] == "/a,/b"


# -- scale ----------------------------------------------------------------------------------


def test_scale_moves_the_current_color_and_records_the_count(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy", "--scale=3")
    assert flow("--scale=-1", "--flow=scale")[0] == 0
    assert flow.containers() == {"books-ms_app-blue": ["running", "running"]}
    assert scale(flow) == "2"


def test_scale_never_goes_below_one(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    assert flow("--scale=-100", "-F", "scale")[0] == 0
    assert flow.containers() == {"books-ms_app-blue": ["running"]}


def test_scale_without_a_spec_uses_the_stored_count(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    flow.put(f"docker-flow/{SERVICE}/scale", "3")
    assert flow("-F", "scale")[0] == 0
    assert flow.containers() == {"books-ms_app-blue": ["running"] * 3}


# -- stop-old -------------------------------------------------------------------------------


def test_deploy_proxy_stop_old_stops_the_previous_color(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    assert flow("--flow=deploy", "--flow=proxy", "--flow=stop-old")[0] == 0
    assert flow.containers() == {
        "books-ms_app-blue": ["exited"],
        "books-ms_app-green": ["running"],
    }
    assert flow.sent()[-1]["serviceColor"] == "green"


def test_stop_old_alone_stops_the_color_that_is_not_current(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    flow("-F", "deploy", "-F", "proxy")
    assert flow("-F", "stop-old")[0] == 0
    assert flow.containers()["books-ms_app-blue"] == ["exited"]


def test_stop_old_does_nothing_without_blue_green(flow: Flow) -> None:
    (flow.folder / "docker-flow.yml").write_text("target: app\nservice_path: [/demo]\n")
    flow("-F", "deploy", "-F", "proxy")
    flow("-F", "deploy", "-F", "proxy")
    before = flow.containers()
    assert flow("-F", "stop-old")[0] == 0
    assert flow.containers() == before


def test_deploy_stop_old_now_proxy_later_warns_loudly(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")
    code, _, err = flow("-F", "deploy", "-F", "stop-old")
    assert code == 0
    assert "STOPPING blue WHILE THE PROXY STILL SERVES IT" in err
    assert "flowgate flow -F proxy" in err
    assert flow.containers()["books-ms_app-blue"] == ["exited"]
    assert flow("-F", "proxy")[0] == 0
    assert flow.sent()[-1]["serviceColor"] == "green"
    assert flow.flowgate_state(SERVICE)["live_color"] == "green"  # type: ignore[index]


# -- beyond Docker Flow ---------------------------------------------------------------------


def test_deploy_never_replaces_the_color_the_proxy_serves(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy")  # blue live
    flow("-F", "deploy")  # green deployed, not sent to the proxy
    code, _, err = flow("-F", "deploy")  # Docker Flow would replace blue here
    assert code == 2
    assert "refusing to deploy onto blue: the proxy serves it" in err
    assert "flowgate flow -F proxy" in err
    assert flow.containers()["books-ms_app-blue"] == ["running"]
    assert color(flow) == "green"


def test_without_blue_green_deploy_goes_live_at_once(flow: Flow) -> None:
    (flow.folder / "docker-flow.yml").write_text("target: app\nservice_path: [/demo]\n")
    assert flow("-F", "deploy")[0] == 0
    assert flow.flowgate_state(SERVICE)["live_color"] == "blue"  # type: ignore[index]


# -- names and backends ---------------------------------------------------------------------


def test_project_keeps_its_case_in_docker_flows_keys(flow: Flow) -> None:
    assert flow("-F", "deploy", "-p", "MyProject")[0] == 0
    assert flow.kv("docker-flow/MyProject-app/color") == "blue"
    assert flow.containers() == {"myproject_app-blue": ["running"]}


def test_consul_address_alone_selects_the_consul_registry(flow: Flow) -> None:
    flow("-F", "deploy")
    assert flow.flowgate_state(SERVICE) is not None
    assert not (flow.folder / ".flowgate" / "registry").exists()


def test_flowgate_yml_naming_backends_wins(flow: Flow) -> None:
    (flow.folder / "flowgate.yml").write_text(
        "runtime: fake\nregistry: file\nproxy: fake\ndrain_timeout: 0\n"
    )
    assert flow("-F", "deploy", "-F", "proxy")[0] == 0
    assert flow.flowgate_state(SERVICE) is None
    assert (flow.folder / ".flowgate" / "registry").is_dir()
    assert flow.sent() == []


def _calls(flow: Flow) -> list[list[object]]:
    from flowgate.testing.fakes import fake_state

    return list(fake_state(flow.folder, "runtime").load().get("calls", []))


def test_docker_flow_yml_alone_with_an_unknown_key_and_go_spellings(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    (flow.folder / "flowgate.yml").unlink()
    monkeypatch.setenv("FLOWGATE_RUNTIME", "fake")
    monkeypatch.setenv("FLOWGATE_DRAIN_TIMEOUT", "0")
    (flow.folder / "docker-flow.yml").write_text(
        "target: app\nblue_green: t\nservice_path: [/demo]\nskip_pull_target: true\n"
    )
    code, _, err = flow("-F", "deploy", "-F", "proxy")
    assert code == 0, err
    assert "unknown key 'skip_pull_target' ignored" in err
    assert flow.sent()[-1]["serviceColor"] == "blue"


def slow_health(flow: Flow, monkeypatch: pytest.MonkeyPatch, polls: int) -> None:
    from flowgate.testing.fakes import fake_state

    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes,slow_health")
    (flow.folder / "flowgate.yml").write_text(
        "runtime: fake-slow-health\ndrain_timeout: 0\nhealth_timeout: 2\n"
    )
    flow("-F", "deploy")
    store = fake_state(flow.folder, "runtime")
    store.save({**store.load(), "unhealthy_polls": polls})


def test_proxy_step_waits_until_the_color_is_healthy(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowgate.testing.fakes import fake_state

    slow_health(flow, monkeypatch, polls=3)
    assert flow("-F", "proxy")[0] == 0
    assert flow.sent()[-1]["serviceColor"] == "blue"
    assert fake_state(flow.folder, "runtime").load()["unhealthy_polls"] == 0


def test_proxy_step_never_sends_a_color_that_stays_unhealthy(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_health(flow, monkeypatch, polls=10_000)
    code, _, err = flow("-F", "proxy")
    assert code == 1
    assert "not sending blue to the proxy: books-ms_app-blue_1 not healthy after 2s" in err
    assert flow.sent() == []


def test_a_project_name_docker_cannot_use_is_refused_naming_its_source(flow: Flow) -> None:
    code, out, err = flow("-p", "bo oks", "-F", "deploy")
    assert (code, out) == (2, "")
    assert err.startswith("flowgate: error: --project: 'bo oks' cannot be part of a Docker name")
    assert flow.containers() == {}
    assert flow.containers() == {}
