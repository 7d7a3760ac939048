#!/usr/bin/env python3
"""`flowgate ARGS` exactly as the console script runs it, with its waits timed.

bench/release_overhead runs flowgate's releases through this, in a fresh process each:
    release_overhead_flowgate.py REPORT -- release --scale 3

Two waits are wrapped with a timer: Docker's health wait for the new containers (the
runtime's `wait_healthy`) and the wait for HAProxy's checks to see new servers UP
(`HAProxyProxy._wait_up`). A `release_event` plugin, registered on the CLI's plugin manager,
adds up the step durations. Both go to REPORT as JSON when flowgate returns. Only light
standard modules are imported here, so the process starts like the console script.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import types
from pathlib import Path
from typing import Any


def main(report: Path, argv: list[str]) -> int:
    from flowgate import hookimpl
    from flowgate.backends.proxy.haproxy import HAProxyProxy
    from flowgate.backends.runtime import docker_health
    from flowgate.engine import workspace

    waits = {"container health": 0.0, "haproxy up": 0.0}
    steps: dict[str, float] = {}

    def timed(kind: str, func: Any) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                waits[kind] += time.perf_counter() - began

        return wrapper

    # docker.py calls `health.wait_healthy` through the module, so patching it there counts.
    docker_health.wait_healthy = timed("container health", docker_health.wait_healthy)
    HAProxyProxy._wait_up = timed("haproxy up", HAProxyProxy._wait_up)  # type: ignore[method-assign]

    @hookimpl
    def release_event(event: str, data: dict[str, Any]) -> None:
        if event in ("step-finished", "step-failed"):
            steps[data["step"]] = steps.get(data["step"], 0.0) + float(data["duration"])

    plugin = types.ModuleType("release_overhead_timing")
    plugin.release_event = release_event  # type: ignore[attr-defined]
    # On the CLI's plugin manager only: FLOWGATE_PLUGINS would also reach the gate's pytest
    # process, which cannot import this module.
    make_plugin_manager = workspace.make_plugin_manager

    def with_timing(*args: Any, **kwargs: Any) -> Any:
        pm = make_plugin_manager(*args, **kwargs)
        pm.register(plugin, name=plugin.__name__)
        return pm

    workspace.make_plugin_manager = with_timing  # type: ignore[assignment]

    from flowgate.cli.app import main as flowgate

    try:
        return flowgate(argv)
    finally:
        report.write_text(json.dumps({"waits": waits, "steps": steps}))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        sys.exit("usage: release_overhead_flowgate.py REPORT -- FLOWGATE-ARGS...")
    sys.exit(main(Path(sys.argv[1]), sys.argv[3:]))
