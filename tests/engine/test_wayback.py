"""Issue 12, engine side, on the fake runtime and proxy with the real file registry: the
public route changes only at a switch, the state is checked against what runs, every
release can be brought back from its record, a killed release is marked interrupted."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flowgate.config.scale import parse_scale
from flowgate.engine.evidence import StateDisagrees
from flowgate.engine.probe import ask
from flowgate.engine.recorder import finish
from flowgate.engine.runner import Engine
from flowgate.engine.status import history, target_status
from flowgate.engine.verbs.reconcile import reconcile
from flowgate.errors import ExitCode, RollbackFailed, UsageError
from flowgate.models import Color, ReleaseState
from flowgate.testing.fakes import fake_state
from flowgate.testing.network import free_port

Make = Callable[..., Engine]
Fakes = Callable[[str], dict[str, Any]]
SERVICE = "books-app"


def public(fakes: Fakes) -> dict[str, Any]:
    """The paths and domains the fake proxy's public route has now."""
    served: dict[str, Any] = fakes("proxy")["public"][SERVICE]
    return served


def containers(fakes: Fakes, color: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        fakes("runtime").get("containers", {}).get(f"books_app-{color}", [])
    )
    return found


def live_on(fakes: Fakes) -> str:
    color: str = fakes("proxy")["routes"][SERVICE]["live_color"]
    return color


def drop_containers(project: Path, color: str) -> None:
    store = fake_state(project, "runtime")
    data = store.load()
    data["containers"].pop(f"books_app-{color}", None)
    store.save(data)


# -- the public route changes only at a switch --------------------------------------------


