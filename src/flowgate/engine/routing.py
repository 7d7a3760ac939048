"""Which paths and domains the public route has, and when it may change.

Only a switch changes the public route: `promote` (and `release`'s switch) puts the new
release's route live, `rollback` the route of the release it brings back. Every other verb
(`deploy`, `test`, `abort`, `scale`, `stop-old`, recovery) keeps the route the live
release went live with, whatever `service_path` / `service_domain` it is given now: a new
domain handed to `deploy` must not rewrite the live route at once. Each release records its
route (`Release.route`) when it starts; the settings' values are used only before anything
is live, and for records written before routes were recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flowgate.engine.context import ReleaseContext
from flowgate.models import Release, ReleaseState

log = logging.getLogger("flowgate")


def settings_route(context: ReleaseContext) -> dict[str, Any]:
    """The route the settings ask for: what a release started now will go live with."""
    settings = context.settings
    return {
        "paths": list(settings.service_path) or ["/"],
        "domains": list(settings.service_domain),
    }


def route_values(context: ReleaseContext) -> dict[str, Any]:
    """The paths and domains the proxy step uses in this command."""
    return context.route_override or settings_route(context)


def live_release(
    context: ReleaseContext, releases: Iterable[Release] | None = None
) -> Release | None:
    """The release the live color runs: the newest live one on that color."""
    live = context.state.live_color
    if live is None:
        return None
    if releases is None:  # newest first, read lazily: the live release is a recent one
        releases = context.registry.iter_releases(context.service_name)
    return next((r for r in releases if r.color == live and r.state is ReleaseState.LIVE), None)


def pin_live_route(context: ReleaseContext) -> None:
    """Keep the live release's route for this command; say so when the settings differ."""
    release = live_release(context)
    if release is None or not release.route:
        return
    context.route_override = dict(release.route)
    wanted = settings_route(context)
    if wanted != context.route_override:
        log.warning(
            "the public route keeps %s (release %s) until a promote; the settings ask for %s",
            describe(context.route_override),
            release.id,
            describe(wanted),
        )


def switch_route(context: ReleaseContext, release: Release | None) -> None:
    """From now on in this command, the public route is `release`'s (a switch to it)."""
    context.route_override = dict(release.route) if release and release.route else None


def describe(route: dict[str, Any]) -> str:
    paths = ",".join(route.get("paths") or ["/"])
    domains = ",".join(route.get("domains") or [])
    return f"paths {paths}" + (f" on {domains}" if domains else "")


def check_route(context: ReleaseContext) -> None:
    """Build the Route the release will go live with before anything changes: a value
    the proxy cannot take fails here, not after the deploy replaced the warm color."""
    from flowgate.backends.base import Route

    values = settings_route(context)
    Route(
        service=context.service_name,
        paths=tuple(values["paths"]),
        domains=tuple(values["domains"]),
        port=context.service.main_port,
    )
