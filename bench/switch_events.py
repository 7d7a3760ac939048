"""A plugin `bench/switch_latency` loads into each flowgate command it runs
(FLOWGATE_PLUGINS=switch_events): it stamps, with `time.monotonic()`, the moment the
HAProxy backend sends its Runtime API batch, into the file named by SWITCH_EVENTS, so
the benchmark can tell the switch itself from the work before it in the step.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flowgate.backends.proxy import haproxy_control

_send_batch = haproxy_control.runtime_batch


def _stamped(files: Any, commands: list[str]) -> str:
    sent = time.monotonic()
    try:
        return _send_batch(files, commands)
    finally:
        path = os.environ.get("SWITCH_EVENTS")
        if path and commands:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"t": sent, "event": "batch-sent"}) + "\n")


haproxy_control.runtime_batch = _stamped
