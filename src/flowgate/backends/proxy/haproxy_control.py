"""Running HAProxy: its files, the master process, the master socket and the Runtime API.

HAProxy runs in master-worker mode, daemonized, so it keeps serving after flowgate exits.
HAProxy 2.6's `reload` answers nothing and a failed reload silently keeps the old worker,
so every reload is confirmed with `show proc`, and every config is checked with
`haproxy -c` before it is applied.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flowgate.errors import BackendUnreachable, ReleaseFailed

SAFE_PATH_RE = re.compile(r"^[A-Za-z0-9._/-]+$")
# sun_path holds 107 bytes and a NUL; HAProxy binds `<path>.<pid>.tmp` (and keeps a
# `.bak`) before renaming, and a pid has up to 7 digits: 107 - len(".4194304.tmp").
MAX_SOCKET_PATH = 95
RUNTIME_ERRORS = ("No such", "Require", "Invalid", "Unknown command", "Permission denied")


@dataclass(frozen=True)
class HAProxyFiles:
    """Where one project's HAProxy keeps its files: `<project>/.flowgate/haproxy/`."""

    root: Path

    @classmethod
    def for_project(cls, project_dir: Path) -> HAProxyFiles:
        return cls(Path(project_dir).resolve() / ".flowgate" / "haproxy")

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def routes(self) -> Path:
        return self.root / "routes.json"

    @property
    def pidfile(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def lock(self) -> Path:
        return self.root / "apply.lock"

    @property
    def socket_dir(self) -> Path:
        """The state dir, unless its path is too long for a unix socket or needs quoting
        in the config; then a short private dir under the temp dir, named by its hash."""
        probe = str(self.root / "master.sock")
        if len(probe) <= MAX_SOCKET_PATH and SAFE_PATH_RE.fullmatch(probe):
            return self.root
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"flowgate-haproxy-{digest}"

    @property
    def master_socket(self) -> Path:
        return self.socket_dir / "master.sock"

    @property
    def admin_socket(self) -> Path:
        return self.socket_dir / "admin.sock"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def haproxy_binary() -> str:
    found = shutil.which("haproxy")
    if not found:
        raise BackendUnreachable("haproxy: no `haproxy` binary on PATH; install HAProxy 2.6+")
    return found


def send(path: Path, command: str, timeout: float = 5.0) -> str:
    """One command on a HAProxy CLI socket (it closes the connection after answering)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(command.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)  # the master CLI answers only once input ends
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def runtime(files: HAProxyFiles, command: str) -> str:
    """A Runtime API command on the admin socket; an error answer raises ReleaseFailed."""
    try:
        answer = send(files.admin_socket, command).strip()
    except OSError as err:
        raise ReleaseFailed(f"haproxy: runtime API socket does not answer: {err}") from err
    first = answer.splitlines()[0] if answer else ""
    if any(word in first for word in RUNTIME_ERRORS):
        raise ReleaseFailed(f"haproxy: `{command}` failed: {first}")
    return answer


def runtime_batch(files: HAProxyFiles, commands: list[str]) -> str:
    """Several Runtime API commands on one line (`a; b; c`): HAProxy runs them one after
    the other in one go, so a switch is one round trip and no other client command comes
    between them. Any error line raises ReleaseFailed, naming the batch's first command."""
    if not commands:
        return ""
    try:
        answer = send(files.admin_socket, "; ".join(commands)).strip()
    except OSError as err:
        raise ReleaseFailed(f"haproxy: runtime API socket does not answer: {err}") from err
    for line in answer.splitlines():
        if any(word in line for word in RUNTIME_ERRORS):
            raise ReleaseFailed(f"haproxy: `{commands[0]}` ... failed: {line.strip()}")
    return answer


def validate_config(path: Path) -> None:
    """`haproxy -c`; the first error line goes into the one-line message."""
    result = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr + result.stdout).splitlines() if "ALERT" in ln]
        detail = (lines or (result.stderr + result.stdout).splitlines() or ["no output"])[0]
        raise ReleaseFailed(f"haproxy: rendered config is invalid, nothing applied: {detail}")


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie has exited


