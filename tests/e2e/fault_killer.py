"""A plugin the fault suite loads into a `flowgate` child process (FLOWGATE_PLUGINS) to
SIGKILL it at one step boundary: FAULT_KILL_EVENT (step-started / step-finished) of the
FAULT_KILL_NTH occurrence of step FAULT_KILL_STEP. Nothing runs after a SIGKILL, so the
registry holds exactly what flowgate had saved at that boundary."""

from __future__ import annotations

import os
import signal
from typing import Any

from flowgate import hookimpl

_seen: dict[str, int] = {}


@hookimpl
def release_event(context: Any, event: str, data: dict[str, Any]) -> None:
    step = data.get("step")
    if event != os.environ.get("FAULT_KILL_EVENT", "step-started"):
        return
    if step != os.environ.get("FAULT_KILL_STEP"):
        return
    _seen[step] = _seen.get(step, 0) + 1
    if _seen[step] == int(os.environ.get("FAULT_KILL_NTH", "1")):
        os.kill(os.getpid(), signal.SIGKILL)
