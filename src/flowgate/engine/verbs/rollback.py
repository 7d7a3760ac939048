"""rollback: bring back the release that was live before (or `--to` an older one) and
switch the proxy to it, then stop the other color. The warm copy is started when the
not-live color still holds it; otherwise the release is re-created from its record
(engine/wayback.py). Only a release that went live before comes back."""

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
from flowgate.engine.routing import live_release, switch_route
from flowgate.engine.wayback import restored_service, rollback_target, source_of
from flowgate.errors import FlowgateError, RollbackFailed, UsageError
from flowgate.models import Color, Instance, Release, ReleaseState

log = logging.getLogger("flowgate")


def rollback(
    context: ReleaseContext, timeout: float | None = None, to: str | None = None
) -> Release:
    """Bring back the release that was live before the current one (or release `to`):
    its warm copy when the not-live color still holds it, else re-created from its record,
    healthy before the switch."""
    release_id = new_release_id()
    with operation(context, timeout, release_id):
        live = context.state.live_color
        if live is None:
            raise UsageError("nothing to roll back: nothing is live yet")
        other = live.other
        if context.state.new_color == other:
            raise UsageError(
                f"cannot roll back: {other} holds an unpromoted deploy (release "
                f"{context.state.release_id}), not a color that was live: `flowgate abort` "
                "removes it, `flowgate promote` makes it live"
            )
        releases = context.registry.releases(context.service_name)
        target = rollback_target(context, releases, to)
        current = live_release(context, releases)
        if (
            current is not None
            and source_of(current, releases).id == source_of(target, releases).id
        ):
            raise UsageError(f"cannot roll back to {target.id}: it is the live release")
        warm = warm_copy(context, target, releases)
        if not warm:
            if not target.restore:
                raise UsageError(
                    f"cannot roll back to {target.id}: {other} no longer holds it and its "
                    "record has nothing to re-create it from (recorded before flowgate kept "
                    "image ids)"
                )
            context.service_override = restored_service(target.restore)
        release = start_release(context, release_id, kind="rollback")
        release.restores, release.route, release.restore = target.id, target.route, target.restore
        release.color = other
        release.instances = len(warm) if warm else int((target.restore or {}).get("scale") or 1)
        old_route = context.route_override
        try:
            if warm:
                calls.hook_step(context, "start", color=other, count=len(warm))
            else:
                # Re-created from the record on the not-live color, healthy before the switch.
                calls.hook_step(context, "deploy", color=other, count=release.instances)
            switch_route(context, release)
            calls.route(context, other, None)
        except FlowgateError as err:
            # A failed proxy apply keeps the old routing, so `live` still serves.
            context.route_override = old_route
            undo = "stop_old" if warm else "remove"
            try:
                calls.hook_step(context, undo, cleanup=True, color=other)
            except FlowgateError as undo_err:
                log.warning("could not %s %s again: %s", undo.replace("_old", ""), other, undo_err)
            raise RollbackFailed(
                f"rollback to {other} failed: {err}; {live} still serves "
                f"(release {target.id} not brought back; `flowgate status` shows both colors)"
            ) from err
        save_state(
            context,
            live_color=other,
            deployed_color=other,
            scale=len(calls.running(context, other)),
            release_id=release.id,
        )
        transition(context, release, ReleaseState.LIVE)
        # Switched: stopping the other color completes the rollback, deadline or not.
        calls.hook_step(context, "stop_old", cleanup=True, color=live)
        finish(context, release, "succeeded")
        return release


def warm_copy(context: ReleaseContext, target: Release, releases: list[Release]) -> list[Instance]:
    """The not-live color's kept instances when they are `target`'s release, else []."""
    live = context.state.live_color
    assert live is not None
    other = live.other
    if previous_live_color(context.state, releases) != other:
        return []
    last = last_release_of(other, releases)
    if last is None or source_of(last, releases).id != source_of(target, releases).id:
        return []
    return calls.instances(context, other, fresh=True)


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
    releases = context.registry.iter_releases  # read newest first, only as far as needed
    if previous_live_color(context.state, releases(context.service_name)) != other:
        last = last_release_of(other, releases(context.service_name))
        if last is None:
            raise UsageError(f"nothing to {verb}: {other} never held a release")
        raise UsageError(
            f"cannot {verb}: the last release on {other} ({last.id}, {last.state}) was "
            "never live; only a color that was live before can be stopped as old or "
            "rolled back to"
        )
    return other
