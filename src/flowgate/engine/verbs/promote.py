"""promote: switch the proxy to the new color, run the post-promotion tests (switching
back if they fail), then stop the old color.

README "How a release goes", steps 5-7."""

from __future__ import annotations

import logging

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import current_release, finish, save_state, transition
from flowgate.engine.routing import switch_route
from flowgate.engine.verbs.test import gate_message, require_new, run_gate
from flowgate.errors import FlowgateError, ReleaseFailed, RollbackFailed, UsageError
from flowgate.models import Color, Release, ReleaseState, TestResult

log = logging.getLogger("flowgate")


def promote(
    context: ReleaseContext,
    skip_tests: bool = False,
    post_tests: list[str] | None = None,
    keep_failed: bool = False,
    stop_old: bool = True,
) -> Release | None:
    with operation(context):
        release = context.release = current_release(context)
        require_new(context, "promote")
        passed = release is not None and release.tests is not None and release.tests.ok
        if context.settings.tests and not passed and not skip_tests:
            raise UsageError(
                "the test gate has not passed for this release: run `flowgate test` "
                "or promote with --skip-tests"
            )
        return switch_to_new(context, post_tests or [], keep_failed, stop_old)


def switch_to_new(
    context: ReleaseContext, post_tests: list[str], keep_failed: bool, stop_old: bool = True
) -> Release | None:
    """Make the new color live; the release ends `live` (or `rolled-back`)."""
    new = require_new(context, "promote")
    old = context.state.live_color
    instances = calls.running(context, new, fresh=True)
    unhealthy = [i.name for i in instances if not i.healthy]
    if unhealthy:
        raise ReleaseFailed(f"not promoting: {', '.join(unhealthy)} not healthy")
    release = context.release
    before = release.state if release is not None else None
    if before is not None and before is not ReleaseState.RUNNING:
        # Saved before the switch: a process that dies in it leaves a running release,
        # which the next verb recovers (the proxy back on the saved live color).
        transition(context, release, ReleaseState.RUNNING)
    old_route = context.route_override
    switch_route(context, release)  # the new release's route goes live with it
    try:
        calls.route(context, new, None)
    except FlowgateError:
        context.route_override = old_route
        if before is not None and before is not ReleaseState.RUNNING:
            transition(context, release, before)  # not switched: as it was
        raise
    save_state(context, live_color=new, deployed_color=new, scale=len(instances))
    if post_tests:
        result = run_gate(context, post_tests, new, "post")
        if not result.ok:
            context.route_override = old_route
            switch_back(context, new, old, keep_failed, result)
    transition(context, release, ReleaseState.LIVE)
    if old is not None and stop_old:
        # Live and verified: stopping the old color completes the release, deadline or not.
        calls.hook_step(context, "stop_old", cleanup=True, color=old)
    if release is not None:
        finish(context, release, "succeeded")
    return release


def switch_back(
    context: ReleaseContext,
    new: Color,
    old: Color | None,
    keep_failed: bool,
    result: TestResult,
) -> None:
    """Post-promotion tests failed: the proxy back on `old`, then `new` drained and removed."""
    try:
        calls.route(context, old, None, cleanup=True, step_name="switch_back")
    except FlowgateError as err:
        raise RollbackFailed(
            f"post-promotion tests failed and switching back to {old} failed: {err}; "
            f"the proxy still serves {new}: run `flowgate rollback`"
        ) from err
    # `new` stays the deployed color until it is gone, so `abort` finds it if removing
    # it fails; that failure is a warning: the switch back, the news, has happened.
    save_state(
        context,
        live_color=old,
        deployed_color=new,
        scale=len(calls.running(context, old)) if old else None,
    )
    transition(context, context.release, ReleaseState.ROLLED_BACK)
    if not keep_failed:
        try:
            # Requests the new color took while live must finish before it is removed.
            calls.hook_step(
                context, "drain", cleanup=True, color=new, instances=calls.running(context, new)
            )
            calls.hook_step(context, "remove", cleanup=True, color=new)
            save_state(context, deployed_color=old)
        except FlowgateError as err:
            log.warning("could not remove %s (`flowgate abort` removes it): %s", new, err)
    raise ReleaseFailed(
        f"{gate_message(result, 'post-promotion tests')}; switched back to {old or 'no color'}"
    )
