"""The engine's verbs on the fake runtime and proxy with the real file registry."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowgate import hookimpl
from flowgate.config.scale import parse_scale
from flowgate.engine.recorder import new_release_id, save_state, start_release
from flowgate.engine.runner import Engine
from flowgate.engine.status import target_status
from flowgate.engine.workspace import open_context
from flowgate.errors import (
    FlowgateError,
    GateFailed,
    LockHeld,
    ReleaseFailed,
    RollbackFailed,
    UsageError,
)
from flowgate.models import Color, ReleaseState, TestResult
from flowgate.testing.fakes import fake_state

Make = Callable[..., Engine]
Fakes = Callable[[str], dict[str, Any]]


def states(fakes: Fakes) -> dict[str, list[str]]:
    containers = fakes("runtime").get("containers", {})
    return {
        key.split("-")[-1]: [r["state"] for r in records] for key, records in containers.items()
    }


def route(fakes: Fakes) -> dict[str, Any]:
    served: dict[str, Any] = fakes("proxy")["routes"]["books-app"]
    return served


def test_first_deploy_is_blue_and_leaves_nothing_live(engine: Make, fakes: Fakes) -> None:
    release = engine().deploy()
    state = engine().ctx.state
    assert release.color is Color.BLUE
    assert release.state is ReleaseState.DEPLOYED
    assert (state.live_color, state.deployed_color) == (None, Color.BLUE)
    assert states(fakes) == {"blue": ["running"]}
    assert route(fakes) == {
        "live_color": None,
        "live": [],
        "preview_color": "blue",
        "preview": ["127.0.0.1:20001"],
    }
    assert fakes("runtime")["side_targets"] == {"db": 1}


def test_compose_deploy_replicas_is_the_first_count_and_scale_flags_win(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    compose = project / "docker-compose.yml"
    compose.write_text(
        compose.read_text().replace('ports: ["8080"]', 'ports: ["8080"]\n    deploy: {replicas: 3}')
    )
    assert engine().deploy().instances == 3
    assert states(fakes) == {"blue": ["running"] * 3}
    engine().abort()
    assert engine().deploy(parse_scale("2")).instances == 2


def test_full_cycle_deploy_promote_scale_deploy_promote(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    assert engine().ctx.state.live_color is Color.BLUE
    engine().scale(parse_scale("+2"))
    assert engine().ctx.state.scale == 3
    release = engine().deploy()
    assert release.color is Color.GREEN
    assert release.instances == 3  # inherits the live color's count
    assert states(fakes) == {"blue": ["running"] * 3, "green": ["running"] * 3}
    assert route(fakes)["live_color"] == "blue"
    engine().promote()
    assert states(fakes) == {"blue": ["exited"] * 3, "green": ["running"] * 3}
    assert route(fakes)["live_color"] == "green"
    assert route(fakes)["preview"] == []
    engine().scale(parse_scale("-1"))
    assert states(fakes)["green"] == ["running"] * 2
    assert engine().ctx.state.scale == 2


def test_deploying_twice_never_touches_the_live_color(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().deploy(parse_scale("2"))
    assert engine().ctx.state.live_color is Color.BLUE
    assert states(fakes) == {"blue": ["running"], "green": ["running", "running"]}
    assert route(fakes)["live_color"] == "blue"


def test_scale_down_leaves_the_proxy_before_stopping(engine: Make, fakes: Fakes) -> None:
    engine().deploy(parse_scale("3"))
    engine().promote()
    engine().scale(parse_scale("-100"))
    history = [entry["live"] for entry in fakes("proxy")["history"]]
    assert history[-2] == ["127.0.0.1:20001"]  # limited before the runtime removed two
    assert fakes("runtime")["calls"][-1] == ["blue", 1]
    assert engine().ctx.state.scale == 1


def test_failed_deploy_changes_nothing(engine: Make, fakes: Fakes, project: Path) -> None:
    engine().deploy()
    engine().promote()
    store = fake_state(project, "runtime")
    store.save({**store.load(), "fail_deploy": True})
    with pytest.raises(ReleaseFailed, match="did not become healthy"):
        engine().deploy()
    state = engine().ctx.state
    assert (state.live_color, state.deployed_color) == (Color.BLUE, Color.BLUE)
    assert states(fakes) == {"blue": ["running"]}
    last = engine().ctx.registry.releases("books-app")[0]
    assert last.state is ReleaseState.FAILED
    assert last.outcome == "failed"
    assert [s.outcome for s in last.steps] == ["ok", "failed"]
    # `status` shows the failed release, not the last one that succeeded
    assert state.release_id == last.id
    shown = target_status(engine().ctx)["release"]
    assert (shown["id"], shown["state"], shown["step"]) == (last.id, "failed", "deploy")
    assert "did not become healthy" in shown["error"]


def test_a_deploy_that_fails_before_starting_anything_keeps_the_rollback_color(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    """A missing image fails the deploy before any container is touched: blue, stopped and
    kept for rollback, stays, and rollback still brings it back."""
    for _ in range(2):
        engine().deploy()
        engine().promote()
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}
    store = fake_state(project, "runtime")
    store.save({**store.load(), "fail_before_deploy": True})
    with pytest.raises(ReleaseFailed, match="image of app not found"):
        engine().deploy()
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}
    assert engine().ctx.state.deployed_color is Color.GREEN
    failed = engine().ctx.registry.releases("books-app")[0]
    assert (failed.outcome, failed.color) == ("failed", None)  # it put nothing on blue
    assert engine().rollback().color is Color.BLUE
    assert route(fakes)["live_color"] == "blue"


def test_a_rollback_whose_switch_fails_is_a_rollback_failure_and_changes_nothing(
    engine: Make, fakes: Fakes, project: Path
) -> None:
    for _ in range(2):
        engine().deploy()
        engine().promote()
    store = fake_state(project, "proxy")
    store.save({**store.load(), "fail_apply": True})
    with pytest.raises(RollbackFailed, match=r"rollback to blue failed: .*; green still serves"):
        engine().rollback()
    assert RollbackFailed.exit_code == 6
    assert engine().ctx.state.live_color is Color.GREEN
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}


def test_failed_proxy_switch_keeps_the_live_color(engine: Make, project: Path) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    store = fake_state(project, "proxy")
    store.save({**store.load(), "fail_apply": True})
    with pytest.raises(ReleaseFailed, match="apply refused"):
        engine().promote()
    assert engine().ctx.state.live_color is Color.BLUE
    assert engine().ctx.state.new_color is Color.GREEN
    # not switched: the release is as it was, deployed, and can be promoted again
    assert engine().ctx.registry.releases("books-app")[0].state is ReleaseState.DEPLOYED


def test_promote_saves_the_release_running_before_it_switches(engine: Make) -> None:
    """Write-ahead: a process that dies in the switch leaves a running release, which
    the next verb recovers (see test_recovery)."""
    engine().deploy()
    seen: list[str] = []

    class Spy:
        @hookimpl(tryfirst=True)
        def reconfigure_proxy(self, context: Any, live_color: Color | None) -> None:
            stored = context.registry.releases("books-app")[0]
            seen.append(f"{live_color}:{stored.state}:{stored.step}")

    subject = engine()
    subject.ctx.pm.register(Spy())
    subject.promote()
    assert seen == ["blue:running:reconfigure_proxy"]
    assert engine().ctx.registry.releases("books-app")[0].state is ReleaseState.LIVE


def test_rollback_restarts_the_previous_color(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()
    release = engine().rollback()
    assert release.kind == "rollback"
    assert engine().ctx.state.live_color is Color.BLUE
    assert states(fakes) == {"blue": ["running"], "green": ["exited"]}
    assert route(fakes)["live_color"] == "blue"


def test_rollback_without_a_previous_color_is_refused(engine: Make, project: Path) -> None:
    """Every "nothing to roll back" is the same usage error, whatever is missing."""
    with pytest.raises(UsageError, match="nothing to roll back: nothing is live yet"):
        engine().rollback()
    engine().deploy()
    engine().promote()
    with pytest.raises(UsageError, match="nothing to roll back to: no release was live before"):
        engine().rollback()
    engine().deploy()
    engine().promote()
    store = fake_state(project, "runtime")
    data = store.load()
    data["containers"].pop("books_app-blue")  # removed by hand
    store.save(data)
    # Re-created from its record (engine/wayback.py) unless the record cannot do it.
    registry = engine().ctx.registry
    first = registry.releases("books-app")[-1]
    first.restore = None  # recorded before flowgate kept image ids
    registry.save_release(first)
    with pytest.raises(UsageError, match="blue no longer holds it and its record has nothing"):
        engine().rollback()


def test_an_unpromoted_color_can_neither_be_stopped_as_old_nor_rolled_back_to(
    engine: Make, fakes: Fakes
) -> None:
    """The trial's bypass: deploy (not promoted), stop-old, rollback put an untested color
    on the public route. Both verbs refuse, and nothing changes."""
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()  # green live, blue stopped (a rollback target)
    untested = engine().deploy()
    assert untested.color is Color.BLUE
    with pytest.raises(UsageError, match=r"cannot stop the old color: blue holds an unpromoted"):
        engine().stop_old()
    with pytest.raises(UsageError, match=r"cannot roll back: blue holds an unpromoted.*abort"):
        engine().rollback()
    assert states(fakes) == {"blue": ["running"], "green": ["running"]}
    assert route(fakes)["live_color"] == "green"
    assert engine().ctx.state.new_color is Color.BLUE
    engine().abort()
    # The untested deploy is gone; the release live before it is re-created from its
    # record (issue 12: an abort never leaves the team without a rollback).
    first = engine().ctx.registry.releases("books-app")[-1]
    back = engine().rollback()
    assert back.restores == first.id and back.color is Color.BLUE
    assert route(fakes)["live_color"] == "blue"
    blue = fakes("runtime")["containers"]["books_app-blue"]
    assert [r["release"] for r in blue] == [back.id]


def test_a_failed_gate_leaves_the_way_back(engine: Make, fakes: Fakes) -> None:
    """The failed release replaced blue's warm copy; rollback re-creates the release that
    was live on blue from its record, never the release that failed its gate."""
    first = engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()
    with pytest.raises(GateFailed):
        with_gate(engine(), Gate(1, ["t::x"])).release(["tests"], [])
    assert "books_app-blue" not in fakes("runtime")["containers"]
    back = engine().rollback()
    assert back.restores == first.id
    assert route(fakes)["live_color"] == "blue"
    assert states(fakes) == {"blue": ["running"], "green": ["exited"]}


def test_rollback_then_rollback_again_swaps_back(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()
    engine().rollback()
    assert engine().rollback().color is Color.GREEN
    assert route(fakes)["live_color"] == "green"
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}


def test_abort_removes_only_the_new_color(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    release = engine().abort()
    assert release is not None and release.state is ReleaseState.ABORTED
    assert states(fakes) == {"blue": ["running"]}
    assert engine().ctx.state.new_color is None
    assert engine().abort() is None


def test_stop_old_keeps_the_containers(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote(stop_old=False)  # what `flow -F proxy` does
    assert states(fakes) == {"blue": ["running"], "green": ["running"]}
    assert engine().stop_old() is Color.BLUE
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}
    assert engine().stop_old() is None
    assert engine().rollback().color is Color.BLUE


def test_scale_before_anything_is_live(engine: Make) -> None:
    with pytest.raises(UsageError, match="nothing is live yet"):
        engine().scale(parse_scale("+1"))


def test_promote_with_nothing_deployed(engine: Make) -> None:
    with pytest.raises(UsageError, match="nothing to promote"):
        engine().promote()
    with pytest.raises(UsageError, match="nothing to promote"):
        engine(tests=["tests/smoke"]).promote()  # not "the gate has not passed"


class Gate:
    """A run_gate plugin answering with a fixed result, recording its calls."""

    def __init__(self, exit_code: int, failed_ids: list[str] | None = None) -> None:
        self.exit_code, self.failed_ids, self.calls = exit_code, failed_ids or [], []

    @hookimpl
    def run_gate(self, suites: list[str], color: Color, kind: str) -> TestResult:
        self.calls.append((suites, str(color), kind))
        return TestResult(
            passed=2,
            failed=len(self.failed_ids),
            failed_ids=self.failed_ids,
            exit_code=self.exit_code,
            suites=suites,
            kind=kind,
        )


def with_gate(engine: Engine, gate: Gate) -> Engine:
    engine.ctx.pm.register(gate)
    return engine


def test_release_with_a_passing_gate_goes_live(engine: Make, fakes: Fakes) -> None:
    gate = Gate(0)
    release = with_gate(engine(), gate).release(["tests/smoke"], [])
    assert release is not None
    assert release.state is ReleaseState.LIVE
    assert release.outcome == "succeeded"
    assert gate.calls == [(["tests/smoke"], "blue", "gate")]
    assert engine().ctx.state.live_color is Color.BLUE
    steps = [(s.name, s.detail) for s in engine().ctx.registry.releases("books-app")[0].steps]
    assert steps == [
        ("pick_color", None),
        ("deploy", None),
        ("reconfigure_proxy", "live -, preview blue"),
        ("test", None),
        ("reconfigure_proxy", "live blue, preview -"),
    ]


def test_failed_gate_holds_and_removes_the_new_color(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    with pytest.raises(GateFailed, match=r"test gate failed \(1 failed, 2 passed\): t.py::x"):
        with_gate(engine(), Gate(1, ["t.py::x"])).release(["tests"], [])
    assert engine().ctx.state.live_color is Color.BLUE
    assert engine().ctx.state.new_color is None
    assert states(fakes) == {"blue": ["running"]}
    assert route(fakes)["live_color"] == "blue"
    last = engine().ctx.registry.releases("books-app")[0]
    assert last.state is ReleaseState.GATE_FAILED
    assert last.tests is not None and last.tests.failed_ids == ["t.py::x"]


def test_a_gate_that_ends_past_the_deadline_still_removes_the_new_color(
    engine: Make, fakes: Fakes
) -> None:
    """Removing the new color undoes the release: it runs even after `--timeout`."""
    engine().deploy()
    engine().promote()

    class SlowGate(Gate):
        @hookimpl
        def run_gate(self, suites: list[str], color: Color, kind: str) -> TestResult:
            time.sleep(1.2)
            return TestResult(exit_code=-1, suites=suites, kind=kind)

    with pytest.raises(GateFailed, match="did not finish before the release timed out"):
        with_gate(engine(), SlowGate(-1)).release(["tests"], [], timeout=1.0)
    assert states(fakes) == {"blue": ["running"]}
    assert engine().ctx.state.new_color is None
    assert route(fakes)["preview_color"] is None


def test_once_live_a_release_past_its_deadline_still_stops_the_old_color(
    engine: Make, fakes: Fakes
) -> None:
    """Post-tests that pass but use up the time leave green live and verified: stopping
    blue completes the release rather than failing it half-done."""
    engine().deploy()
    engine().promote()

    class SlowPost(Gate):
        @hookimpl
        def run_gate(self, suites: list[str], color: Color, kind: str) -> TestResult:
            time.sleep(1.2)
            return TestResult(passed=1, exit_code=0, suites=suites, kind=kind)

    done = with_gate(engine(), SlowPost(0)).release([], ["tests/post"], timeout=1.0)
    assert done is not None and done.outcome == "succeeded"
    assert route(fakes)["live_color"] == "green"
    assert states(fakes) == {"blue": ["exited"], "green": ["running"]}


def test_failed_gate_with_keep_failed_keeps_it(engine: Make, fakes: Fakes) -> None:
    with pytest.raises(GateFailed):
        with_gate(engine(), Gate(1, ["t.py::x"])).release(["tests"], [], keep_failed=True)
    assert states(fakes) == {"blue": ["running"]}


def test_empty_suite_closes_the_gate(engine: Make) -> None:
    with pytest.raises(GateFailed, match="no tests were collected"):
        with_gate(engine(), Gate(5)).release(["tests"], [])


def test_failing_post_tests_switch_back(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    post = Gate(1, ["post.py::y"])
    with pytest.raises(ReleaseFailed, match=r"post-promotion tests failed.*switched back to blue"):
        with_gate(engine(), post).release([], ["tests/post"])
    assert post.calls == [(["tests/post"], "green", "post")]
    # green took requests while live: it is drained before it is removed
    green_live = fakes("proxy")["history"][-2]
    assert green_live["live_color"] == "green"
    assert ["books-app", sorted(green_live["live"])] in fakes("proxy")["drained"]
    assert engine().ctx.state.live_color is Color.BLUE
    assert route(fakes)["live_color"] == "blue"
    assert states(fakes) == {"blue": ["running"]}
    last = engine().ctx.registry.releases("books-app")[0]
    assert last.state is ReleaseState.ROLLED_BACK


def test_promote_asks_for_the_gate_when_suites_are_configured(engine: Make) -> None:
    engine().deploy()
    with pytest.raises(UsageError, match="--skip-tests"):
        engine(tests=["tests/smoke"]).promote()
    engine(tests=["tests/smoke"]).promote(skip_tests=True)


def test_test_verb_records_the_result_on_the_release(engine: Make) -> None:
    engine().deploy()
    with pytest.raises(GateFailed):
        with_gate(engine(), Gate(1, ["a::b"])).test(["tests"])
    release = engine().ctx.registry.releases("books-app")[0]
    assert release.state is ReleaseState.DEPLOYED  # still there to fix, retest or abort
    assert release.tests is not None and release.tests.failed_ids == ["a::b"]
    with_gate(engine(), Gate(0)).test(["tests"])
    engine(tests=["tests"]).promote()


def test_a_held_lock_refuses_a_second_release(engine: Make) -> None:
    first = engine()
    holder = {"host": "ci-7", "pid": 4242, "user": "ci", "release": None}
    lock = first.ctx.registry.acquire_lock("books-app", holder, 60)
    try:
        with pytest.raises(LockHeld, match="another release of books-app holds the lock") as info:
            engine().deploy()
        assert info.value.holder["host"] == "ci-7"
    finally:
        lock.release()


def test_a_release_left_running_by_a_dead_process_is_recovered(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    dead = engine()
    dead.ctx.release = start_release(dead.ctx, new_release_id())
    save_state(dead.ctx, release_id=dead.ctx.release.id)
    engine().deploy()
    interrupted = next(
        r for r in engine().ctx.registry.releases("books-app") if r.id == dead.ctx.release.id
    )
    assert interrupted.state is ReleaseState.INTERRUPTED
    assert route(fakes)["live_color"] == "blue"


def test_events_reach_plugins_in_order(engine: Make) -> None:
    seen: list[tuple[str, str]] = []

    class Listener:
        @hookimpl
        def release_event(self, event: str, data: dict[str, Any]) -> None:
            seen.append((event, data.get("step") or data.get("outcome")))

    subject = engine()
    subject.ctx.pm.register(Listener())
    subject.deploy()
    assert seen == [
        ("step-started", "pick_color"),
        ("step-finished", "pick_color"),
        ("step-started", "deploy"),
        ("step-finished", "deploy"),
        ("step-started", "reconfigure_proxy"),
        ("step-finished", "reconfigure_proxy"),
    ]


def test_the_suite_verdict_is_told_before_its_step_ends(engine: Make) -> None:
    """The progress output marks the test step with the suite's verdict, so the verdict
    must arrive between the step's start and end events."""
    events: list[tuple[str, str]] = []

    class Listener:
        @hookimpl
        def release_event(self, context: Any, event: str, data: dict[str, Any]) -> None:
            events.append((event, data.get("step") or data.get("kind") or ""))

    gated = with_gate(engine(), Gate(1, ["t.py::x"]))
    gated.ctx.pm.register(Listener())
    with pytest.raises(GateFailed):
        gated.release(["tests"], [])
    verdict = events.index(("tests-finished", "gate"))
    assert events[verdict - 1] == ("step-started", "test")
    assert events[verdict + 1] == ("step-finished", "test")


