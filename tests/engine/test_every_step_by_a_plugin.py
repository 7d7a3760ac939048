"""Hooks are the only road from the engine to the backends: a plugin that answers every
step hook runs every verb while the configured runtime and proxy, and the registry's
service discovery, fail the test if anything touches them.

The plugin keeps its "cluster" in memory, as a plugin that deploys somewhere else would;
the engine keeps its state and release records in the real file registry.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route, Runtime
from flowgate.backends.registry.file import FileRegistry
from flowgate.config.scale import parse_scale
from flowgate.engine.context import ReleaseContext
from flowgate.engine.recorder import new_release_id, save_state, start_release
from flowgate.engine.runner import Engine
from flowgate.engine.status import target_status
from flowgate.engine.workspace import open_context
from flowgate.errors import FlowgateError, GateFailed, ReleaseFailed
from flowgate.models import Color, Instance, ReleaseState, TestResult
from flowgate.plugins import make_plugin_manager

TOUCHED: list[str] = []


def touched(what: str) -> NoReturn:
    TOUCHED.append(what)
    pytest.fail(f"the engine reached past its hooks: {what}")


class UntouchableRuntime(Runtime):
    name = "untouchable"

    def check(self) -> None:
        touched("runtime.check")

    def instances(self, *args: Any) -> NoReturn:
        touched("runtime.instances")

    def deploy(self, *args: Any) -> NoReturn:
        touched("runtime.deploy")

    def scale(self, *args: Any) -> NoReturn:
        touched("runtime.scale")

    def start(self, *args: Any) -> NoReturn:
        touched("runtime.start")

    def stop(self, *args: Any) -> NoReturn:
        touched("runtime.stop")

    def remove(self, *args: Any) -> NoReturn:
        touched("runtime.remove")

    def ensure_side_target(self, *args: Any) -> NoReturn:
        touched("runtime.ensure_side_target")

    def nodes(self, *args: Any) -> NoReturn:
        touched("runtime.nodes")

    def teardown(self, *args: Any) -> NoReturn:
        touched("runtime.teardown")


class UntouchableProxy(Proxy):
    name = "untouchable"

    def check(self) -> None:
        touched("proxy.check")

    def apply(self, *args: Any) -> NoReturn:
        touched("proxy.apply")

    def remove(self, *args: Any) -> NoReturn:
        touched("proxy.remove")

    def wait_drained(self, *args: Any) -> NoReturn:
        touched("proxy.wait_drained")

    def public_url(self, route: Route) -> NoReturn:
        touched("proxy.public_url")

    def preview_url(self, route: Route) -> NoReturn:
        touched("proxy.preview_url")


class RecordsOnlyRegistry(FileRegistry):
    """The file registry for state, records and the lock; service discovery is a step's."""

    name = "records-only"

    def register_instances(self, *args: Any) -> NoReturn:
        touched("registry.register_instances")

    def deregister_instances(self, *args: Any) -> NoReturn:
        touched("registry.deregister_instances")


class Backends:
    @hookimpl
    def flowgate_backends(self) -> list[type[Any]]:
        return [UntouchableRuntime, UntouchableProxy, RecordsOnlyRegistry]


