"""The release state table: complete, closed, and enforced (engine/states.py is pure)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from flowgate.engine.states import (
    TABLE,
    TRANSITIONS,
    IllegalTransition,
    Recovery,
    check_transition,
    recovery_for,
)
from flowgate.errors import ExitCode
from flowgate.models import ReleaseState as S

ALL_PAIRS = list(itertools.product(S, S))


def test_every_state_has_one_row_and_every_edge_ends_in_a_known_state() -> None:
    assert set(TABLE) == set(S)
    assert set(TRANSITIONS) == set(S)
    for row in TABLE.values():
        assert row.to <= set(S)
        assert row.meaning and row.release and row.abort and row.rollback


@pytest.mark.parametrize(("current", "wanted"), ALL_PAIRS, ids=lambda s: str(s))
def test_check_transition_allows_exactly_the_table(current: S, wanted: S) -> None:
    if wanted in TRANSITIONS[current]:
        check_transition(current, wanted)
    else:
        with pytest.raises(IllegalTransition, match=f"illegal release transition {current} -> "):
            check_transition(current, wanted)


def test_an_illegal_transition_is_an_internal_error_naming_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(S.LIVE, S.RUNNING)
    assert info.value.exit_code is ExitCode.INTERNAL
    assert str(info.value) == (
        "illegal release transition live -> running (allowed from live: none (final))"
    )
    with pytest.raises(IllegalTransition, match=r"allowed from deployed: aborted, running\)$"):
        check_transition(S.DEPLOYED, S.LIVE)


def test_live_and_aborted_are_final_and_nothing_returns_to_running_from_them() -> None:
    assert TRANSITIONS[S.LIVE] == frozenset()
    assert TRANSITIONS[S.ABORTED] == frozenset()


def test_every_state_is_reachable_from_running() -> None:
    seen, todo = {S.RUNNING}, [S.RUNNING]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(S)


def test_a_release_that_still_has_a_color_can_be_aborted_or_promoted() -> None:
    """Deployed, interrupted, and failed releases whose color `--keep-failed` kept."""
    for state in (S.DEPLOYED, S.INTERRUPTED, S.FAILED, S.GATE_FAILED, S.ROLLED_BACK):
        assert {S.ABORTED, S.RUNNING} <= TRANSITIONS[state], state


def test_only_a_running_release_is_recovered() -> None:
    for state in S:
        expected = (Recovery.MARK_INTERRUPTED, Recovery.REROUTE_PROXY) if state is S.RUNNING else ()
        assert recovery_for(state) == expected


def test_a_dead_rollback_also_stops_the_color_it_was_starting() -> None:
    assert recovery_for(S.RUNNING, kind="rollback") == (
        Recovery.MARK_INTERRUPTED,
        Recovery.REROUTE_PROXY,
        Recovery.STOP_REVIVED_COLOR,
    )
    assert recovery_for(S.DEPLOYED, kind="rollback") == ()


def render_tables() -> str:
    """docs/engine.md's state tables, as engine/states.py says they are."""

    def recovery(state: S) -> str:
        actions = [str(a) for a in recovery_for(state, kind="rollback")]
        if Recovery.STOP_REVIVED_COLOR in recovery_for(state, kind="rollback"):
            actions[-1] += " (rollbacks only)"
        return ", ".join(actions) or "—"

    lines = [
        "| state | meaning | may become | recovery, first thing the next verb does |",
        "|---|---|---|---|",
    ]
    for state, row in TABLE.items():
        to = ", ".join(sorted(str(s) for s in row.to)) or "—"
        lines.append(f"| `{state}` | {row.meaning} | {to} | {recovery(state)} |")
    lines += [
        "",
        "What `release`, `abort` and `rollback` then do, by the state of the current release:",
        "",
        "| state | `release` | `abort` | `rollback` |",
        "|---|---|---|---|",
    ]
    for state, row in TABLE.items():
        lines.append(f"| `{state}` | {row.release} | {row.abort} | {row.rollback} |")
    return "\n".join(lines)


def test_the_docs_show_this_table() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "engine.md").read_text()
    begin = doc.index("-->\n", doc.index("<!-- states:")) + len("-->\n")
    assert doc[begin : doc.index("\n<!-- /states -->")] == render_tables()
