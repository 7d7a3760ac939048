from __future__ import annotations

from flowgate.engine.colors import next_color
from flowgate.models import Color, TargetState


def state(live: Color | None, deployed: Color | None) -> TargetState:
    return TargetState(service="p-app", live_color=live, deployed_color=deployed)


def test_first_deploy_is_blue() -> None:
    assert next_color(state(None, None)) is Color.BLUE


def test_redeploy_before_any_promotion_reuses_its_color() -> None:
    assert next_color(state(None, Color.BLUE)) is Color.BLUE


def test_alternates_away_from_the_live_color() -> None:
    assert next_color(state(Color.BLUE, Color.BLUE)) is Color.GREEN
    assert next_color(state(Color.GREEN, Color.GREEN)) is Color.BLUE


def test_deploying_twice_never_picks_the_live_color() -> None:
    # blue live, green deployed but not promoted: deploy again replaces green.
    assert next_color(state(Color.BLUE, Color.GREEN)) is Color.GREEN
