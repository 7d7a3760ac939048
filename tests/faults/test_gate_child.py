"""The gate's pytest dies with flowgate, however flowgate dies: SIGKILL included (before,
a killed release left its test run running, still sending requests to the new color)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_project import cli

SUITE = """
import os, pathlib, subprocess, sys, time

def test_runs_until_killed():
    here = pathlib.Path(__file__).parent
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (here / "pids").write_text(f"{os.getpid()} {helper.pid}")
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead, only not reaped yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_test_run_dies_with_flowgate(
    project: Path, capsys: pytest.CaptureFixture[str], sig: signal.Signals
) -> None:
    assert cli(capsys, "deploy", "-q")[0] == 0
    (project / "gate").mkdir()
    (project / "gate" / "test_forever.py").write_text(SUITE)
    flowgate = shutil.which("flowgate") or sys.executable
    parent = subprocess.Popen(
        [flowgate, "test", "--tests", "gate", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids_file = project / "gate" / "pids"
    deadline = time.monotonic() + 60
    while not pids_file.exists() or not pids_file.read_text().strip():
        assert parent.poll() is None, "flowgate ended before its test ran"
        assert time.monotonic() < deadline, "the suite never started"
        time.sleep(0.1)
    pytest_pid, helper_pid = map(int, pids_file.read_text().split())
    assert alive(pytest_pid) and alive(helper_pid)

    parent.send_signal(sig)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while (alive(pytest_pid) or alive(helper_pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in (pytest_pid, helper_pid) if alive(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, "the gate's processes outlived flowgate"
