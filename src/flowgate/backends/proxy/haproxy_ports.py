"""Listeners are checked before HAProxy starts or reloads onto a port.

HAProxy binds with SO_REUSEPORT, so on Linux a second HAProxy (or anything else using
SO_REUSEPORT) can listen on a port that another process already serves, and the kernel
then splits connections between them: each serves the other's requests wrongly. flowgate
never lets that happen: before a start or a reload, every listener HAProxy would open that
the running HAProxy does not hold yet is probed with a plain bind (no SO_REUSEPORT), which
fails while anyone listens there.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from flowgate.errors import ConfigError

Listener = tuple[str, int, str]  # (address, port, the setting that chose the port)


def port_busy(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no holder
        try:
            probe.bind((address, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise ConfigError(f"cannot bind {address}:{port}: {err.strerror}") from err
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes


def holder(port: int) -> str | None:
    """`pid 123 (nginx)` for the process listening on `port`, when /proc lets us see it."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                name = Path(f"/proc/{pid}/comm").read_text().strip()
                return f"pid {pid} ({name})"
        except OSError:
            continue
    return None


def check_free(listeners: Iterable[Listener]) -> None:
    """Raise ConfigError naming the port, its holder and what to do, for the first busy one."""
    for address, port, key in listeners:
        if port_busy(address, port):
            who = holder(port) or "another process"
            raise ConfigError(
                f"{address}:{port} is already in use by {who}; flowgate never starts a second "
                f"listener on a port: stop that process or choose another {key}",
                key=key,
            )
