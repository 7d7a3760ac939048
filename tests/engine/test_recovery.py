"""A release is visible from its first step, and a dead process's release and lock are
recovered: on the fake runtime and proxy with the real file registry."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from flowgate import hookimpl
from flowgate.engine.context import ReleaseContext, abandoned, holder_identity, pid_namespace
from flowgate.engine.recorder import (
    current_release,
    new_release_id,
    save_state,
    start_release,
    transition,
)
from flowgate.engine.runner import Engine
from flowgate.engine.status import target_status
from flowgate.engine.steps import build_route, deploy_spec
from flowgate.errors import Interrupted, LockHeld, UsageError
from flowgate.models import Color, Instance, ReleaseState

Make = Callable[..., Engine]
Fakes = Callable[[str], dict[str, Any]]


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class InterruptedDeploy:
    """Starts the new color, then is interrupted (Ctrl-C) while waiting for it, recording
    what `status` would have shown at that moment."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    @hookimpl(tryfirst=True)
    def deploy(self, context: ReleaseContext, color: Color, count: int) -> list[Instance]:
        context.runtime.deploy(deploy_spec(context, color, count))
        self.seen = target_status(context)
        raise KeyboardInterrupt


def test_status_shows_a_release_from_its_start_and_abort_recovers_it(
    engine: Make, fakes: Fakes
) -> None:
    engine().deploy()
    engine().promote()
    probe = InterruptedDeploy()
    subject = engine()
    subject.ctx.pm.register(probe)
    with pytest.raises(Interrupted, match="see `flowgate status`"):
        subject.deploy()
    running = probe.seen
    assert running["release"]["state"] == "running"
    assert running["release"]["step"] == "deploy"
    assert running["release"]["color"] == "green"
    assert running["lock"]["release"] == running["release"]["id"]  # the holder names it
    after = target_status(engine().ctx)
    assert after["release"]["id"] == running["release"]["id"]
    assert (after["release"]["state"], after["release"]["step"]) == ("interrupted", "deploy")
    assert after["colors"]["green"]["state"] == "new"
    assert after["deployed_color"] == "green"  # so `abort` knows what to remove
    aborted = engine().abort()
    assert aborted is not None and aborted.id == running["release"]["id"]
    assert aborted.state is ReleaseState.ABORTED
    assert "books_app-green" not in fakes("runtime")["containers"]
    assert fakes("proxy")["routes"]["books-app"]["live_color"] == "blue"


def test_a_lock_left_by_a_killed_process_on_this_host_is_taken_over(
    engine: Make, fakes: Fakes, caplog: pytest.LogCaptureFixture
) -> None:
    """`kill -9` during a deploy's health wait leaves the lock (60 s TTL), a running
    release and the new color's containers: the next verb takes the lock over at once and
    `abort` removes what the dead process deployed."""
    engine().deploy()
    engine().promote()
    killed = engine()
    dead = {**holder_identity(), "pid": dead_pid(), "user": "ci"}
    lock = killed.ctx.registry.acquire_lock("books-app", dead, 60)
    release = start_release(killed.ctx, new_release_id())
    release.color = Color.GREEN
    save_state(killed.ctx, deployed_color=Color.GREEN)
    killed.ctx.runtime.deploy(deploy_spec(killed.ctx, Color.GREEN, 1))
    killed.ctx.registry.save_release(release)
    shown = target_status(engine().ctx)
    assert shown["release"]["state"] == "interrupted"  # not "running": its process is gone
    assert shown["lock"] == {**dead, "gone": True}
    with caplog.at_level(logging.WARNING, logger="flowgate"):
        aborted = engine().abort()
    assert "took over the release lock of books-app" in caplog.text
    assert f"pid {dead['pid']} on this host" in caplog.text
    assert aborted is not None and aborted.id == release.id
    assert aborted.state is ReleaseState.ABORTED
    assert "books_app-green" not in fakes("runtime")["containers"]
    assert engine().ctx.state.new_color is None
    assert engine().ctx.registry.lock_holder("books-app") is None
    lock.release()  # the dead holder's stale handle frees nothing


def test_a_lock_held_by_a_live_process_is_refused_with_its_expiry(engine: Make) -> None:
    alive = {"host": socket.gethostname(), "pid": os.getppid(), "user": "ci", "release": "r1"}
    lock = engine().ctx.registry.acquire_lock("books-app", alive, 60)
    try:
        with pytest.raises(LockHeld, match=r"it expires in (59|60) s unless renewed$"):
            engine().deploy()
    finally:
        lock.release()


