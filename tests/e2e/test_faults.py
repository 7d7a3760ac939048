"""Issue 12's fault suite: real Docker, real HAProxy, real books-ms containers, constant
traffic through the proxy's public port (a recording client that never retries).

Each fault ends with the documented exit code, one error line, the live color serving
(the color `status` names is the one that answers), no failed request and a registry that
agrees with what runs. One live project is shared by every case, in order: each case
starts from what the previous one left, which is itself part of what is checked.
docs/reliability.md lists every case with what flowgate does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from books_project import FOREIGN_ENV, BooksProject, clean_env

from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BooksProject]:
    """blue 1.0 promoted, then 1.1 released on green: green live, blue stopped (warm)."""
    with clean_env():
        project = BooksProject.create(
            tmp_path_factory.mktemp("faults") / "books", "fgfault", gate=False
        )
        compose = project.folder / "docker-compose.yml"
        # A health probe a case can point elsewhere (a release that never becomes healthy).
        # and a command a case can replace (a container that exits at once).
        compose.write_text(
            compose.read_text()
            .replace("http://127.0.0.1:8080/health", "${HEALTH_URL:-http://127.0.0.1:8080/health}")
            .replace(
                "    image: books-ms:${BOOKS_VERSION:-1.0}\n",
                "    image: books-ms:${BOOKS_VERSION:-1.0}\n"
                '    command: ["${APP_COMMAND:-/app/start.sh}"]\n',
            )
        )
        failing = project.folder / "tests" / "failing"
        failing.mkdir()
        (failing / "test_fails.py").write_text("def test_fails():\n    assert False\n")
        try:
            project.cli("deploy", version="1.0")
            project.cli("promote")
            project.cli("release", version="1.1")
            yield project
        finally:
            project.remove()


@pytest.fixture
def traffic(books: BooksProject) -> Iterator[TrafficRecorder]:
    with TrafficRecorder(books.url(), label=version_and_color) as recorder:
        recorder.wait_answers(time.monotonic(), count=5)
        yield recorder
    assert recorder.failures == [], recorder.summary()


def error_line(err: str) -> str:
    """The one error line a failed verb prints (progress lines aside)."""
    lines = [line for line in err.splitlines() if line.startswith("flowgate: error:")]
    assert len(lines) == 1, err
    return lines[0]


def consistent(
    books: BooksProject, traffic: TrafficRecorder | None = None, ended: bool = True
) -> dict[str, Any]:
    """The registry agrees with what runs, the proxy serves, and the color answering on
    the public port is the one `status` calls live."""
    data = books.status()
    assert data["state_disagrees"] is None, data
    assert data["proxy"]["serving"], data["proxy"]
    if ended:  # the current release finished (else: it is the killed one, recovered)
        assert data["release"]["state"] not in ("running", "interrupted"), data["release"]
    live = data["live_color"]
    assert data["colors"][live]["state"] == "live"
    assert books.answer().endswith(f"({live})")
    if traffic is not None:
        since = time.monotonic()
        traffic.wait_answers(since, count=10)
        assert {a.split("(")[-1] for a in traffic.answers(since)} == {f"{live})"}
    return data


def instances(books: BooksProject, color: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = books.status()["colors"][color]["instances"]
    return found


# -- the state is evidence ----------------------------------------------------------------


def test_state_file_deleted(books: BooksProject, traffic: TrafficRecorder) -> None:
    before = consistent(books)
    state = books.folder / ".flowgate" / "registry" / books.service / "state.json"
    state.unlink()
    code, _, err = books.invoke("release", version="1.2")
    assert code == 4, err
    assert "disagrees with what runs" in error_line(err) and "flowgate reconcile" in err
    # Nothing started, stopped or removed (the color states need the lost state).
    assert instances(books, "blue") == before["colors"]["blue"]["instances"]
    assert instances(books, "green") == before["colors"]["green"]["instances"]
    books.cli("reconcile")
    after = consistent(books, traffic)
    assert after["live_color"] == before["live_color"] == "green"
    assert after["colors"]["blue"]["state"] == "stopped"  # the warm copy is still there


def test_new_domain_given_to_deploy_leaves_the_live_route(
    books: BooksProject, traffic: TrafficRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder asks for 127.0.0.1: a live route moved to books.example.com would
    answer it with errors at once."""
    monkeypatch.setenv("FLOWGATE_SERVICE_DOMAIN", "books.example.com")
    books.cli("deploy", version="1.2")
    consistent(books, traffic)
    books.cli("abort")
    consistent(books, traffic)


# -- always a way back --------------------------------------------------------------------


