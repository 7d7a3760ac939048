from __future__ import annotations

import pytest

from flowgate.config.scale import parse_scale, resolve_count


@pytest.mark.parametrize(
    ("spec", "current", "expected"),
    [
        (None, None, 1),  # never deployed, no scale: one instance
        (None, 4, 4),  # stored 4, no scale: keep 4
        ("7", 4, 7),
        ("+2", 4, 6),
        ("-2", 4, 2),
        ("-100", 4, 1),  # never below one
        ("+2", None, 3),  # relative to "never deployed" = 1
        ("0", 4, 1),
    ],
)
def test_docker_flow_scale_rules(spec: str | None, current: int | None, expected: int) -> None:
    parsed = parse_scale(spec) if spec is not None else None
    assert resolve_count(parsed, current) == expected


@pytest.mark.parametrize("text", ["two", "", "+", "2.5", "++2", "- 2", "1e3"])
def test_bad_scale_is_rejected_with_the_config_wording(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected N, \+N or -N, got"):
        parse_scale(text)


def test_scale_spec_round_trips_to_text() -> None:
    assert str(parse_scale(" +3 ")) == "+3"
    assert str(parse_scale(5)) == "5"