@pytest.mark.parametrize(
    ("holder", "expected"),
    [
        ({"host": socket.gethostname(), "pid": "dead", "pid_namespace": "ours"}, True),
        ({"host": socket.gethostname(), "pid": "self", "pid_namespace": "ours"}, False),
        ({"host": socket.gethostname(), "pid": "parent", "pid_namespace": "ours"}, False),
        ({"host": "another-machine", "pid": "dead", "pid_namespace": "ours"}, False),
        ({"host": socket.gethostname(), "pid_namespace": "ours"}, False),
        # same hostname, another container's PID namespace: its pid means nothing here
        ({"host": socket.gethostname(), "pid": "dead", "pid_namespace": "pid:[1]"}, False),
        ({"host": socket.gethostname(), "pid": "dead"}, False),  # namespace unknown
    ],
)
def test_only_a_gone_process_on_this_host_has_abandoned_its_lock(
    holder: dict[str, Any], expected: bool
) -> None:
    pids = {"dead": dead_pid(), "self": os.getpid(), "parent": os.getppid()}
    if "pid" in holder:
        holder = {**holder, "pid": pids[holder["pid"]]}
    if holder.get("pid_namespace") == "ours":
        holder = {**holder, "pid_namespace": pid_namespace()}
    assert abandoned(holder) is expected


def test_an_interrupted_rollback_is_undone_by_the_next_verb(engine: Make, fakes: Fakes) -> None:
    """A rollback that died after starting the previous color but before the switch:
    the next verb stops that color again, so `status` does not show it as new."""
    engine().deploy()
    engine().promote()
    engine().deploy()
    engine().promote()
    dying = engine()
    release = start_release(dying.ctx, new_release_id(), kind="rollback")
    release.color = Color.BLUE
    dying.ctx.registry.save_release(release)
    dying.ctx.runtime.start(deploy_spec(dying.ctx, Color.BLUE, 1))
    assert engine().stop_old() is None  # any verb recovers first
    containers = fakes("runtime")["containers"]
    assert [r["state"] for r in containers["books_app-blue"]] == ["exited"]
    assert fakes("proxy")["routes"]["books-app"]["live_color"] == "green"
    assert target_status(engine().ctx)["release"]["state"] == "interrupted"


def test_a_promote_that_died_in_its_switch_is_put_back_and_can_be_promoted_again(
    engine: Make, fakes: Fakes
) -> None:
    """The proxy switched to green, then the process died before saving green as live:
    the next verb puts the proxy back on the saved live color (blue), green on preview."""
    engine().deploy()
    engine().promote()
    engine().deploy()
    dying = engine()
    release = current_release(dying.ctx)
    assert release is not None
    transition(dying.ctx, release, ReleaseState.RUNNING)
    dying.ctx.proxy.apply(build_route(dying.ctx, Color.GREEN, None))
    assert fakes("proxy")["routes"]["books-app"]["live_color"] == "green"
    with pytest.raises(UsageError, match="green holds an unpromoted deploy"):
        engine().stop_old()  # any verb recovers first, even one that then refuses
    served = fakes("proxy")["routes"]["books-app"]
    assert (served["live_color"], served["preview_color"]) == ("blue", "green")
    interrupted = current_release(engine().ctx)
    assert interrupted is not None and interrupted.state is ReleaseState.INTERRUPTED
    assert interrupted.error == "the process running it stopped during reconfigure_proxy"
    promoted = engine().promote()
    assert promoted is not None and promoted.state is ReleaseState.LIVE
    assert fakes("proxy")["routes"]["books-app"]["live_color"] == "green"


def test_recover_alone_recovers_a_dead_release_once(engine: Make, fakes: Fakes) -> None:
    engine().deploy()
    engine().promote()
    engine().deploy()
    dying = engine()
    release = current_release(dying.ctx)
    assert release is not None
    transition(dying.ctx, release, ReleaseState.RUNNING)  # died in promote's switch
    dying.ctx.proxy.apply(build_route(dying.ctx, Color.GREEN, None))
    recovered = engine().recover()
    assert recovered is not None and recovered.id == release.id
    assert recovered.state is ReleaseState.INTERRUPTED
    served = fakes("proxy")["routes"]["books-app"]
    assert (served["live_color"], served["preview_color"]) == ("blue", "green")
    assert engine().recover() is None  # nothing left to recover
    assert engine().ctx.state.new_color is Color.GREEN  # and nothing else changed