class Elsewhere:
    """Answers every step hook (tryfirst) from an in-memory cluster of its own."""

    def __init__(self) -> None:
        self.colors: dict[Color, list[Instance]] = {}
        self.route: dict[str, Any] = {}
        self.calls: list[str] = []
        self.gate_exit = 0
        self.post_exit = 0
        self.next_port = 30000

    def _start(self, color: Color, count: int) -> list[Instance]:
        made = []
        for index in range(1, count + 1):
            self.next_port += 1
            made.append(
                Instance(f"far-{color}-{index}", f"10.9.9.9:{self.next_port}", "running", True)
            )
        self.colors[color] = made
        return made

    @hookimpl(tryfirst=True)
    def pick_color(self, context: ReleaseContext) -> Color:
        self.calls.append("pick_color")
        live = context.state.live_color
        return live.other if live else Color.BLUE

    @hookimpl(tryfirst=True)
    def instances(self, color: Color) -> list[Instance]:
        return list(self.colors.get(color, []))

    @hookimpl(tryfirst=True)
    def deploy(self, color: Color, count: int) -> list[Instance]:
        self.calls.append(f"deploy {color} {count}")
        return self._start(color, count)

    @hookimpl(tryfirst=True)
    def scale(self, color: Color, count: int) -> list[Instance]:
        self.calls.append(f"scale {color} {count}")
        return self._start(color, count)

    @hookimpl(tryfirst=True)
    def start(self, color: Color, count: int) -> list[Instance]:
        self.calls.append(f"start {color} {count}")
        self.colors[color] = [
            Instance(i.name, i.address, "running", True) for i in self.colors[color]
        ]
        return self.colors[color]

    @hookimpl(tryfirst=True)
    def reconfigure_proxy(
        self,
        live_color: Color | None,
        preview_color: Color | None,
        live_limit: int | None,
        live: list[Instance],
        preview: list[Instance],
    ) -> bool:
        served = live if live_limit is None else live[:live_limit]
        self.route = {
            "live": live_color,
            "preview": preview_color,
            "servers": [i.address for i in served],
            "preview_servers": [i.address for i in preview],
        }
        self.calls.append(f"route {live_color or '-'} {preview_color or '-'} {len(served)}")
        return True

    @hookimpl(tryfirst=True)
    def proxy_serves(self, context: ReleaseContext) -> dict[str, Any]:
        live = context.state.live_color
        return {"url": "memory://", "serving": live is not None, "status": None, "error": None}

    @hookimpl(tryfirst=True)
    def nodes(self) -> list[dict[str, Any]]:
        return [{"node": "10.9.9.9", "state": "ready", "availability": "active", "lost": []}]

    @hookimpl(tryfirst=True)
    def drain(self, color: Color, instances: list[Instance]) -> bool:
        self.calls.append(f"drain {color} {len(instances)}")
        return True

    @hookimpl(tryfirst=True)
    def stop_old(self, color: Color) -> bool:
        self.calls.append(f"stop_old {color}")
        self.colors[color] = [
            Instance(i.name, i.address, "exited", False) for i in self.colors.get(color, [])
        ]
        return True

    @hookimpl(tryfirst=True)
    def remove(self, color: Color) -> bool:
        self.calls.append(f"remove {color}")
        self.colors.pop(color, None)
        return True

    @hookimpl(tryfirst=True)
    def teardown(self, keep_state: bool) -> bool:
        self.calls.append(f"teardown keep_state={keep_state}")
        self.route = {}
        return True

    @hookimpl(tryfirst=True)
    def run_gate(self, suites: list[str], color: Color, kind: str) -> TestResult:
        self.calls.append(f"{kind} {color}")
        code = self.gate_exit if kind == "gate" else self.post_exit
        return TestResult(passed=1, failed=int(code != 0), exit_code=code, kind=kind)


Make = Callable[[], Engine]


@pytest.fixture
def elsewhere() -> Elsewhere:
    return Elsewhere()


@pytest.fixture
def engine(tmp_path: Path, elsewhere: Elsewhere) -> Make:
    TOUCHED.clear()
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
        "  db:\n    image: books-ms-db:1.0\n"
    )
    (tmp_path / "flowgate.yml").write_text(
        "target: app\nside_targets: [db]\nproject: far\nruntime: untouchable\n"
        "proxy: untouchable\nregistry: records-only\n"
    )

    def make() -> Engine:
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(Backends())
        pm.register(elsewhere)
        return Engine(open_context(tmp_path, {}, env={}, pm=pm))

    return make


def since(elsewhere: Elsewhere, mark: int) -> list[str]:
    return elsewhere.calls[mark:]


def test_every_verb_runs_on_the_plugin_alone(engine: Make, elsewhere: Elsewhere) -> None:
    first = engine().deploy(parse_scale("2"))
    assert elsewhere.calls == ["pick_color", "deploy blue 2", "route - blue 0"]
    assert elsewhere.route["preview_servers"] == ["10.9.9.9:30001", "10.9.9.9:30002"]
    assert first.state is ReleaseState.DEPLOYED

    mark = len(elsewhere.calls)
    assert engine().test(["tests"]).ok
    assert engine().promote() is not None
    assert since(elsewhere, mark) == ["gate blue", "route blue - 2"]

    mark = len(elsewhere.calls)
    done = engine().release(["tests"], ["tests/post"])
    assert done is not None and done.state is ReleaseState.LIVE
    assert since(elsewhere, mark) == [
        "pick_color",
        "deploy green 2",
        "route blue green 2",
        "gate green",
        "route green - 2",
        "post green",
        "stop_old blue",
    ]

    mark = len(elsewhere.calls)
    engine().scale(parse_scale("+1"))
    engine().scale(parse_scale("-2"))
    assert since(elsewhere, mark) == [
        "scale green 3",
        "route green - 3",
        "route green - 1",  # out of the proxy before the instances stop
        "scale green 1",
        "route green - 1",
    ]
    assert engine().ctx.state.scale == 1

    mark = len(elsewhere.calls)
    rolled = engine().rollback()
    assert rolled.color is Color.BLUE
    assert since(elsewhere, mark) == ["start blue 2", "route blue - 2", "stop_old green"]
    assert elsewhere.route["servers"] == ["10.9.9.9:30001", "10.9.9.9:30002"]

    mark = len(elsewhere.calls)
    engine().deploy()
    engine().promote(stop_old=False)
    assert engine().stop_old() is Color.BLUE
    assert since(elsewhere, mark) == [
        "pick_color",
        "deploy green 2",
        "route blue green 2",
        "route green - 2",
        "stop_old blue",
    ]

    mark = len(elsewhere.calls)
    engine().deploy()
    aborted = engine().abort()
    assert aborted is not None and aborted.state is ReleaseState.ABORTED
    assert since(elsewhere, mark)[-2:] == ["route green - 2", "remove blue"]
    assert Color.BLUE not in elsewhere.colors

    shown = target_status(engine().ctx)  # `status` asks the plugin too
    assert shown["colors"]["green"]["state"] == "live"
    assert [i["address"] for i in shown["colors"]["green"]["instances"]] == [
        i.address for i in elsewhere.colors[Color.GREEN]
    ]
    assert shown["colors"]["blue"] == {"state": "absent", "instances": []}
    assert [n["node"] for n in shown["nodes"]] == ["10.9.9.9"]  # from the plugin
    assert shown["proxy"]["url"] == "memory://" and shown["state_disagrees"] is None

    mark = len(elsewhere.calls)
    gone = engine().down(keep_state=True)
    assert gone.removed == ["green"]
    assert since(elsewhere, mark) == ["remove blue", "remove green", "teardown keep_state=True"]
    assert elsewhere.colors == {} and elsewhere.route == {}
    assert TOUCHED == []