def test_a_deploy_that_fails_before_touching_anything_keeps_the_deployed_release_current(
    engine: Make, fakes: Fakes
) -> None:
    """green is deployed and passed its gate; a second deploy fails in pick_color. green's
    release stays the current one, so it can still be promoted without testing again."""
    engine().deploy()
    engine().promote()
    with_gate(engine(), Gate(0)).release(["tests"], [])  # green live
    gated = with_gate(engine(), Gate(0))
    gated.deploy()
    gated.test(["tests"])
    deployed = engine().ctx.state.release_id

    class Broken:
        @hookimpl(tryfirst=True)
        def pick_color(self, context: Any) -> Color:
            raise FlowgateError("no color for you")

    failing = engine()
    failing.ctx.pm.register(Broken())
    with pytest.raises(FlowgateError, match="no color for you"):
        failing.deploy()
    assert engine().ctx.state.release_id == deployed
    assert engine().ctx.registry.releases("books-app")[0].outcome == "failed"
    promoted = engine(tests=["tests"]).promote()
    assert promoted is not None and promoted.id == deployed


def test_open_context_reads_only_the_config_files_it_is_given(project: Path) -> None:
    """`flow` resolves docker-flow.yml itself, by Docker Flow's rules."""
    (project / "docker-flow.yml").write_text("pull_side_targets: true\n")
    assert open_context(project, {}, env={}).settings.pull_side_targets is True
    only_ours = open_context(project, {}, env={}, files=("flowgate.yml",))
    assert only_ours.settings.pull_side_targets is False


