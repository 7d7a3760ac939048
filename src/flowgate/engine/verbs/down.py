"""down: take a target away for good, like `docker compose down`.

Both colors are removed (`remove`), then `teardown` removes its routes (the shared
HAProxy stops when no service is left; it is not re-routed first, which could start a
stopped HAProxy just to take it down), the side targets flowgate started, the project's
networks, and unless `--keep-state` its state and history. A release in flight (running
under the lock, or deployed and not promoted) is refused before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import current_release
from flowgate.errors import UsageError
from flowgate.models import Color, ReleaseState


@dataclass
class DownResult:
    service: str
    removed: list[str] = field(default_factory=list)  # colors that had instances
    side_targets: list[str] = field(default_factory=list)
    kept_state: bool = False


def down(context: ReleaseContext, keep_state: bool = False) -> DownResult:
    with operation(context):
        refuse_in_flight(context)
        result = DownResult(context.service_name, kept_state=keep_state)
        result.side_targets = list(context.settings.side_targets)
        for color in Color:
            if calls.instances(context, color, fresh=True):
                result.removed.append(str(color))
            calls.hook_step(context, "remove", color=color)
        calls.hook_step(context, "teardown", keep_state=keep_state)
        return result


def refuse_in_flight(context: ReleaseContext) -> None:
    release = current_release(context)
    in_flight = release is not None and release.state in (
        ReleaseState.RUNNING,
        ReleaseState.DEPLOYED,
    )
    new = context.state.new_color
    if in_flight or new is not None:
        what = f"release {release.id}" if release is not None else f"the new color {new}"
        raise UsageError(
            f"{context.service_name}: {what} is in flight (deployed, not promoted): "
            "`flowgate abort` or `flowgate promote` it first; nothing was removed"
        )