def test_a_closed_gate_and_failed_post_tests_are_undone_through_the_plugin(
    engine: Make, elsewhere: Elsewhere
) -> None:
    engine().deploy()
    engine().promote()
    elsewhere.gate_exit = 1
    mark = len(elsewhere.calls)
    with pytest.raises(GateFailed):
        engine().release(["tests"], [])
    assert since(elsewhere, mark)[-2:] == ["route blue - 1", "remove green"]

    elsewhere.gate_exit, elsewhere.post_exit = 0, 1
    mark = len(elsewhere.calls)
    with pytest.raises(ReleaseFailed, match="switched back to blue"):
        engine().release(["tests"], ["tests/post"])
    assert since(elsewhere, mark)[-5:] == [
        "route green - 1",
        "post green",
        "route blue - 1",  # switch_back
        "drain green 1",
        "remove green",
    ]
    assert engine().ctx.state.live_color is Color.BLUE
    assert TOUCHED == []


def test_recovery_after_a_crash_goes_through_the_plugin(engine: Make, elsewhere: Elsewhere) -> None:
    """A rollback whose process died after starting blue, before switching: the next verb
    puts the proxy back on the saved live color and stops blue again, by hooks only."""
    for _ in range(2):
        engine().deploy()
        engine().promote()
    dead = engine()
    release = start_release(dead.ctx, new_release_id(), kind="rollback")
    release.color = Color.BLUE
    dead.ctx.registry.save_release(release)
    elsewhere.start(Color.BLUE, 1)
    mark = len(elsewhere.calls)
    assert engine().stop_old() is None
    assert since(elsewhere, mark) == ["route green - 1", "stop_old blue"]
    recovered = engine().ctx.registry.releases("far-app")[0]
    assert recovered.state is ReleaseState.INTERRUPTED
    assert [s.name for s in recovered.steps][-2:] == ["reconfigure_proxy", "stop_old"]

    # and a release that died mid-deploy is recovered before `abort` removes its color
    dying = engine()
    start_release(dying.ctx, new_release_id())
    save_state(dying.ctx, deployed_color=Color.BLUE)
    elsewhere.deploy(Color.BLUE, 1)
    mark = len(elsewhere.calls)
    assert engine().abort() is not None
    assert since(elsewhere, mark) == ["route green blue 1", "route green - 1", "remove blue"]
    assert TOUCHED == []


@pytest.mark.parametrize("hook", ["pick_color", "deploy", "instances", "reconfigure_proxy"])
def test_a_step_nobody_answers_fails_loudly(engine: Make, tmp_path: Path, hook: str) -> None:
    """Without the built-in steps, a hook the plugin does not answer is an error naming it,
    never a step silently skipped."""
    engine().deploy()
    engine().promote()  # blue live: the next deploy asks for its instances

    class Silent(Elsewhere):
        pass

    setattr(Silent, hook, hookimpl(tryfirst=True)(lambda self: None))
    pm = make_plugin_manager(load_entry_points=False)
    pm.unregister(name="flowgate.engine.steps")
    pm.register(Backends())
    pm.register(Silent())
    subject = Engine(open_context(tmp_path, {}, env={}, pm=pm))
    with pytest.raises(FlowgateError, match=f"^no plugin answered the {hook} hook$"):
        subject.deploy()
    latest = subject.ctx.registry.releases("far-app")[0]
    # `instances` is asked first, by the evidence check, before a release starts
    assert latest.outcome == ("succeeded" if hook == "instances" else "failed")
    assert subject.ctx.registry.load_state("far-app").live_color is Color.BLUE
    assert TOUCHED == []
