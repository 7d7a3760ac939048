"""recover: what every verb does first, under the lock, when the current release was
left running by a process that is gone; also a verb of its own (`Engine.recover`). The
actions per state are engine/states.py's.

The recovery's own steps are recorded on the interrupted release (after the step it died
in, which stays its `step`), so they show in progress and in its step history."""

from __future__ import annotations

import logging

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.recorder import current_release, finish, save_release, transition
from flowgate.engine.states import Recovery, recovery_for
from flowgate.engine.status import died_after
from flowgate.models import Release, ReleaseState

log = logging.getLogger("flowgate")


def recover(context: ReleaseContext) -> Release | None:
    """Run the recovery the current release's state calls for; the release, if any ran."""
    last = current_release(context)
    if last is None:
        return None
    if died_after(last):
        # Its process died after the release reached its state, before recording its
        # end (killed in the old color's stop after a switch): recorded as interrupted.
        finish(
            context,
            last,
            "interrupted",
            last.error or f"its process stopped during {last.step}",
        )
        return last
    actions = recovery_for(last.state, last.kind)
    if not actions:
        return None
    died_in = last.step
    log.warning("recovering release %s: its process stopped during %s", last.id, died_in)
    if Recovery.MARK_INTERRUPTED in actions:
        transition(context, last, ReleaseState.INTERRUPTED)
        last.outcome, last.ended = "interrupted", last.ended or last.started
        last.error = f"the process running it stopped during {died_in}"
        context.registry.save_release(last)
    state, verbs_release = context.state, context.release
    context.release = last
    try:
        if Recovery.REROUTE_PROXY in actions:
            # The proxy first: a rollback that died after its switch but before saving
            # the state has the proxy on the color it was bringing back.
            new = state.new_color
            preview = new if new and calls.running(context, new) else None
            calls.route(context, state.live_color, preview, cleanup=True)
        if (
            Recovery.STOP_REVIVED_COLOR in actions
            and last.color is not None
            and last.color != state.live_color
        ):
            # The color it was bringing back was stopped before: stop it again, once the
            # requests the proxy may have sent it are answered.
            calls.hook_step(context, "stop_old", cleanup=True, color=last.color)
    finally:
        last.step = died_in
        save_release(context)
        context.release = verbs_release
    return last


def recover_only(context: ReleaseContext) -> Release | None:
    """Take the lock, recover if the current release calls for it, and do nothing else."""
    from flowgate.engine.operation import operation  # operation runs recover() itself

    with operation(context) as recovered:
        return recovered
