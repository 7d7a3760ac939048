"""A release's lifecycle as data: its states, the allowed transitions, and what the next
verb does when it finds the current release in each state after a crash.

Pure: no I/O. The engine moves a release only through `check_transition` (via the
recorder, which saves the new state before the action that follows it), so an illegal
move is a bug that raises instead of a branch that guesses. docs/engine.md shows the same
table; tests/engine/test_states.py keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flowgate.errors import FlowgateError
from flowgate.models import ReleaseState

__all__ = [
    "TABLE",
    "TRANSITIONS",
    "IllegalTransition",
    "Recovery",
    "ReleaseState",
    "StateRow",
    "check_transition",
    "recovery_for",
]

S = ReleaseState


class IllegalTransition(FlowgateError):
    """The engine tried to move a release along an edge the table does not have: a bug
    (exit 3, internal error), never a user's mistake."""

    def __init__(self, current: ReleaseState, wanted: ReleaseState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
        super().__init__(
            f"illegal release transition {current} -> {wanted} (allowed from {current}: {allowed})"
        )
        self.current, self.wanted = current, wanted


class Recovery(StrEnum):
    """What the next verb does first, under the lock, when the current release's process
    is gone."""

    MARK_INTERRUPTED = "mark-interrupted"  # the record says so; `status` shows where it died
    REROUTE_PROXY = "reroute-proxy"  # the proxy back on the saved live color (+ new preview)
    STOP_REVIVED_COLOR = "stop-revived-color"  # a rollback's half-started color stopped again


@dataclass(frozen=True)
class StateRow:
    """One state: what it means, where it may go, and what recovery does from it."""

    meaning: str
    to: frozenset[ReleaseState]
    recover: tuple[Recovery, ...] = ()
    #: What `release`, `abort` and `rollback` do next, once recovery (if any) has run.
    release: str = "deploys a new color onto the color that is not live"
    abort: str = "nothing to abort (no new color)"
    rollback: str = "brings back the previous color if it was live before"


_KEPT = "brings back the previous color; refused while a kept color is deployed"

#: The one table. `to` lists every state a release in this state may move to.
TABLE: dict[ReleaseState, StateRow] = {
    S.RUNNING: StateRow(
        meaning="a verb is working on it; with no lock holder, its process died mid-step",
        to=frozenset({S.DEPLOYED, S.LIVE, S.FAILED, S.GATE_FAILED, S.ROLLED_BACK, S.INTERRUPTED}),
        recover=(
            Recovery.MARK_INTERRUPTED,
            Recovery.REROUTE_PROXY,
            Recovery.STOP_REVIVED_COLOR,
        ),
        release="(after recovery, as interrupted) replaces its new color with a new deploy",
        abort="(after recovery, as interrupted) removes its new color",
        rollback="(after recovery) refused while its new color is deployed: abort it first",
    ),
    S.DEPLOYED: StateRow(
        meaning="the new color runs beside the live one, on the preview route",
        to=frozenset({S.RUNNING, S.ABORTED}),
        release="replaces the new color with a new deploy",
        abort="removes the new color",
        rollback="refused while the new color is deployed: abort or promote it first",
    ),
    S.INTERRUPTED: StateRow(
        meaning="stopped mid-step (Ctrl-C, or its process died); the state was saved",
        to=frozenset({S.RUNNING, S.ABORTED}),
        release="replaces its new color with a new deploy",
        abort="removes its new color",
        rollback="refused while its new color is deployed: abort it first",
    ),
    S.LIVE: StateRow(
        meaning="promoted (or rolled back to): it is, or was, the live color",
        to=frozenset(),
    ),
    S.FAILED: StateRow(
        meaning="a step failed; what it changed was undone (`--keep-failed` keeps its color)",
        to=frozenset({S.RUNNING, S.ABORTED}),
        abort="removes a color `--keep-failed` kept",
        release="deploys a new color (replacing a kept one)",
        rollback=_KEPT,
    ),
    S.GATE_FAILED: StateRow(
        meaning="its test gate failed; the proxy was never switched to it",
        to=frozenset({S.RUNNING, S.ABORTED}),
        abort="removes a color `--keep-failed` kept",
        rollback=_KEPT,
    ),
    S.ROLLED_BACK: StateRow(
        meaning="its post-promotion tests failed and the proxy switched back",
        to=frozenset({S.RUNNING, S.ABORTED}),
        abort="removes a color `--keep-failed` kept",
        rollback=_KEPT,
    ),
    S.ABORTED: StateRow(
        meaning="its new color was removed before it was ever promoted",
        to=frozenset(),
    ),
}

#: The allowed transitions, the table's `to` column.
TRANSITIONS: dict[ReleaseState, frozenset[ReleaseState]] = {
    state: row.to for state, row in TABLE.items()
}


def check_transition(current: ReleaseState, wanted: ReleaseState) -> None:
    """Raise IllegalTransition unless the table allows `current` -> `wanted`."""
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(current, wanted)


def recovery_for(state: ReleaseState, kind: str = "release") -> tuple[Recovery, ...]:
    """What the next verb does first when the current release is in `state` and nobody
    holds the lock any more. Stopping a revived color only concerns rollbacks."""
    actions = TABLE[state].recover
    if kind != "rollback":
        actions = tuple(a for a in actions if a is not Recovery.STOP_REVIVED_COLOR)
    return actions
