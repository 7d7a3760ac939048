"""Color choice, pure: blue first, then always the color that is not live."""

from __future__ import annotations

from flowgate.models import Color, TargetState


def next_color(state: TargetState) -> Color:
    """The color a new release goes to.

    Never the live color. Before the first promotion, a repeated deploy reuses the color
    deployed last, so it replaces its own earlier attempt instead of spreading to both.
    """
    if state.live_color is None:
        return state.deployed_color or Color.BLUE
    return state.live_color.other