def test_each_transition_is_saved_before_the_action_it_leads_to(engine: Make) -> None:
    """What the registry holds when stop_old, drain and remove start (docs/engine.md)."""
    seen: list[tuple[str, str]] = []

    class Spy:
        def _saw(self, hook: str, context: Any) -> None:
            current = context.state.release_id
            stored = next(r for r in context.registry.releases("books-app") if r.id == current)
            seen.append((hook, str(stored.state)))

        @hookimpl(tryfirst=True)
        def stop_old(self, context: Any) -> None:
            self._saw("stop_old", context)

        @hookimpl(tryfirst=True)
        def drain(self, context: Any) -> None:
            self._saw("drain", context)

        @hookimpl(tryfirst=True)
        def remove(self, context: Any) -> None:
            self._saw("remove", context)

    def spied(**flags: Any) -> Engine:
        subject = engine(**flags)
        subject.ctx.pm.register(Spy())
        return subject

    spied().deploy()
    spied().promote()
    with pytest.raises(GateFailed):
        with_gate(spied(), Gate(1, ["t::x"])).release(["tests"], [])
    with pytest.raises(ReleaseFailed, match="switched back"):
        with_gate(spied(), Gate(1, ["t::y"])).release([], ["tests/post"])
    with_gate(spied(), Gate(0)).release(["tests"], [])
    spied().rollback()
    assert seen == [
        ("remove", "gate-failed"),
        ("drain", "rolled-back"),
        ("remove", "rolled-back"),
        ("stop_old", "live"),
        ("drain", "live"),  # the built-in stop_old drains through the hook
        ("stop_old", "live"),
        ("drain", "live"),
    ]
