"""One contract, every registry: the same tests run against `file` and `consul`.

`consul` runs against flowgate.testing.consul_server, a stand-in for Consul's HTTP API
(no Consul server can be installed on the build machines), with its session TTL minimum
lowered so lock expiry is testable in about a second.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flowgate.backends.base import Registry
from flowgate.backends.registry.consul import ConsulRegistry
from flowgate.backends.registry.file import FileRegistry
from flowgate.config.settings import load_settings
from flowgate.errors import ConflictError, FlowgateError, LockHeld
from flowgate.models import Color, Release, ReleaseState, TargetState
from flowgate.testing.consul_server import consul_test_server

SERVICE = "books-app"


@dataclass
class Store:
    kind: str
    project_dir: Path
    flags: dict[str, str]

    def registry(self) -> Registry:
        """A fresh registry instance: a second checkout / a second machine."""
        settings = load_settings(self.project_dir, flags=self.flags, env={})
        if self.kind == "file":
            return FileRegistry(settings)
        registry = ConsulRegistry(settings)
        registry.min_session_ttl = 0.1  # the double allows it; real Consul would not
        return registry


@pytest.fixture(params=["file", "consul"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "file":
        yield Store("file", tmp_path, {"registry": "file"})
        return
    with consul_test_server(min_session_ttl=0.1) as server:
        # Each machine has its own project folder; only Consul is shared.
        yield Store("consul", tmp_path, {"registry": "consul", "consul_address": server.address})


@pytest.fixture
def registry(store: Store) -> Registry:
    return store.registry()


def holder(name: str) -> dict[str, object]:
    return {"host": "test-host", "pid": 1234, "user": name}


def test_first_load_is_a_fresh_state(registry: Registry) -> None:
    state = registry.load_state(SERVICE)
    assert state == TargetState(service=SERVICE)
    assert state.version == 0
    assert state.live_color is None


def test_state_round_trip(registry: Registry) -> None:
    state = TargetState(
        SERVICE, live_color=Color.BLUE, deployed_color=Color.GREEN, scale=3, release_id="r1"
    )
    saved = registry.save_state(state)
    assert saved.version > 0
    loaded = registry.load_state(SERVICE)
    assert loaded == saved
    assert (loaded.live_color, loaded.new_color, loaded.scale) == (Color.BLUE, Color.GREEN, 3)


def test_check_and_set_conflict_keeps_the_first_write(store: Store) -> None:
    first, second = store.registry(), store.registry()
    base = first.save_state(TargetState(SERVICE, scale=1))
    read_a, read_b = first.load_state(SERVICE), second.load_state(SERVICE)
    assert read_a.version == read_b.version == base.version
    written = first.save_state(dataclasses.replace(read_a, scale=2))
    with pytest.raises(ConflictError):
        second.save_state(dataclasses.replace(read_b, scale=5))
    survivor = second.load_state(SERVICE)
    assert survivor.scale == 2
    assert survivor.version == written.version
    # Creating what already exists is a conflict too (version 0 means "create").
    with pytest.raises(ConflictError):
        second.save_state(TargetState(SERVICE, scale=9))
    # A save from the returned state keeps working: the returned version is current.
    assert first.save_state(dataclasses.replace(written, scale=4)).scale == 4


def test_releases_listed_newest_first(registry: Registry) -> None:
    for rid, started in [
        ("b", "2024-01-02T00:00:00.000+00:00"),
        ("c", "2024-01-03T00:00:00.000+00:00"),
        ("a", "2024-01-01T00:00:00.000+00:00"),
    ]:
        registry.save_release(Release(id=rid, service=SERVICE, target="app", started=started))
    registry.save_release(Release(id="x", service="other-app", target="app"))
    assert [r.id for r in registry.releases(SERVICE)] == ["c", "b", "a"]
    assert registry.releases("never-deployed") == []


def _timestamped(registry: Registry, count: int) -> list[str]:
    """`count` releases with ids as the engine makes them (start second first), two of
    them in the same second; returns their ids newest first."""
    ids = []
    for n in range(count):
        second = min(n, count - 2)  # the two newest share a second
        rid = f"20260101T0000{second:02d}-{n:04x}"
        started = f"2026-01-01T00:00:{second:02d}.{n:03d}000+00:00"
        registry.save_release(Release(id=rid, service=SERVICE, target="app", started=started))
        ids.append(rid)
    return ids[::-1]


def test_releases_limit_iteration_and_lookup_by_id(registry: Registry) -> None:
    newest = _timestamped(registry, 6)
    assert [r.id for r in registry.releases(SERVICE)] == newest
    assert [r.id for r in registry.releases(SERVICE, limit=3)] == newest[:3]
    assert [r.id for r in registry.releases(SERVICE, limit=0)] == []
    assert [r.id for r in registry.iter_releases(SERVICE)] == newest
    found = registry.release(SERVICE, newest[4])
    assert found is not None and found.id == newest[4]
    assert registry.release(SERVICE, "20260101T000000-ffff") is None
    assert registry.release("never-deployed", newest[0]) is None
    assert list(registry.iter_releases("never-deployed")) == []


def test_release_updated_in_place(registry: Registry) -> None:
    release = Release(id="r1", service=SERVICE, target="app", color=Color.GREEN)
    registry.save_release(release)
    release.state, release.outcome, release.step = ReleaseState.LIVE, "ok", "stop_old"
    registry.save_release(release)
    (stored,) = registry.releases(SERVICE)
    assert stored.to_dict() == release.to_dict()


def test_lock_acquire_renew_release(store: Store) -> None:
    mine, theirs = store.registry(), store.registry()
    lock = mine.acquire_lock(SERVICE, holder("me"), ttl=30)
    assert theirs.lock_holder(SERVICE) == holder("me")
    with pytest.raises(LockHeld) as refused:
        theirs.acquire_lock(SERVICE, holder("you"), ttl=30)
    assert refused.value.holder == holder("me")
    assert "user=me" in str(refused.value)
    lock.renew()
    assert theirs.lock_holder(SERVICE) == holder("me")
    lock.release()
    assert theirs.lock_holder(SERVICE) is None
    again = theirs.acquire_lock(SERVICE, holder("you"), ttl=30)
    assert mine.lock_holder(SERVICE) == holder("you")
    again.release()
    assert mine.lock_holder(SERVICE) is None


def test_renewing_keeps_a_short_lock(store: Store) -> None:
    mine, theirs = store.registry(), store.registry()
    lock = mine.acquire_lock(SERVICE, holder("me"), ttl=0.6)
    deadline = time.monotonic() + 1.3
    while time.monotonic() < deadline:
        time.sleep(0.15)
        lock.renew()
    with pytest.raises(LockHeld):
        theirs.acquire_lock(SERVICE, holder("you"), ttl=30)
    lock.release()


def test_lock_expires_when_not_renewed(store: Store) -> None:
    crashed, later = store.registry(), store.registry()
    stale = crashed.acquire_lock(SERVICE, holder("crashed"), ttl=0.5)
    time.sleep(0.8)
    assert later.lock_holder(SERVICE) is None
    fresh = later.acquire_lock(SERVICE, holder("later"), ttl=30)
    with pytest.raises(FlowgateError):
        stale.renew()
    stale.release()  # a stale handle must not free somebody else's lock
    assert later.lock_holder(SERVICE) == holder("later")
    fresh.release()


SCRIPT = r"""
import json, os, socket, sys, time
from pathlib import Path
from flowgate.config.settings import load_settings
from flowgate.errors import LockHeld
flags, go, service = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
settings = load_settings(Path(sys.argv[4]), flags=flags, env={})
if flags["registry"] == "file":
    from flowgate.backends.registry.file import FileRegistry as Backend
