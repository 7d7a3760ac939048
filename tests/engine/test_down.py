"""`flowgate down` on the fake runtime and proxy and the real file registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flowgate.engine.runner import Engine
from flowgate.errors import LockHeld, UsageError


def released(engine: Callable[..., Engine]) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()  # blue stopped (warm), green live


def test_down_removes_colors_side_targets_routes_and_state(
    engine: Callable[..., Engine], fakes: Callable[[str], dict[str, Any]]
) -> None:
    released(engine)
    assert fakes("runtime")["side_targets"] == {"db": 1}
    result = engine().down()
    assert (result.service, sorted(result.removed), result.side_targets) == (
        "books-app",
        ["blue", "green"],
        ["db"],
    )
    runtime, proxy = fakes("runtime"), fakes("proxy")
    assert runtime["containers"] == {} and runtime["side_targets"] == {}
    assert proxy["routes"] == {}
    context = engine().ctx
    assert context.state.live_color is None and context.state.release_id is None
    assert context.registry.releases("books-app") == []
    again = engine().down()  # idempotent: nothing left, nothing fails
    assert again.removed == []


def test_keep_state_keeps_the_history(engine: Callable[..., Engine]) -> None:
    released(engine)
    before = [r.id for r in engine().ctx.registry.releases("books-app")]
    engine().down(keep_state=True)
    context = engine().ctx
    assert [r.id for r in context.registry.releases("books-app")] == before
    assert context.state.live_color is not None  # the record of what was live stays


def test_a_release_in_flight_is_refused_and_nothing_is_removed(
    engine: Callable[..., Engine], fakes: Callable[[str], dict[str, Any]]
) -> None:
    released(engine)
    engine().deploy()  # a new color deployed, not promoted
    before = fakes("runtime"), fakes("proxy")
    with pytest.raises(UsageError, match=r"in flight .*`flowgate abort` or `flowgate promote`"):
        engine().down()
    assert (fakes("runtime"), fakes("proxy")) == before


def test_a_held_lock_refuses_down(engine: Callable[..., Engine]) -> None:
    released(engine)
    context = engine().ctx
    holder = {"host": "elsewhere", "pid": 1, "user": "ci", "release": "r1"}
    lock = context.registry.acquire_lock("books-app", holder, 60)
    try:
        with pytest.raises(LockHeld):
            engine().down()
    finally:
        lock.release()
