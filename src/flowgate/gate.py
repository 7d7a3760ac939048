"""The built-in test gate: runs the team's pytest suites against a color, out of process.

pytest runs in its own process so a suite can neither crash nor slow down flowgate, and so
its plugins, conftest files and `sys.modules` stay its own. It receives the release under
test as one JSON document (flowgate.release_doc), named by FLOWGATE_RELEASE_FILE, which
flowgate's pytest plugin in that process reads to hand the tests the color's endpoints;
the plugin also ties the process to flowgate's, so it dies with it, even on SIGKILL.
Any pytest exit code other than 0 closes the gate, 5 ("no tests collected") included:
an empty gate proves nothing.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from flowgate import hookimpl
from flowgate.engine.context import ReleaseContext
from flowgate.files import make_private, private_dir
from flowgate.gate_report import read_failed_ids, read_junit
from flowgate.models import Color, TestResult
from flowgate.release_doc import RELEASE_FILE_ENV, release_document, write_document

#: The exit code of a gate whose pytest was killed because the release ran out of time.
TIMED_OUT = -1
#: Seconds pytest gets to stop after SIGTERM before it is killed.
KILL_GRACE = 3.0
#: Variables of the pytest plugin's own that must not leak from flowgate's environment
#: into a gate (the release document says everything).
PLUGIN_ENV = ("FLOWGATE_TARGET", "FLOWGATE_COLOR", "FLOWGATE_PROJECT_DIR", "FLOWGATE_RESULT_FILE")


def report_path(context: ReleaseContext, kind: str) -> Path:
    """`.flowgate/reports/<release id>/<kind>.xml`, kept with the release's history."""
    release_id = context.release.id if context.release else None
    folder = release_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return context.state_dir.resolve() / "reports" / folder / f"{kind}.xml"


def flow_color(context: ReleaseContext, color: Color, kind: str) -> str:
    """What `--flow-color` the tests get: post tests go through the live route; the gate
    tests the new color through the preview route, any other color by its name."""
    if kind == "post":
        return "live"
    return "new" if color == context.state.new_color else str(color)


def pytest_argv(context: ReleaseContext, suites: list[str], report: Path) -> list[str]:
    argv = [sys.executable, "-m", "pytest", *suites, f"--junitxml={report}"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "flowgate.pytest_plugin"]  # entry points are off: load it by name
    return argv + shlex.split(context.settings.pytest_args)


def gate_env(release_file: Path) -> dict[str, str]:
    """os.environ plus the one variable naming the release document."""
    env = {k: v for k, v in os.environ.items() if k not in PLUGIN_ENV}
    env[RELEASE_FILE_ENV] = str(release_file)
    return env


def _stream(pipe: IO[bytes]) -> None:
    """Copy pytest's output to our stderr line by line (stdout carries flowgate's data).
    A pytest stopped mid-line (a timeout, Ctrl-C) gets its line ended, so the next
    progress line does not run on from it."""
    line = b""
    for line in iter(pipe.readline, b""):
        sys.stderr.write(line.decode("utf-8", errors="replace"))
        sys.stderr.flush()
    if line and not line.endswith(b"\n"):
        sys.stderr.write("\n")
        sys.stderr.flush()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop pytest and whatever it started (it leads its own process group)."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_pytest(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float | None, echo: bool = True
) -> int:
    """Run pytest, streaming its output unless `echo` is off (its JUnit report is kept
    either way); returns its exit code, TIMED_OUT when killed."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if echo else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so a timeout can stop pytest's own children too
    )
    reader = None
    if process.stdout is not None:
        reader = threading.Thread(target=_stream, args=(process.stdout,), daemon=True)
        reader.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        code = TIMED_OUT
    except BaseException:  # Ctrl-C does not reach pytest's own session: stop it here
        _stop(process)
        raise
    finally:
        if reader is not None and process.stdout is not None:
            reader.join(timeout=5)
            process.stdout.close()
    return code


@hookimpl(trylast=True)
def run_gate(context: ReleaseContext, suites: list[str], color: Color, kind: str) -> TestResult:
    report = report_path(context, kind)
    private_dir(report.parent)
    result_file = report.with_suffix(".failed.json")
    release_file = report.with_suffix(".release.json")
    for stale in (report, result_file, release_file):
        stale.unlink(missing_ok=True)
    document = release_document(context, color, flow_color(context, color, kind), kind, result_file)
    write_document(release_file, document)
    code = run_pytest(
        pytest_argv(context, suites, report),
        context.project_dir.resolve(),
        gate_env(release_file),
        context.remaining(),
        echo=context.echo_test_output,
    )
    for written in (report, result_file):
        make_private(written)
    failed_ids = read_failed_ids(result_file)
    counts = read_junit(report)
    return dataclasses.replace(
        counts,
        failed_ids=counts.failed_ids if failed_ids is None else failed_ids,
        exit_code=code,
        report=str(report) if report.is_file() else None,
        suites=list(suites),
        kind=kind,
    )
