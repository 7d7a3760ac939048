"""Talking to a running HAProxy: its files, the master socket and the Runtime API.

HAProxy runs in master-worker mode (a local process or a container, see haproxy_process
and haproxy_container), so it keeps serving after flowgate exits. HAProxy 2.6's `reload`
answers nothing and a failed reload silently keeps the old worker, so every reload is
confirmed with `show proc`, and every config is checked with `haproxy -c` before it is
applied.

One HAProxy serves every project on this host that names the same `proxy_port`: its files
live in `<haproxy_dir>/<proxy_port>/` (see `default_haproxy_dir`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
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


def default_haproxy_dir() -> Path:
    """Where shared HAProxies keep their files unless `haproxy_dir` says otherwise:
    /var/lib/flowgate/haproxy for root, else $XDG_STATE_HOME (~/.local/state)/flowgate/haproxy."""
    if os.geteuid() == 0:
        return Path("/var/lib/flowgate/haproxy")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "flowgate" / "haproxy"


@dataclass(frozen=True)
class HAProxyFiles:
    """Where one shared HAProxy keeps its files: `<haproxy_dir>/<proxy_port>/`."""

    root: Path

    @classmethod
    def for_port(cls, haproxy_dir: Path | str, proxy_port: int) -> HAProxyFiles:
        return cls(Path(haproxy_dir).expanduser().resolve() / str(int(proxy_port)))

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

    @property
    def preview_map(self) -> Path:
        """Header preview tokens; beside the sockets, whose path never needs quoting."""
        return self.socket_dir / "preview.map"

    def ensure(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def remove(self) -> None:
        """Delete the files of a stopped HAProxy (the folder too, when nothing else is left)."""
        for path in (self.config, self.routes, self.pidfile, self.preview_map):
            path.unlink(missing_ok=True)
        for path in (self.master_socket, self.admin_socket):
            path.unlink(missing_ok=True)
        for folder in {self.socket_dir, self.root}:
            with contextlib.suppress(OSError):  # not empty (the lock file) or already gone
                folder.rmdir()


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
        detail = first_alert(result.stderr + result.stdout)
        raise ReleaseFailed(f"haproxy: rendered config is invalid, nothing applied: {detail}")


def first_alert(output: str) -> str:
    """The line of HAProxy's output that says what went wrong: its first ALERT, else its
    first line. The one parser of HAProxy's error output (`-c`, start-up, container logs)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    alerts = [line for line in lines if "ALERT" in line]
    return (alerts or lines or ["no output"])[0]


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


def wait_proc(
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


def reload(files: HAProxyFiles, timeout: float = 10.0) -> ProcInfo:
    """Reload through the master socket and confirm a new worker took over."""
    before = show_proc(files)
    try:
        send(files.master_socket, "reload")
    except OSError as err:
        raise ReleaseFailed(f"haproxy: master socket refused the reload: {err}") from err
    info = wait_proc(files, timeout, lambda i: i.reloads > before.reloads)
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
