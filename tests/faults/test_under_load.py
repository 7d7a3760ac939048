"""Two releases of one target at once, against the Consul test server, on a busy machine.

On a loaded machine this e2e scenario once timed out: the second `flowgate release` ran
for 60 s instead of exiting 8, with broken-pipe tracebacks from the test server. What
happened: the *first* release had already failed its start-up check, because
`ConsulRegistry.check()` gave the agent 2 s to answer and a starved test server answered
later (exit 5). The test did not notice that the first was gone, so the second found the
lock free, ran a whole release, and was killed by the test's timeout in the middle of its
Consul requests (the broken pipes). flowgate hung nowhere; a live-but-slow Consul was
called unreachable, and the test waited on a premise it never checked.

Fixed here: `check()` fails fast only when it cannot connect (2 s) and gives a connected
agent the full request timeout; the test server listens with a real backlog; the tests
assert the first release holds the lock before starting the second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flowgate.backends.registry.consul import ConsulRegistry
from flowgate.config.settings import load_settings
from flowgate.testing.consul_server import consul_test_server

WAITING_SUITE = (
    "import pathlib, time\n\n"
    "def test_waits_for_the_other_release():\n"
    "    marker = pathlib.Path(__file__).with_name('go')\n"
    "    deadline = time.monotonic() + 90\n"
    "    while not marker.exists():\n"
    "        assert time.monotonic() < deadline\n"
    "        time.sleep(0.1)\n"
)


@contextmanager
def busy_machine(workers: int) -> Iterator[None]:
    """`workers` busy loops for the duration, stopped by their pids afterwards."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(workers)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def test_a_slow_but_alive_consul_is_not_unreachable(tmp_path: Path) -> None:
    """An agent that takes 3 s to answer (longer than the 2 s connect budget) is busy,
    not unreachable: check() waits for it."""
    with consul_test_server(response_delay=3.0) as server:
        settings = load_settings(tmp_path, {"registry": "consul"}, {})
        registry = ConsulRegistry(settings.replace(consul_address=server.address))
        started = time.monotonic()
        registry.check()
        assert time.monotonic() - started >= 3.0


def first_holds_the_lock(first: subprocess.Popen[str]) -> str:
    """Read the first release's progress until its deploy step is done (it took the lock
    before that); fail at once, with its output, if it ended instead."""
    assert first.stderr is not None
    seen = []
    for line in first.stderr:
        seen.append(line)
        if line.split()[1:2] == ["deploy"]:  # "  ✓ deploy  0.31s"
            return "".join(seen)
    first.wait()
    pytest.fail(
        f"the first release ended (exit {first.returncode}) before deploying:\n{''.join(seen)}"
    )


@pytest.mark.parametrize("delay", [0.0])
def test_the_second_of_two_concurrent_releases_exits_8_on_a_busy_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay: float
) -> None:
    """The fake runtime keeps it lean; Consul is the test server, here answering every
    request `delay` seconds late (2.5 s: more than the old 2 s check budget)."""
    project = tmp_path / "loaded"
    (project / "gate").mkdir(parents=True)
    (project / "gate" / "test_wait.py").write_text(WAITING_SUITE)
    (project / "docker-compose.yml").write_text(
        "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
    )
    monkeypatch.chdir(project)
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    flowgate = shutil.which("flowgate") or "flowgate"
    with (
        consul_test_server(response_delay=delay) as server,
        busy_machine(2 * (os.cpu_count() or 2)),
    ):
        (project / "flowgate.yml").write_text(
            "target: app\nruntime: fake\nproxy: fake\nproject: loaded\ndrain_timeout: 0\n"
            f"registry: consul\nconsul_address: {server.address}\n"
        )
        first = subprocess.Popen(
            [flowgate, "release", "--tests", "gate", "--no-color"],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            seen = first_holds_the_lock(first)
            second = subprocess.run(
                [flowgate, "release", "--no-color"], capture_output=True, text=True, timeout=120
            )
        finally:
            (project / "gate" / "go").touch()
            rest = first.communicate(timeout=180)[1]
    assert second.returncode == 8, second.stderr
    assert f"pid={first.pid}" in second.stderr
    assert first.returncode == 0, seen + rest
