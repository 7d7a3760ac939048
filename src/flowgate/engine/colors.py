"""Color choice, pure: blue first, then always the color that is not live; and which
color, if any, a rollback may bring back."""

from __future__ import annotations

from collections.abc import Iterable

from flowgate.models import Color, Release, ReleaseState, TargetState


def next_color(state: TargetState) -> Color:
    """The color a new release goes to.

    Never the live color. Before the first promotion, a repeated deploy reuses the color
    deployed last, so it replaces its own earlier attempt instead of spreading to both.
    """
    if state.live_color is None:
        return state.deployed_color or Color.BLUE
    return state.live_color.other


def last_release_of(color: Color, releases: Iterable[Release]) -> Release | None:
    """The newest release that put something on `color` (releases come newest first)."""
    return next((release for release in releases if release.color == color), None)


def previous_live_color(state: TargetState, releases: Iterable[Release]) -> Color | None:
    """The not-live color, when what it holds was live before (promoted, or rolled back
    to) and nothing was deployed onto it since; None otherwise.

    Only such a color may be stopped as "old" or brought back by a rollback: a color whose
    last release was deployed, failed its gate, was aborted, switched back or interrupted
    never passed the gate, so it must never reach the public route that way. Derived from
    the release records, so states saved by older versions need no migration.
    """
    if state.live_color is None:
        return None
    other = state.live_color.other
    if state.new_color == other:
        return None
    last = last_release_of(other, releases)
    if last is None or last.state is not ReleaseState.LIVE:
        return None
    return other
