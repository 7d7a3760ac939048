"""Records a release: its start, each step, each state transition, its end; and tells
the `release_event` hook.

A transition is saved before the action that follows it, and a step's name before the
step runs, so a process that dies mid-step leaves a record saying where it was (`status`
shows it; the next verb recovers from it: see engine/states.py).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flowgate.engine.context import ReleaseContext
from flowgate.engine.routing import settings_route
from flowgate.engine.states import check_transition
from flowgate.errors import ReleaseFailed
from flowgate.models import Release, ReleaseState, Step, now_iso

T = TypeVar("T")
log = logging.getLogger("flowgate")


def emit(context: ReleaseContext, event: str, **data: Any) -> None:
    """Tell every plugin; a broken notifier must not break a release."""
    try:
        context.pm.hook.release_event(context=context, event=event, data=data)
    except Exception as err:  # plugins' notification failures are reported, never fatal
        log.warning("a release_event plugin failed: %s", err)


def save_release(context: ReleaseContext) -> None:
    if context.release is not None:
        context.registry.save_release(context.release)


def new_release_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


def save_state(context: ReleaseContext, **changes: Any) -> None:
    """Save the target's state with `changes` (check-and-set against what was read)."""
    state = dataclasses.replace(context.state, **changes)
    context.state = context.registry.save_state(state)


def current_release(context: ReleaseContext) -> Release | None:
    """The release the target's state names as its current one, if it is recorded."""
    wanted = context.state.release_id
    return context.registry.release(context.service_name, wanted) if wanted else None


def start_release(context: ReleaseContext, release_id: str, kind: str = "release") -> Release:
    """Record a new release (running) and make it the state's current one before any step
    runs, so `status` shows it (running, failed or interrupted) from its start."""
    release = Release(
        id=release_id,
        service=context.service_name,
        target=context.target,
        images=[context.service.image or context.service.name],
        previous_color=context.state.live_color,
        kind=kind,
        route=settings_route(context),
    )
    context.release = release
    save_release(context)
    save_state(context, release_id=release.id)
    return release


def transition(context: ReleaseContext, release: Release | None, to: ReleaseState) -> None:
    """Move `release` to state `to` and save it, before whatever the new state leads to.
    An edge engine/states.py does not allow raises IllegalTransition. No release (a
    promote of a color deployed before releases were recorded): nothing to record."""
    if release is None:
        return
    check_transition(release.state, to)
    release.state = to
    context.registry.save_release(release)


def run_step(
    context: ReleaseContext,
    name: str,
    action: Callable[[], T],
    cleanup: bool = False,
    note: str | None = None,
) -> T:
    """Run `action` as the release step `name`, recording start, end and outcome.

    `note` says what this run of the step does (the proxy step's colors, say); it is the
    step's `detail` unless the step fails, when the error is.

    A `cleanup` step runs even past the deadline: undoing what a failed release did (a
    timed-out release must not leave its new color behind), or finishing what a switch
    started (once the new color is live, its post-tests and the old color's stop must run,
    or the release would stop half-done with an unverified color live)."""
    release = context.release
    remaining = context.remaining()
    if not cleanup and remaining is not None and remaining <= 0:
        raise ReleaseFailed(f"the release timed out before step {name}")
    step = Step(name=name, detail=note)
    if release is not None:
        release.step = name
        release.steps.append(step)
        save_release(context)
    emit(context, "step-started", step=name, note=note)
    started = time.monotonic()
    try:
        result = action()
    except BaseException as err:
        step.ended, step.outcome = now_iso(), "failed"
        step.detail = str(err) or type(err).__name__
        save_release(context)
        emit(
            context,
            "step-failed",
            step=name,
            note=note,
            error=step.detail,
            duration=time.monotonic() - started,
        )
        raise
    step.ended, step.outcome = now_iso(), "ok"
    save_release(context)
    emit(context, "step-finished", step=name, note=note, duration=time.monotonic() - started)
    return result


def finish(
    context: ReleaseContext, release: Release, outcome: str, error: str | None = None
) -> None:
    release.outcome, release.error, release.ended = outcome, error, now_iso()
    context.registry.save_release(release)
    emit(context, "release-finished", outcome=outcome, error=error, release=release.id)
