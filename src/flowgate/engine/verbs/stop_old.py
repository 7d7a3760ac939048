"""stop-old: stop the color that was live before, keeping it for `rollback`."""

from __future__ import annotations

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.verbs.rollback import previous_live
from flowgate.errors import UsageError
from flowgate.models import Color


def stop_old(context: ReleaseContext) -> Color | None:
    with operation(context):
        live = context.state.live_color
        if live is None:
            raise UsageError("nothing is live yet, so no color is old")
        if not calls.running(context, live.other):
            return None
        old = previous_live(context, "stop the old color")
        calls.hook_step(context, "stop_old", cleanup=True, color=old)
        return old