def test_a_new_domain_given_to_deploy_waits_for_the_promote(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": []}
    engine(service_domain=["books.example.com"]).deploy()
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": []}
    engine(service_domain=["books.example.com"], service_path=["/v2"]).abort()
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": []}
    engine(service_domain=["books.example.com"]).deploy()
    engine(service_path=["/other"]).scale(parse_scale("+1"))
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": []}
    engine().promote()  # the release's own route (recorded at its deploy) goes live
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": ["books.example.com"]}
    engine().rollback()  # and the route of the release brought back
    assert public(fakes) == {"paths": ["/api/v1/books"], "domains": []}


# -- the state is evidence ----------------------------------------------------------------


def state_file(project: Path) -> Path:
    return project / ".flowgate" / "registry" / SERVICE / "state.json"


def test_a_deleted_state_stops_every_verb_until_reconcile(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    first = engine().deploy()
    engine().promote()
    state_file(project).unlink()
    before = fakes("runtime")["containers"]
    for verb in ("deploy", "abort", "stop_old"):
        with pytest.raises(StateDisagrees, match="no state is stored, but instances exist") as err:
            getattr(engine(), verb)()
        assert err.value.exit_code is ExitCode.CONFIG
        assert "flowgate reconcile" in str(err.value)
    with pytest.raises(StateDisagrees):
        engine().release([], [])
    assert fakes("runtime")["containers"] == before
    assert live_on(fakes) == "blue"
    report = reconcile(engine().ctx)
    assert report["written"] and report["before"] is None
    assert report["after"]["live_color"] == "blue" and report["after"]["scale"] == 1
    assert report["after"]["release_id"] == first.id
    assert engine().deploy().color is Color.GREEN  # never onto the live color
    assert containers(fakes, "blue")[0]["state"] == "running"


def test_a_state_that_names_the_wrong_live_color_is_refused(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()  # green live, blue stopped
    context = engine().ctx
    registry = context.registry
    registry.save_state(
        type(context.state)(
            service=SERVICE,
            live_color=Color.BLUE,
            deployed_color=Color.BLUE,
            scale=1,
            release_id=context.state.release_id,
            version=context.state.version,
        )
    )
    with pytest.raises(StateDisagrees, match="blue is live, but blue has no running instance"):
        engine().deploy()
    assert target_status(engine().ctx)["state_disagrees"]
    with pytest.raises(UsageError, match="--live blue: blue has no running instance"):
        reconcile(engine().ctx, live=Color.BLUE)
    assert reconcile(engine().ctx, dry_run=True)["written"] is False
    assert reconcile(engine().ctx)["after"]["live_color"] == "green"
    assert target_status(engine().ctx)["state_disagrees"] is None
    assert engine().deploy().color is Color.BLUE


def test_live_instances_of_another_release_are_refused(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    engine().deploy()
    engine().promote()
    store = fake_state(project, "runtime")
    data = store.load()
    data["containers"]["books_app-blue"][0]["release"] = "20200101T000000-dead"
    store.save(data)
    with pytest.raises(StateDisagrees, match="its instances run release 20200101T000000-dead"):
        engine().deploy()


# -- always a way back --------------------------------------------------------------------


def test_rollback_recreates_a_release_whose_containers_are_gone(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    first = engine().deploy()
    engine().promote()
    assert first.restore is not None and first.restore["scale"] == 1
    (project / "docker-compose.yml").write_text(
        (project / "docker-compose.yml").read_text().replace("books-ms:1.0", "books-ms:1.1")
    )
    engine().deploy()
    engine().promote()
    drop_containers(project, "blue")  # `docker rm` by hand, a prune, a lost host
    back = engine().rollback()
    assert back.restores == first.id
    assert [c["image"] for c in containers(fakes, "blue")] == ["books-ms:1.0"]
    assert live_on(fakes) == "blue"
    assert [c["state"] for c in containers(fakes, "green")] == ["exited"]


def test_rollback_to_goes_further_back(engine: Make, fakes: Fakes, project: Path) -> None:
    compose = project / "docker-compose.yml"
    ids = []
    for version in ("1.0", "1.1", "1.2"):
        compose.write_text(compose.read_text().replace("books-ms:1.0", f"books-ms:{version}"))
        ids.append(engine().deploy().id)
        engine().promote()
        compose.write_text(compose.read_text().replace(f"books-ms:{version}", "books-ms:1.0"))
    assert live_on(fakes) == "blue"  # 1.0 blue, 1.1 green, 1.2 blue
    back = engine().rollback(to=ids[0])
    assert back.restores == ids[0] and back.color is Color.GREEN
    assert [c["image"] for c in containers(fakes, "green")] == ["books-ms:1.0"]
    with pytest.raises(UsageError, match="it is the live release"):
        engine().rollback(to=ids[0])
    with pytest.raises(UsageError, match="no such release"):
        engine().rollback(to="20200101T000000-abcd")


def test_a_release_that_never_went_live_cannot_be_rolled_back_to(engine: Make) -> None:
    engine().deploy()
    engine().promote()
    untested = engine().deploy()
    engine().abort()
    with pytest.raises(UsageError, match="it was never live"):
        engine().rollback(to=untested.id)


def test_a_failed_rollback_recreation_leaves_the_live_color_serving(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()
    drop_containers(project, "blue")
    store = fake_state(project, "runtime")
    store.save({**store.load(), "fail_deploy": True})
    with pytest.raises(RollbackFailed, match=r"rollback to blue failed: .*green still serves"):
        engine().rollback()
    assert live_on(fakes) == "green"
    assert [c["state"] for c in containers(fakes, "green")] == ["running"]
    assert engine().rollback().color is Color.BLUE  # the way back is still there


# -- a killed release is interrupted, not live with no end --------------------------------


def test_a_release_killed_after_its_switch_shows_interrupted(engine: Make) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    promoted = engine().promote()
    assert promoted is not None
    promoted.ended, promoted.outcome, promoted.step = None, None, "stop_old"  # killed there
    context = engine().ctx
    context.registry.save_release(promoted)
    view = history(context)[0]
    assert (view["state"], view["outcome"]) == ("live", "interrupted")
    assert "stop_old" in view["error"]
    engine().stop_old()  # the next verb records the end
    stored = engine().ctx.registry.releases(SERVICE)[0]
    assert stored.outcome == "interrupted" and stored.ended is not None
    assert stored.state is ReleaseState.LIVE


def test_finish_is_what_ends_a_release(engine: Make) -> None:
    """The control for the test above: a finished release is not shown as interrupted."""
    release = engine().deploy()
    context = engine().ctx
    finish(context, release, "succeeded")
    assert history(context)[0]["outcome"] == "succeeded"


# -- status asks the proxy ----------------------------------------------------------------


class Answer(http.server.BaseHTTPRequestHandler):
    code = 200

    def do_GET(self) -> None:
        self.send_response(self.code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Callable[[int], str]]:
    servers = []

    def start(code: int) -> str:
        handler = type("Handler", (Answer,), {"code": code})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/api"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_the_proxy_probe_tells_serving_from_not(server: Callable[[int], str]) -> None:
    assert ask(server(200), {}) == (200, None)
    assert ask(server(404), {}) == (404, None)  # the service answers: the proxy serves
    assert ask(server(503), {})[0] == 503
    status, error = ask(f"http://127.0.0.1:{free_port()}/", {})
    assert status is None and error is not None and "no answer" in error
