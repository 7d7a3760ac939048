#!/usr/bin/env python3
"""`flowgate ARGS` exactly as the console script runs it, with its waits timed.

bench/release_overhead runs flowgate's releases through this, in a fresh process each:
    release_overhead_flowgate.py REPORT -- release --scale 3

Two waits are wrapped with a timer: Docker's health wait for the new containers (the
runtime's `wait_healthy`) and the wait for HAProxy's checks to see new servers UP
(`haproxy_switch.wait_up`, used by HAProxy in a container only). A `release_event`
plugin, registered on the CLI's plugin manager, adds up the step durations. Both go to
REPORT as JSON when flowgate returns. Only light standard modules are imported here, so
the process starts like the console script.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

#: What each part's time is: the methods whose (exclusive) time counts for it.
PARTS = {
    "config": ("flowgate.engine.workspace", None, ("open_context",)),
    "state": (
        "flowgate.backends.registry.file",
        "FileRegistry",
        (
            "check",
            "load_state",
            "save_state",
            "save_release",
            "releases",
            "release",
            "acquire_lock",
            "renew_lock",
            "release_lock",
            "lock_holder",
            "break_lock",
        ),
    ),
    "docker": (
        "flowgate.backends.runtime.docker",
        "DockerRuntime",
        ("check", "instances", "deploy", "scale", "start", "stop", "remove", "ensure_side_target"),
    ),
    "proxy": (
        "flowgate.backends.proxy.haproxy",
        "HAProxyProxy",
        ("check", "apply", "remove", "wait_drained", "public_url", "preview_url"),
    ),
}


class PartTimer:
    """Exclusive time per part: a part's call that makes another timed call (deploy ->
    the health wait) is charged only for its own time. Main thread only: the backends'
    worker threads run inside a timed call of the main thread, which counts them."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self.waits = {"container health": 0.0, "haproxy up": 0.0}
        self._stack: list[list[float]] = []  # [started, time of timed calls inside]

    def wrap(self, part: str, func: Any, wait: bool = False) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is not threading.main_thread():
                return func(*args, **kwargs)
            frame = [time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return func(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[0]
                if self._stack:
                    self._stack[-1][1] += elapsed
                if wait:
                    self.waits[part] += elapsed
                else:
                    self.parts[part] = self.parts.get(part, 0.0) + elapsed - frame[1]

        return wrapper

    def install(self) -> None:
        import importlib

        for part, (module_name, class_name, names) in PARTS.items():
            module = importlib.import_module(module_name)
            owner = getattr(module, class_name) if class_name else module
            for name in names:
                if name in vars(owner):
                    setattr(owner, name, self.wrap(part, getattr(owner, name)))


def main(report: Path, argv: list[str]) -> int:
    spawned = float(os.environ.get("RELEASE_OVERHEAD_SPAWNED", "nan"))
    from flowgate import hookimpl
    from flowgate.backends.proxy import haproxy_switch
    from flowgate.backends.runtime import docker_health
    from flowgate.engine import workspace

    timer = PartTimer()
    waits = timer.waits
    steps: dict[str, float] = {}

    # docker.py calls `health.wait_healthy` through the module, so patching it there counts.
    docker_health.wait_healthy = timer.wrap("container health", docker_health.wait_healthy, True)
    # Only HAProxy in a container waits for its own checks; a local one is switched at once.
    haproxy_switch.wait_up = timer.wrap("haproxy up", haproxy_switch.wait_up, True)
    timer.install()

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

    # Start-up: from the parent starting this process (CLOCK_MONOTONIC is machine-wide)
    # to the CLI's entry, flowgate's imports included.
    parts = {"start-up": time.monotonic() - spawned}
    try:
        return flowgate(argv)
    finally:
        parts.update(timer.parts)
        report.write_text(json.dumps({"waits": waits, "steps": steps, "parts": parts}))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[2] != "--":
        sys.exit("usage: release_overhead_flowgate.py REPORT -- FLOWGATE-ARGS...")
    sys.exit(main(Path(sys.argv[1]), sys.argv[3:]))
