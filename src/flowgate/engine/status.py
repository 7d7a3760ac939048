"""What `status` and `history` report, as plain data (the `-o json` shape is public)."""

from __future__ import annotations

from typing import Any

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext, abandoned
from flowgate.engine.evidence import disagreement
from flowgate.engine.probe import proxy_check
from flowgate.models import Color, ColorState, Instance, Release, ReleaseState, TargetState


def color_state(state: TargetState, color: Color, instances: list[Instance]) -> ColorState:
    if not instances:
        return ColorState.ABSENT
    if color == state.live_color:
        return ColorState.LIVE
    if any(instance.running for instance in instances):
        return ColorState.NEW
    return ColorState.STOPPED


def release_view(release: Release | None, lock_held: bool) -> dict[str, Any] | None:
    if release is None:
        return None
    state, outcome, error = release.state, release.outcome, release.error
    if state is ReleaseState.RUNNING and not lock_held:
        state = ReleaseState.INTERRUPTED  # its process died mid-step
    elif died_after(release) and not lock_held:
        # It reached its state but its process died before recording its end (in the
        # step after the switch, say): not "live" with no end, but interrupted there.
        outcome = "interrupted"
        error = error or f"its process stopped during {release.step}"
    tests = release.tests
    return {
        "id": release.id,
        "kind": release.kind,
        "restores": release.restores,  # a rollback: the release it brought back
        "color": str(release.color) if release.color else None,
        "instances": release.instances,
        "images": release.images,
        "state": str(state),
        "step": release.step,
        "outcome": outcome,
        "error": error,
        "started": release.started,
        "ended": release.ended,
        "duration": release.duration,
        "steps": [step.to_dict() for step in release.steps],
        "tests": test_view(tests),
        "post_tests": test_view(release.post_tests),
    }


#: States a verb records its end in; one left without an end was interrupted.
ENDING_STATES = frozenset(
    {
        ReleaseState.LIVE,
        ReleaseState.FAILED,
        ReleaseState.GATE_FAILED,
        ReleaseState.ROLLED_BACK,
        ReleaseState.ABORTED,
    }
)


def died_after(release: Release) -> bool:
    """True when the release reached a final state but its end was never recorded."""
    return release.ended is None and release.state in ENDING_STATES


def test_view(tests: Any) -> dict[str, Any] | None:
    if tests is None:
        return None
    return {
        "passed": tests.passed,
        "failed": tests.failed + tests.errors,
        "skipped": tests.skipped,
        "failed_ids": list(tests.failed_ids),
        "exit_code": tests.exit_code,
        "report": tests.report,
    }


def target_status(context: ReleaseContext) -> dict[str, Any]:
    state = context.state
    colors: dict[str, Any] = {}
    found: dict[Color, list[Instance]] = {}
    for color in Color:
        # Asked of the `instances` hook, fresh.
        instances = found[color] = calls.instances(context, color, fresh=True)
        colors[str(color)] = {
            "state": str(color_state(state, color, instances)),
            "instances": [instance.to_dict() for instance in instances],
        }
    registry, service = context.registry, context.service_name
    current = registry.release(service, state.release_id) if state.release_id else None
    current = current or next(registry.iter_releases(service), None)
    lock = context.registry.lock_holder(context.service_name)
    if lock is not None and abandoned(lock):
        # Its process died (kill -9): the release is not running, and the next verb
        # takes the lock over instead of waiting for it to expire.
        lock = {**lock, "gone": True}
    data: dict[str, Any] = {
        "project": context.project,
        "target": context.target,
        "service": context.service_name,
        "live_color": str(state.live_color) if state.live_color else None,
        "deployed_color": str(state.deployed_color) if state.deployed_color else None,
        "scale": state.scale,
        "colors": colors,
        "lock": lock,
        "release": release_view(current, lock is not None and not lock.get("gone")),
        # What runs and what the proxy serves, checked, not taken from the state.
        "state_disagrees": disagreement(context, found),
        "proxy": proxy_check(context),
    }
    nodes = context.pm.hook.nodes(context=context) or []
    if nodes:  # a runtime spanning machines (swarm): which node is down, what it held
        data["nodes"] = nodes
    return data


def history(context: ReleaseContext, limit: int | None = None) -> list[dict[str, Any]]:
    """The newest `limit` releases (all when None), newest first."""
    lock = context.registry.lock_holder(context.service_name)
    releases = context.registry.releases(context.service_name, limit)
    views = [release_view(r, lock is not None and i == 0) for i, r in enumerate(releases)]
    return [view for view in views if view is not None]
