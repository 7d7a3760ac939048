"""A `release_event` plugin the benchmark loads into each flowgate command it runs
(FLOWGATE_PLUGINS=zero_downtime_events): it appends every step event, stamped with
`time.monotonic()`, to the file named by ZERO_DOWNTIME_EVENTS, so the benchmark knows to
the millisecond when the proxy switch was called and when it returned.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flowgate import hookimpl


@hookimpl
def release_event(context: Any, event: str, data: dict[str, Any]) -> None:
    path = os.environ.get("ZERO_DOWNTIME_EVENTS")
    if path:
        line = json.dumps({"t": time.monotonic(), "event": event, "step": data.get("step")})
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
