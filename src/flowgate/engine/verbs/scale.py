"""scale: N, +N or -N instances of the live color; the proxy follows, and scaling down
takes instances out of the proxy before they stop."""

from __future__ import annotations

from flowgate.config.scale import ScaleSpec
from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import save_state
from flowgate.errors import UsageError
from flowgate.models import Instance


def scale(context: ReleaseContext, spec: ScaleSpec) -> list[Instance]:
    with operation(context):
        live = context.state.live_color
        if live is None:
            raise UsageError("nothing is live yet: promote a release before scaling")
        current = context.state.scale or len(calls.running(context, live)) or 1
        count = spec.apply(current)
        preview = context.state.new_color
        if count < current:
            # Out of the proxy first, then stopped: no request reaches a dying instance.
            calls.route(context, live, preview, live_limit=count)
        instances: list[Instance] = calls.hook_step(context, "scale", color=live, count=count)
        calls.route(context, live, preview)
        save_state(context, scale=count)
        return instances
