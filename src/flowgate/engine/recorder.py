"""Runs one step of a release: records it, saves it, and tells the `release_event` hook.

State is saved before and after every step, so a process that dies mid-step leaves a
record saying where it was (`status` shows it; `abort` and `release` recover from it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from flowgate.backends.base import LockHandle
from flowgate.engine.context import ReleaseContext, abandoned
from flowgate.errors import FlowgateError, LockHeld, ReleaseFailed
from flowgate.models import Release, Step, now_iso

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


def acquire_lock(context: ReleaseContext, holder: dict[str, Any], ttl: float) -> LockHandle:
    """Take the release lock; a lock whose holder died on this host is taken over at once
    instead of blocking every verb until it expires."""
    registry, service = context.registry, context.service_name
    try:
        return registry.acquire_lock(service, holder, ttl)
    except LockHeld as held:
        if not abandoned(held.holder) or not registry.break_lock(service, held.holder):
            raise
        log.warning(
            "took over the release lock of %s: its holder (pid %s on this host) is gone",
            service,
            held.holder.get("pid"),
        )
    return registry.acquire_lock(service, holder, ttl)


@contextmanager
def held_lock(context: ReleaseContext, holder: dict[str, Any]) -> Iterator[LockHandle]:
    """Hold the target's release lock, renewing it in the background until done."""
    ttl = float(context.settings.lock_ttl)
    lock = acquire_lock(context, holder, ttl)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                lock.renew()
            except FlowgateError as err:
                log.warning("could not renew the release lock: %s", err)

    renewer = threading.Thread(target=renew, name="flowgate-lock", daemon=True)
    renewer.start()
    try:
        yield lock
    finally:
        stop.set()
        renewer.join()
        lock.release()
