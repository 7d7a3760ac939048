"""recover: what every verb does first, under the lock, when the current release was
left running by a process that is gone. The actions per state are engine/states.py's."""

from __future__ import annotations

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.recorder import current_release, transition
from flowgate.engine.states import Recovery, recovery_for
from flowgate.engine.steps import running
from flowgate.models import Release, ReleaseState


def recover(context: ReleaseContext) -> Release | None:
    """Run the recovery the current release's state calls for; the release, if any ran."""
    last = current_release(context)
    if last is None:
        return None
    actions = recovery_for(last.state, last.kind)
    if not actions:
        return None
    died_in = last.step
    if Recovery.MARK_INTERRUPTED in actions:
        transition(context, last, ReleaseState.INTERRUPTED)
        last.outcome, last.ended = "interrupted", last.ended or last.started
        last.error = f"the process running it stopped during {died_in}"
        context.registry.save_release(last)
    state = context.state
    if Recovery.REROUTE_PROXY in actions:
        # The proxy first: a rollback that died after its switch but before saving the
        # state has the proxy on the color it was bringing back.
        new = state.new_color
        preview = new if new and running(context, new) else None
        calls.call(
            context,
            "reconfigure_proxy",
            live_color=state.live_color,
            preview_color=preview,
            live_limit=None,
        )
    if (
        Recovery.STOP_REVIVED_COLOR in actions
        and last.color is not None
        and last.color != state.live_color
    ):
        # The color it was bringing back was stopped before: stop it again, once the
        # requests the proxy may have sent it are answered.
        calls.call(context, "stop_old", color=last.color)
    return last