else:
    from flowgate.backends.registry.consul import ConsulRegistry as Backend
registry = Backend(settings)
registry.lock_holder(service)  # imports and connection ready before the race
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.002)
me = {"host": socket.gethostname(), "pid": os.getpid()}
try:
    lock = registry.acquire_lock(service, me, 30)
except LockHeld as err:
    print(json.dumps({"won": False, "pid": os.getpid(), "holder": err.holder}), flush=True)
else:
    print(json.dumps({"won": True, "pid": os.getpid()}), flush=True)
    sys.stdin.read()
    lock.release()
"""


@pytest.mark.parametrize("previous", ["none", "expired"])
def test_lock_contention_between_two_processes(store: Store, tmp_path: Path, previous: str) -> None:
    """Two processes race for the lock (free, or held by a holder that expired): exactly
    one wins and the other is told who did."""
    if previous == "expired":
        store.registry().acquire_lock(SERVICE, holder("crashed"), ttl=0.3)
        time.sleep(0.5)
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SCRIPT,
                json.dumps(store.flags),
                str(go),
                SERVICE,
                str(store.project_dir),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        go.touch()
        results = [json.loads(racer.stdout.readline()) for racer in racers if racer.stdout]
        winners = [r for r in results if r["won"]]
        losers = [r for r in results if not r["won"]]
        assert len(winners) == 1 and len(losers) == 1, results
        assert losers[0]["holder"]["pid"] == winners[0]["pid"]
        assert losers[0]["holder"]["host"] == os.uname().nodename
        assert store.registry().lock_holder(SERVICE) == losers[0]["holder"]
    finally:
        for racer in racers:
            racer.communicate(timeout=20)
    assert [racer.returncode for racer in racers] == [0, 0]
    assert store.registry().lock_holder(SERVICE) is None


def test_second_instance_sees_same_state_and_history(store: Store) -> None:
    first = store.registry()
    first.save_state(
        TargetState(
            SERVICE, live_color=Color.GREEN, deployed_color=Color.GREEN, scale=2, release_id="r2"
        )
    )
    first.save_release(Release(id="r2", service=SERVICE, target="app", color=Color.GREEN))
    other: Callable[[], Registry] = store.registry
    second = other()
    state = second.load_state(SERVICE)
    assert (state.live_color, state.scale, state.release_id) == (Color.GREEN, 2, "r2")
    assert [r.id for r in second.releases(SERVICE)] == ["r2"]
    second.save_state(dataclasses.replace(state, scale=4))
    assert first.load_state(SERVICE).scale == 4


def test_check_passes_on_a_usable_registry(registry: Registry) -> None:
    registry.check()
    assert registry.load_state(SERVICE).version == 0


def test_break_lock_frees_only_the_dead_holder_it_names(store: Store) -> None:
    """A lock whose holder is known dead is freed at once (not after its TTL), but only if
    that holder still has it: one taken meanwhile by someone else is never broken."""
    dead, mine = store.registry(), store.registry()
    stale = dead.acquire_lock(SERVICE, holder("dead"), ttl=30)
    assert mine.break_lock(SERVICE, holder("someone else")) is False
    assert mine.lock_holder(SERVICE) == holder("dead")
    assert mine.break_lock(SERVICE, holder("dead")) is True
    assert mine.lock_holder(SERVICE) is None
    fresh = mine.acquire_lock(SERVICE, holder("me"), ttl=30)
    assert dead.break_lock(SERVICE, holder("dead")) is False  # already gone: a no-op
    stale.release()  # the dead holder's handle frees nothing
    assert mine.lock_holder(SERVICE) == holder("me")
    fresh.release()
    assert mine.break_lock(SERVICE, holder("me")) is False  # nothing to break


def test_a_refused_lock_says_when_it_expires(store: Store) -> None:
    lock = store.registry().acquire_lock(SERVICE, holder("me"), ttl=30)
    try:
        with pytest.raises(LockHeld) as refused:
            store.registry().acquire_lock(SERVICE, holder("you"), ttl=30)
    finally:
        lock.release()
    if store.kind == "file":  # the file knows the expiry; Consul only the session's TTL
        assert str(refused.value).endswith(
            ("expires in 30 s unless renewed", "in 29 s unless renewed")
        )
    else:
        assert str(refused.value).endswith(
            "; it expires at most 60 s after its holder stops renewing it"
        )
