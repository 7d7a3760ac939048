"""abort: remove a new color that was never promoted; the proxy keeps serving the live one."""

from __future__ import annotations

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import current_release, finish, save_state, transition
from flowgate.models import Color, Release, ReleaseState


def abort(context: ReleaseContext) -> Release | None:
    with operation(context):
        new = context.state.new_color
        if new is None:
            return None
        release = context.release = current_release(context)
        discard_new(context, new)
        transition(context, release, ReleaseState.ABORTED)
        if release is not None:
            finish(context, release, "aborted")
        return release


def discard_new(context: ReleaseContext, color: Color, touch_proxy: bool = True) -> None:
    """Take an unpromoted color out of the preview route and remove it."""
    live = context.state.live_color
    if touch_proxy:
        calls.route(context, live, None, cleanup=True)
    calls.hook_step(context, "remove", cleanup=True, color=color)
    save_state(context, deployed_color=live)
