"""Running nginx: its files under the project's `.flowgate/nginx/`, `nginx -t`, start,
confirmed graceful reload, and stop.

nginx's master answers SIGHUP by starting new workers with the new configuration and
asking the old ones to finish their requests and exit; when the new configuration cannot
be applied (a port taken, say) it logs an `[emerg]` line and keeps the old workers. So a
reload is confirmed by looking at the master's workers: it took effect once every worker
that is not shutting down is one that did not exist before the signal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from flowgate import BackendUnreachable, ReleaseFailed, private_dir

START_TIMEOUT = 10.0
RELOAD_TIMEOUT = 10.0
WORKER = "nginx: worker process"
SHUTTING_DOWN = "nginx: worker process is shutting down"


@dataclass(frozen=True)
class NginxFiles:
    """Everything one project's nginx keeps: nothing of it lives in /etc/nginx."""

    root: Path

    @classmethod
    def for_project(cls, project_dir: Path) -> NginxFiles:
        return cls(Path(project_dir).resolve() / ".flowgate" / "nginx")

    @property
    def config(self) -> Path:
        return self.root / "nginx.conf"

    @property
    def candidate(self) -> Path:
        return self.root / "nginx.conf.new"

    @property
    def pid(self) -> Path:
        return self.root / "nginx.pid"

    @property
    def error_log(self) -> Path:
        return self.root / "error.log"

    @property
    def routes(self) -> Path:
        return self.root / "routes.json"

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    def ensure(self) -> None:
        """The folders, owner-only like all of `.flowgate/` (nginx's workers run as the
        same user), and an owner-only error log for nginx to append to."""
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            private_dir(self.root / "tmp" / kind)
        os.close(os.open(self.error_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def nginx_binary(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackendUnreachable(f"nginx: no `{name}` binary on PATH; install nginx 1.22+")
    return found


def _argv(binary: str, files: NginxFiles, config: Path) -> list[str]:
    # -p: relative paths resolve here; -e: errors before the config is read go here too.
    return [binary, "-p", f"{files.root}/", "-c", str(config), "-e", str(files.error_log)]


def _emerg(text: str) -> str:
    lines = [ln for ln in text.splitlines() if "[emerg]" in ln or "[alert]" in ln]
    line = (lines or text.strip().splitlines() or ["no output"])[0]
    return line.split("[emerg] ", 1)[-1].split("[alert] ", 1)[-1].strip()


def check_config(binary: str, files: NginxFiles, config: Path) -> None:
    """`nginx -t` on a candidate file; ReleaseFailed with nginx's own reason if invalid."""
    argv = [binary, "-t", "-q", "-p", f"{files.root}/", "-c", str(config), "-e", "stderr"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        reason = _emerg(done.stderr)
        raise ReleaseFailed(f"nginx: rendered config is invalid, nothing applied: {reason}")


def master_pid(files: NginxFiles) -> int | None:
    """The running master's pid, or None (no pid file, or a stale one: that pid is gone,
    or now another program, or an nginx serving another config)."""
    try:
        pid = int(files.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    title = _title(pid)
    ours = title.startswith("nginx: master process") and str(files.config) in title
    return pid if ours else None


def _title(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def workers(master: int) -> tuple[set[int], set[int]]:
    """(serving workers, workers shutting down after a reload) of the master."""
    serving, leaving = set(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != master:
            continue
        title = _title(int(entry))
        if title.startswith(SHUTTING_DOWN):
            leaving.add(int(entry))
        elif title.startswith(WORKER):
            serving.add(int(entry))
    return serving, leaving


def start(binary: str, files: NginxFiles) -> int:
    """Start nginx on the current config; returns once a worker serves."""
    files.ensure()
    with tempfile.TemporaryFile("w+") as errors:
        # The master daemonizes; its output goes to a file, never to a pipe it would hold.
        done = subprocess.run(
            _argv(binary, files, files.config),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            timeout=30,
            check=False,
        )
        errors.seek(0)
        output = errors.read()
    if done.returncode != 0:
        raise ReleaseFailed(f"nginx: could not start: {_emerg(output)}")
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        master = master_pid(files)
        if master is not None and workers(master)[0]:
            return master
        if time.monotonic() > deadline:
            raise ReleaseFailed(f"nginx: started, but no worker within {START_TIMEOUT:g}s")
        time.sleep(0.02)


def reload(files: NginxFiles) -> None:
    """SIGHUP the master and wait until only new workers serve; ReleaseFailed (the old
    configuration still serving) when nginx refused the new one."""
    master = master_pid(files)
    if master is None:
        raise ReleaseFailed("nginx: not running, cannot reload")
    before, _ = workers(master)
    offset = files.error_log.stat().st_size if files.error_log.exists() else 0
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while True:
        serving, _ = workers(master)
        if serving and not serving & before:
            return
        logged = _read_from(files.error_log, offset)
        if "[emerg]" in logged or "[alert]" in logged:
            raise ReleaseFailed(
                f"nginx: reload refused, the previous configuration still serves: {_emerg(logged)}"
            )
        if time.monotonic() > deadline:
            raise ReleaseFailed(
                f"nginx: reload not confirmed within {RELOAD_TIMEOUT:g}s "
                f"(workers {sorted(serving)} are not new)"
            )
        time.sleep(0.01)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def wait_old_workers(files: NginxFiles, timeout: float) -> None:
    """Return once no worker of an earlier configuration is finishing requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        master = master_pid(files)
        if master is None or not workers(master)[1]:
            return
        time.sleep(0.05)


def stop(files: NginxFiles, timeout: float = 10.0) -> bool:
    """Graceful stop (SIGQUIT), then SIGTERM and SIGKILL; True when nginx was running."""
    master = master_pid(files)
    if master is None:
        return False
    serving, leaving = workers(master)
    for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(master, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _title(master).startswith("nginx: master"):
            time.sleep(0.05)
        if not _title(master).startswith("nginx: master"):
            break
    for worker in serving | leaving:  # orphaned only if the master had to be killed
        if _title(worker).startswith(WORKER):
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
    files.pid.unlink(missing_ok=True)
    return True