def test_failed_gate_then_rollback_recreates_the_previous_release(
    books: BooksProject, traffic: TrafficRecorder
) -> None:
    code, _, err = books.invoke("release", "--tests", "tests/failing", version="1.2")
    assert code == 7, err
    assert "test gate failed" in error_line(err)
    data = consistent(books, traffic)
    assert data["live_color"] == "green"
    # The failed release went where the warm copy was: blue holds nothing now.
    assert data["colors"]["blue"]["state"] == "absent"
    books.cli("rollback")
    rolled = time.monotonic()
    traffic.wait_answers(rolled)
    assert set(traffic.answers(since=rolled)) == {"1.0 (blue)"}
    consistent(books, traffic)


def test_abort_then_rollback(books: BooksProject, traffic: TrafficRecorder) -> None:
    books.cli("deploy", version="1.2")  # onto green, where 1.1 was kept warm
    books.cli("abort")
    assert books.status()["colors"]["green"]["state"] == "absent"
    books.cli("rollback")  # 1.1, re-created from its record
    rolled = time.monotonic()
    traffic.wait_answers(rolled)
    assert set(traffic.answers(since=rolled)) == {"1.1 (green)"}
    consistent(books, traffic)


def test_warm_copy_removed_by_hand_then_rollback(
    books: BooksProject, traffic: TrafficRecorder
) -> None:
    client = docker.from_env()
    try:
        for instance in instances(books, "blue"):
            client.containers.get(instance["name"]).remove(force=True)
    finally:
        client.close()
    assert books.status()["colors"]["blue"]["state"] == "absent"
    books.cli("rollback")
    rolled = time.monotonic()
    traffic.wait_answers(rolled)
    assert set(traffic.answers(since=rolled)) == {"1.0 (blue)"}
    consistent(books, traffic)


def test_rollback_to_an_older_release(books: BooksProject, traffic: TrafficRecorder) -> None:
    first = books.history()[-1]  # 1.0 on blue, the first release
    assert (first["color"], first["state"]) == ("blue", "live")
    code, _, err = books.invoke("rollback", "--to", first["id"])
    assert code == 2 and "it is the live release" in error_line(err)  # blue runs 1.0 now
    green_11 = next(r for r in books.history() if r["images"] == ["books-ms:1.1"])
    books.cli("rollback", "--to", green_11["id"])
    consistent(books, traffic)
    assert books.answer() == "1.1 (green)"


# -- broken pieces: nothing changes, the live color keeps serving ------------------------


def test_image_missing(books: BooksProject, traffic: TrafficRecorder) -> None:
    before = books.status()
    code, _, err = books.invoke("release", version="9.9")
    assert code == 1, err
    assert "books-ms:9.9" in error_line(err)
    data = consistent(books, traffic)
    assert data["live_color"] == before["live_color"]
    other = "blue" if data["live_color"] == "green" else "green"
    assert data["colors"][other]["state"] == before["colors"][other]["state"] == "stopped"


def test_bad_service_path_changes_nothing(books: BooksProject, traffic: TrafficRecorder) -> None:
    """Refused before anything changes: the warm copy of the other color stays."""
    before = books.status()
    code, _, err = books.invoke("release", "--service-path", "/books\nbackend x", version="1.0")
    assert code == 2, err  # a bad flag is a usage error (in flowgate.yml: 4)
    assert "--service-path" in error_line(err)
    for color in ("blue", "green"):
        assert instances(books, color) == before["colors"][color]["instances"]
    consistent(books, traffic)


