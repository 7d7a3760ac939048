"""deploy: pick a color, start the new color there, put it on the preview route.

README "How a release goes", steps 1-3. The live color is never touched.
"""

from __future__ import annotations

import logging

from flowgate.config.scale import ScaleSpec, resolve_count
from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import (
    new_release_id,
    save_release,
    save_state,
    start_release,
    transition,
)
from flowgate.engine.routing import check_route
from flowgate.engine.verbs.abort import discard_new
from flowgate.engine.wayback import snapshot
from flowgate.errors import FlowgateError
from flowgate.models import Color, Release, ReleaseState

log = logging.getLogger("flowgate")

#: Instance states of containers (docker) or tasks (swarm) that are not running.
STOPPED_STATES = frozenset({"exited", "shutdown", "dead"})


def deploy(
    context: ReleaseContext, scale: ScaleSpec | None = None, timeout: float | None = None
) -> Release:
    release_id = new_release_id()
    with operation(context, timeout, release_id):
        return deploy_new(context, release_id, scale)


def deploy_new(
    context: ReleaseContext, release_id: str, scale: ScaleSpec | None, keep_failed: bool = False
) -> Release:
    """Deploy a new release's color and preview it; the release ends `deployed`."""
    replaced = context.state.release_id
    check_route(context)  # a route the proxy cannot take fails before anything changes
    release = start_release(context, release_id)
    state = context.state
    try:
        color: Color = calls.hook_step(context, "pick_color")
        if color == state.live_color:
            raise FlowgateError(f"pick_color chose the live color {color}; refusing")
        # Before anything is live, Compose's `deploy.replicas` is the count to start from.
        current = state.scale if state.live_color else context.service.replicas
        release.instances = resolve_count(scale, current)
    except FlowgateError:
        if state.new_color is not None:
            # Nothing was touched: the deployed release before stays the current one,
            # with the gate it passed (this one is in the history, failed).
            save_state(context, release_id=replaced)
        raise
    release.color = color
    # Saved before the deploy starts, so a deploy that dies half-way still names its
    # color as the new one: `status` shows it and `abort` removes it.
    save_state(context, deployed_color=color)
    try:
        started = calls.hook_step(context, "deploy", color=color, count=release.instances)
    except FlowgateError:
        if not keep_failed:
            discard_failed_deploy(context, color, previewed=state.new_color == color)
        raise
    # What brings this release back once its containers are gone (engine/wayback.py).
    release.restore = snapshot(context, started)
    save_release(context)
    try:
        calls.route(context, state.live_color, color)
    except FlowgateError:
        discard_new(context, color, touch_proxy=False)
        raise
    transition(context, release, ReleaseState.DEPLOYED)
    return release


def discard_failed_deploy(context: ReleaseContext, color: Color, previewed: bool) -> None:
    """Remove what a failed deploy left; the error that failed it is what gets reported,
    and `deploy` stays the release's step in `status`.

    A deploy that failed before starting anything (a missing image, a failed build or
    side target) leaves only stopped containers there: the color kept for rollback.
    Those stay, and the release is recorded as having put nothing on the color, so
    `rollback` can still bring them back."""
    release = context.release
    failed_step = release.step if release else None
    try:
        found = calls.instances(context, color, fresh=True)
        if previewed or any(i.state not in STOPPED_STATES for i in found):
            discard_new(context, color, touch_proxy=previewed)
        else:
            save_state(context, deployed_color=context.state.live_color)
            if release is not None:
                release.color = None
    except FlowgateError as err:
        log.warning("could not remove the failed %s: %s", color, err)
    if release is not None:
        release.step = failed_step
