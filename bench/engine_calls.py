"""How many backend calls each verb makes (engine -> runtime / proxy / service discovery).

Run: `python bench/engine_calls.py` (on the fake backends, so it needs no Docker; the
counts are the engine's and the built-in steps', the same on any backend). Each Docker
runtime `instances` call is a container list plus inspects, so fewer reads is less time.
Prints one line per verb: its calls by backend method and its wall time on the fakes.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowgate.engine.runner import Engine
from flowgate.engine.workspace import open_context
from flowgate.plugins import make_plugin_manager
from flowgate.testing import fakes

COUNTED = {
    "runtime": ("instances", "deploy", "scale", "start", "stop", "remove", "ensure_side_target"),
    "proxy": ("apply", "wait_drained"),
    "registry": ("register_instances", "deregister_instances"),
}


class Counting:
    """Stands in for a backend, counting the calls the engine makes to it."""

    def __init__(self, kind: str, backend: Any, counter: Counter[str]) -> None:
        self._kind, self._backend, self._counter = kind, backend, counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._backend, name)
        if name not in COUNTED[self._kind]:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counter[f"{self._kind}.{name}"] += 1
            return attr(*args, **kwargs)

        return counted


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="flowgate-engine-calls-"))
    (folder / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
    )
    (folder / "flowgate.yml").write_text(
        "target: app\nruntime: fake\nproxy: fake\nproject: bench\ndrain_timeout: 0\n"
    )
    counter: Counter[str] = Counter()

    def engine() -> Engine:
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(fakes, name="flowgate.testing.fakes")
        context = open_context(folder, {}, env={}, pm=pm)
        for kind in COUNTED:
            setattr(context, kind, Counting(kind, getattr(context, kind), counter))
        return Engine(context)

    verbs: list[tuple[str, Callable[[], Any]]] = [
        ("deploy", lambda: engine().deploy()),
        ("promote", lambda: engine().promote()),
        ("release", lambda: engine().release([], [])),
        ("scale +1", lambda: engine().scale(_spec("+1"))),
        ("rollback", lambda: engine().rollback()),
        ("stop-old", lambda: engine().stop_old()),
        ("deploy", lambda: engine().deploy()),
        ("abort", lambda: engine().abort()),
    ]
    for name, run in verbs:
        counter.clear()
        started = time.perf_counter()
        run()
        took = (time.perf_counter() - started) * 1000
        calls = ", ".join(f"{key}={n}" for key, n in sorted(counter.items()))
        print(f"{name:9s} {sum(counter.values()):3d} calls  {took:6.1f} ms  {calls}")


def _spec(text: str) -> Any:
    from flowgate.config.scale import parse_scale

    return parse_scale(text)


if __name__ == "__main__":
    main()
