"""rollback: start the previous (stopped, warm) color, switch the proxy to it, stop the
other. Only a color that was live before comes back."""

from __future__ import annotations

import logging

from flowgate.engine import calls
from flowgate.engine.colors import last_release_of, previous_live_color
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import (
    finish,
    new_release_id,
    save_state,
    start_release,
    transition,
)
from flowgate.errors import FlowgateError, RollbackFailed, UsageError
from flowgate.models import Color, Release, ReleaseState

log = logging.getLogger("flowgate")


def rollback(context: ReleaseContext, timeout: float | None = None) -> Release:
    release_id = new_release_id()
    with operation(context, timeout, release_id):
        live = context.state.live_color
        previous = previous_live(context, "roll back")
        kept = calls.instances(context, previous, fresh=True)
        if not kept:
            raise UsageError(f"cannot roll back: {previous} has no instances left")
        release = start_release(context, release_id, kind="rollback")
        release.color, release.instances = previous, len(kept)
        try:
            calls.hook_step(context, "start", color=previous, count=len(kept))
            calls.route(context, previous, None)
        except FlowgateError as err:
            # A failed proxy apply keeps the old routing, so `live` still serves.
            try:
                calls.hook_step(context, "stop_old", cleanup=True, color=previous)
            except FlowgateError as stop_err:
                log.warning("could not stop %s again: %s", previous, stop_err)
            raise RollbackFailed(
                f"rollback to {previous} failed: {err}; {live} still serves "
                "(`flowgate status` shows both colors)"
            ) from err
        save_state(
            context,
            live_color=previous,
            deployed_color=previous,
            scale=len(calls.running(context, previous)),
            release_id=release.id,
        )
        transition(context, release, ReleaseState.LIVE)
        # Switched: stopping the other color completes the rollback, deadline or not.
        calls.hook_step(context, "stop_old", cleanup=True, color=live)
        finish(context, release, "succeeded")
        return release


def previous_live(context: ReleaseContext, verb: str) -> Color:
    """The color `verb` may act on: the not-live one, only if it was live before.

    Every refusal is a precondition of the user's request that cannot be met, so it
    is a usage error (exit 2), like "nothing to promote"; nothing has changed."""
    live = context.state.live_color
    if live is None:
        raise UsageError(f"nothing to {verb}: nothing is live yet")
    other = live.other
    if context.state.new_color == other:
        raise UsageError(
            f"cannot {verb}: {other} holds an unpromoted deploy (release "
            f"{context.state.release_id}), not a color that was live: `flowgate abort` "
            "removes it, `flowgate promote` makes it live"
        )
    releases = context.registry.releases(context.service_name)
    if previous_live_color(context.state, releases) != other:
        last = last_release_of(other, releases)
        if last is None:
            raise UsageError(f"nothing to {verb}: {other} never held a release")
        raise UsageError(
            f"cannot {verb}: the last release on {other} ({last.id}, {last.state}) was "
            "never live; only a color that was live before can be stopped as old or "
            "rolled back to"
        )
    return other
