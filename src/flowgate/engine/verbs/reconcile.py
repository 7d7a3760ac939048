"""reconcile: rebuild the target's state from what runs, then put the proxy in step with
it. Never starts, stops or removes a container.

The live color is the one running instances, when only one color does; when both run,
the newest release that went live on a running color (the release records survive a lost
state file) says which; with neither, `--live COLOR` must say it. The other running color
becomes the deployed (new) color, so `abort` or `promote` can act on it.

Then (unless `--dry-run`) the proxy is set to serve that state: the live color on the
public route with the route its release went live with, the new color on the preview. A
proxy that was killed or lost its configuration serves again.
"""

from __future__ import annotations

from typing import Any

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext, holder_identity
from flowgate.engine.evidence import facts, summary
from flowgate.engine.lock import held_lock
from flowgate.engine.routing import pin_live_route
from flowgate.errors import UsageError
from flowgate.models import Color, Instance, Release, ReleaseState, TargetState


def reconcile(
    context: ReleaseContext, live: Color | None = None, dry_run: bool = False
) -> dict[str, Any]:
    """The state before and after, what runs, and whether it was written."""
    with held_lock(context, holder_identity()):
        # A damaged state file stops here (exit 4, naming it): move it aside, run again.
        before = context.registry.load_state(context.service_name)
        found = facts(context)
        releases = context.registry.releases(context.service_name)
        chosen = choose_live(found, releases, live)
        running = {color: [i for i in found[color] if i.running] for color in Color}
        # The other color running is a new (unpromoted) color, unless its newest release
        # went live before: then it is the old color, left running (`stop-old` stops it).
        other = chosen.other if chosen and running[chosen.other] else None
        last_on_other = newest_release_on(releases, other) if other else None
        new = (
            other if last_on_other is None or last_on_other.state is not ReleaseState.LIVE else None
        )
        current = newest_release_on(releases, new) if new else newest_live_release(releases, chosen)
        state = TargetState(
            service=context.service_name,
            live_color=chosen,
            deployed_color=new or chosen,
            scale=len(running[chosen]) if chosen else None,
            release_id=current.id if current else None,
            version=before.version,
        )
        stored = before.version > 0
        changed = not stored or state.to_dict() != before.to_dict()
        if changed and not dry_run:
            context.state = context.registry.save_state(state)
        elif stored:
            context.state = before
        applied = False
        if chosen is not None and not dry_run:
            # The proxy back in step with the state: the live route as the live release
            # went live with it (a restarted HAProxy serves again), the new color previewed.
            pin_live_route(context)
            calls.route(context, chosen, new)
            applied = True
        return {
            "service": context.service_name,
            "before": before.to_dict() if stored else None,
            "after": state.to_dict(),
            "running": {str(color): summary(found[color]) for color in Color},
            "changed": changed,
            "written": changed and not dry_run,
            "proxy_applied": applied,
        }


def choose_live(
    found: dict[Color, list[Instance]], releases: list[Release], live: Color | None
) -> Color | None:
    running = [color for color in Color if any(i.running for i in found[color])]
    if live is not None:
        if live not in running:
            raise UsageError(f"--live {live}: {live} has no running instance")
        return live
    if len(running) < 2:
        return running[0] if running else None
    for release in releases:
        if release.state is ReleaseState.LIVE and release.color in running:
            return release.color
    raise UsageError(
        "both colors run and no release record says which went live last: say which one "
        "the proxy serves with --live blue|green"
    )


def newest_live_release(releases: list[Release], color: Color | None) -> Release | None:
    return next((r for r in releases if r.color == color and r.state is ReleaseState.LIVE), None)


def newest_release_on(releases: list[Release], color: Color | None) -> Release | None:
    return next((r for r in releases if r.color == color), None)