def test_never_healthy_release(
    books: BooksProject, traffic: TrafficRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_URL", "http://127.0.0.1:9/health")
    monkeypatch.setenv("FLOWGATE_HEALTH_TIMEOUT", "4")
    live = books.status()["live_color"]
    code, _, err = books.invoke("release", version="1.2")
    assert code == 1, err
    assert "healthy" in error_line(err)
    assert consistent(books, traffic)["live_color"] == live


def test_crash_looping_release(
    books: BooksProject, traffic: TrafficRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_COMMAND", "/bin/false")
    live = books.status()["live_color"]
    code, _, err = books.invoke("release", version="1.0")
    assert code == 1, err
    error_line(err)
    assert consistent(books, traffic)["live_color"] == live


def test_engine_unreachable(
    books: BooksProject, traffic: TrafficRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{books.folder}/no-docker.sock")
    code, _, err = books.invoke("release", version="1.2")
    assert code == 5, err
    error_line(err)
    monkeypatch.delenv("DOCKER_HOST")
    consistent(books, traffic)


def test_registry_unreachable(
    books: BooksProject, traffic: TrafficRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWGATE_REGISTRY", "consul")
    monkeypatch.setenv("FLOW_CONSUL_ADDRESS", f"http://127.0.0.1:{free_port()}")
    code, _, err = books.invoke("release", version="1.2")
    assert code == 5, err
    error_line(err)
    monkeypatch.delenv("FLOWGATE_REGISTRY")
    monkeypatch.delenv("FLOW_CONSUL_ADDRESS")
    consistent(books, traffic)


def haproxy_pids(books: BooksProject) -> list[int]:
    """HAProxy processes whose command line names this project's HAProxy files."""
    marker = str(books.folder / ".flowgate").encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"haproxy" in cmdline.split(b"\0")[0] and marker in cmdline:
            found.append(int(proc.name))
    return found


def test_haproxy_killed(books: BooksProject) -> None:
    """No traffic can pass while HAProxy is dead: `status` must say so, not "healthy";
    `flowgate reconcile` serves again."""
    pids = haproxy_pids(books)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while haproxy_pids(books) and time.monotonic() < deadline:
        time.sleep(0.1)
    data = books.status()
    assert data["proxy"]["serving"] is False and data["proxy"]["error"]
    out = books.cli("status")
    assert "NOT SERVING" in out
    books.cli("reconcile")
    with TrafficRecorder(books.url(), label=version_and_color) as traffic:
        consistent(books, traffic)
    assert traffic.failures == [], traffic.summary()


# -- SIGKILL at every step boundary -------------------------------------------------------

#: (event, step, nth): a release without a gate runs deploy, reconfigure_proxy (preview),
#: reconfigure_proxy (the switch), stop_old.
BOUNDARIES: list[tuple[str, str, int]] = [
    ("step-started", "deploy", 1),
    ("step-finished", "deploy", 1),
    ("step-finished", "reconfigure_proxy", 1),
    ("step-started", "reconfigure_proxy", 2),
    ("step-finished", "reconfigure_proxy", 2),
    ("step-finished", "stop_old", 1),
    ("step-started", "test", 1),  # with the example's smoke suite as the gate
    ("step-finished", "test", 1),
]
#: A rollback runs start (or deploy), reconfigure_proxy (the switch), stop_old.
ROLLBACK_BOUNDARIES: list[tuple[str, str, int]] = [
    ("step-finished", "start", 1),
    ("step-finished", "reconfigure_proxy", 1),
]


def flowgate_child(
    books: BooksProject, version: str, kill: tuple[str, str, int], *verb: str
) -> int:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    event, step, nth = kill
    env.update(
        BOOKS_VERSION=version,
        FLOWGATE_PLUGINS="fault_killer",
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")])),
        FAULT_KILL_EVENT=event,
        FAULT_KILL_STEP=step,
        FAULT_KILL_NTH=str(nth),
    )
    script = Path(sys.executable).with_name("flowgate")
    argv = [str(script), *(verb or ["release"]), "-C", str(books.folder), "-q", "--no-color"]
    return subprocess.run(argv, env=env, timeout=180, capture_output=True).returncode


@pytest.mark.parametrize("kill", BOUNDARIES, ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_sigkill_at_a_step_boundary(
    books: BooksProject, traffic: TrafficRecorder, kill: tuple[str, str, int]
) -> None:
    live = books.status()["live_color"]
    version = "1.0" if books.answer().startswith("1.1") else "1.1"  # (1.2 is the broken one)
    gate = ["--tests", "tests/smoke"] if kill[1] == "test" else []
    assert flowgate_child(books, version, kill, "release", *gate) == -signal.SIGKILL
    release = books.status()["release"]
    assert release["state"] == "interrupted" or release["outcome"] == "interrupted", release
    assert books.answer().endswith(")")  # the proxy answers, whichever color
    # The next verb recovers first, then releases; everything ends consistent.
    books.cli("release", version=version)
    data = consistent(books, traffic)
    assert books.answer() == f"{version} ({data['live_color']})"
    assert data["live_color"] != live or kill[0:2] in {
        ("step-finished", "stop_old"),
    }
    # No release is left "live" (or running) with no end: the killed one says interrupted.
    assert all(r["ended"] for r in books.history() if r["state"] != "deployed")


@pytest.mark.parametrize("kill", ROLLBACK_BOUNDARIES, ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_sigkill_during_a_rollback(
    books: BooksProject, traffic: TrafficRecorder, kill: tuple[str, str, int]
) -> None:
    """Killed after starting the warm copy, or after its switch but before the state was
    saved: the next verb puts the proxy back on the saved live color and stops the color
    the rollback revived; a rollback then works."""
    live = books.status()["live_color"]
    version = books.answer().split()[0]
    assert flowgate_child(books, version, kill, "rollback") == -signal.SIGKILL
    assert books.answer().endswith(")")
    books.cli("stop-old")  # any verb recovers first
    data = consistent(books, traffic, ended=False)
    assert (data["release"]["kind"], data["release"]["state"]) == ("rollback", "interrupted")
    assert data["release"]["ended"], data["release"]
    assert data["live_color"] == live
    other = "blue" if live == "green" else "green"
    assert data["colors"][other]["state"] == "stopped"
    books.cli("rollback")
    assert consistent(books, traffic)["live_color"] == other
