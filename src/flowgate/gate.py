"""The built-in test gate: runs the team's pytest suites against a color, out of process.

pytest runs in its own process so a suite can neither crash nor slow down flowgate, and so
its plugins, conftest files and `sys.modules` stay its own. flowgate's pytest plugin in
that process opens the same project (same target, color, project name and Compose file)
and hands the tests the color's endpoints. Any pytest exit code other than 0 closes the
gate, 5 ("no tests collected") included: an empty gate proves nothing.
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
from typing import IO, Any

from flowgate import hookimpl
from flowgate.config.keys import CORE_KEYS
from flowgate.engine.context import ReleaseContext
from flowgate.gate_report import read_failed_ids, read_junit
from flowgate.models import Color, TestResult
from flowgate.plugins import BackendCatalog, extra_config_keys

#: The exit code of a gate whose pytest was killed because the release ran out of time.
TIMED_OUT = -1
#: Seconds pytest gets to stop after SIGTERM before it is killed.
KILL_GRACE = 3.0
#: Environment variable naming the JSON file the pytest plugin writes failed node ids to.
RESULT_FILE_ENV = "FLOWGATE_RESULT_FILE"


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


def pytest_argv(
    context: ReleaseContext, suites: list[str], color: Color, kind: str, report: Path
) -> list[str]:
    argv = [sys.executable, "-m", "pytest", *suites, f"--junitxml={report}"]
    argv += [
        f"--flow-target={context.target}",
        f"--flow-color={flow_color(context, color, kind)}",
        f"--flow-project-dir={context.project_dir.resolve()}",
    ]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "flowgate.pytest_plugin"]  # entry points are off: load it by name
    return argv + shlex.split(context.settings.pytest_args or "")


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def gate_env(context: ReleaseContext, result_file: Path) -> dict[str, str]:
    """os.environ plus what makes the plugin open exactly this project: the project name,
    the Compose file, and every setting given as a command-line flag (flags do not
    reach a child process any other way)."""
    env = dict(os.environ)
    settings = context.settings
    keys = extra_config_keys(context.pm, BackendCatalog.collect(context.pm))
    for key in (*CORE_KEYS, *keys):
        value = settings.get(key.name)
        if settings.sources.get(key.name) in ("flag", "override") and value not in (None, ""):
            env[key.env_var] = _env_text(value)
    env["FLOW_PROJECT"] = context.project
    env["FLOW_COMPOSE_PATH"] = str(settings.compose_path)
    env[RESULT_FILE_ENV] = str(result_file)
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
    report.parent.mkdir(parents=True, exist_ok=True)
    result_file = report.with_suffix(".failed.json")
    for stale in (report, result_file):
        stale.unlink(missing_ok=True)
    code = run_pytest(
        pytest_argv(context, suites, color, kind, report),
        context.project_dir.resolve(),
        gate_env(context, result_file),
        context.remaining(),
        echo=context.echo_test_output,
    )
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
