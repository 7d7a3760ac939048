"""HAProxy as a local master-worker process (the default way flowgate runs it).

The master is daemonized (`-W -D`), so it keeps serving after flowgate exits; its pid file
and master socket live in the shared HAProxy's folder. `HAProxyContainer` offers the same
five methods for HAProxy run as a container.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_control import HAProxyFiles, ProcInfo
from flowgate.errors import ReleaseFailed


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie has exited


def master_pid(files: HAProxyFiles) -> int | None:
    """The pid of the master serving these files, only if it is alive and runs our config."""
    try:
        pid = int(files.pidfile.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return None
    if str(files.config).encode() not in cmdline or not pid_alive(pid):
        return None
    return pid


class HAProxyProcess:
    """Starts, finds and stops a local HAProxy master; validates configs with `haproxy -c`."""

    mode = "process"

    def __init__(self, files: HAProxyFiles) -> None:
        self.files = files

    def check(self) -> None:
        control.haproxy_binary()

    def running(self) -> bool:
        return master_pid(self.files) is not None

    def validate(self, path: Path) -> None:
        control.validate_config(path)

    def start(self, timeout: float = 10.0) -> ProcInfo:
        """Start a daemonized master-worker HAProxy on the current config; wait for its worker."""
        files = self.files
        files.ensure()
        command = [
            control.haproxy_binary(),
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
            raise ReleaseFailed(f"haproxy: could not start: {control.first_alert(result.stderr)}")
        info = control.wait_proc(files, timeout, lambda i: bool(i.workers))
        if info is None:
            raise ReleaseFailed(f"haproxy: started but no worker answered within {timeout:g}s")
        return info

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the master (by the pid it recorded) and its workers; True when one ran."""
        files = self.files
        pid = master_pid(files)
        if pid is None:
            return False
        try:
            info = control.show_proc(files)
            workers = (*info.workers, *info.old_workers)
        except OSError:
            workers = ()
        os.kill(pid, signal.SIGTERM)  # the master stops its workers too
        for each in (pid, *workers):
            deadline = time.monotonic() + timeout
            while pid_alive(each):
                if time.monotonic() > deadline:
                    os.kill(each, signal.SIGKILL)
                    break
                time.sleep(0.05)
        for path in (files.master_socket, files.admin_socket, files.pidfile):
            path.unlink(missing_ok=True)
        return True