def master_pid(files: HAProxyFiles) -> int | None:
    """The pid of this project's master, only if it is alive and runs our config."""
    try:
        pid = int(files.pidfile.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    if str(files.config).encode() not in cmdline or not _pid_alive(pid):
        return None
    return pid


@dataclass(frozen=True)
class ProcInfo:
    """What the master's `show proc` says: reload counters and worker pids."""

    reloads: int
    failed: int
    workers: tuple[int, ...]
    old_workers: tuple[int, ...]


def show_proc(files: HAProxyFiles) -> ProcInfo:
    text = send(files.master_socket, "show proc")
    reloads = failed = 0
    workers: list[int] = []
    old: list[int] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line
            continue
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit():
            continue
        if fields[1] == "master":
            reloads = int(fields[2])
            match = re.search(r"failed: (\d+)", line)
            failed = int(match.group(1)) if match else 0
        elif fields[1] == "worker":
            (old if "old" in section else workers).append(int(fields[0]))
    return ProcInfo(reloads, failed, tuple(workers), tuple(old))


def _wait_proc(
    files: HAProxyFiles, timeout: float, done: Callable[[ProcInfo], bool]
) -> ProcInfo | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = show_proc(files)
            if done(info):
                return info
        except OSError:
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def start(files: HAProxyFiles, timeout: float = 10.0) -> ProcInfo:
    """Start a daemonized master-worker HAProxy on the current config and wait for its worker."""
    files.ensure()
    command = [
        haproxy_binary(),
        "-W",
        "-D",
        "-S",
        f"{files.master_socket},mode,600",
        "-f",
        str(files.config),
        "-p",
        str(files.pidfile),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        alerts = [ln for ln in result.stderr.splitlines() if "ALERT" in ln] or ["no output"]
        raise ReleaseFailed(f"haproxy: could not start: {alerts[0]}")
    info = _wait_proc(files, timeout, lambda i: bool(i.workers))
    if info is None:
        raise ReleaseFailed(f"haproxy: started but no worker answered within {timeout:g}s")
    return info


def reload(files: HAProxyFiles, timeout: float = 10.0) -> ProcInfo:
    """Reload through the master socket and confirm a new worker took over."""
    before = show_proc(files)
    try:
        send(files.master_socket, "reload")
    except OSError as err:
        raise ReleaseFailed(f"haproxy: master socket refused the reload: {err}") from err
    info = _wait_proc(files, timeout, lambda i: i.reloads > before.reloads)
    if info is None:
        raise ReleaseFailed(f"haproxy: reload not confirmed by `show proc` within {timeout:g}s")
    if info.failed > before.failed or not set(info.workers) - set(before.workers):
        raise ReleaseFailed("haproxy: reload failed; the previous configuration still serves")
    return info


def server_states(files: HAProxyFiles, backend: str) -> dict[str, tuple[int, int, str]]:
    """`show servers state`: server name -> (operational state, admin flags, addr:port)."""
    states = {}
    for line in runtime(files, f"show servers state {backend}").splitlines():
        fields = line.split()
        if len(fields) > 18 and fields[0].isdigit() and fields[1] == backend:
            states[fields[3]] = (int(fields[5]), int(fields[6]), f"{fields[4]}:{fields[18]}")
    return states


def stop_master(files: HAProxyFiles, timeout: float = 10.0) -> bool:
    """Stop a local HAProxy master (by the pid it recorded); True when one was stopped."""
    pid = master_pid(files)
    if pid is None:
        return False
    try:
        info = show_proc(files)
        workers = (*info.workers, *info.old_workers)
    except OSError:
        workers = ()
    os.kill(pid, signal.SIGTERM)  # the master stops its workers too
    for each in (pid, *workers):
        deadline = time.monotonic() + timeout
        while _pid_alive(each):
            if time.monotonic() > deadline:
                os.kill(each, signal.SIGKILL)
                break
            time.sleep(0.05)
    for path in (files.master_socket, files.admin_socket, files.pidfile):
        path.unlink(missing_ok=True)
    return True
