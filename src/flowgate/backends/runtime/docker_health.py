"""Reading a container's health, and waiting until a whole color is healthy.

Healthy means Docker's own healthcheck says so when the container has one; otherwise the
published main port answers. Docker's userland proxy accepts a TCP connection on the host
port even when nothing listens in the container (it closes it right after), so a bare
connect proves nothing: the probe also waits briefly and treats an immediate close as
"not listening yet".
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flowgate.errors import ReleaseFailed
from flowgate.models import Color, Instance

if TYPE_CHECKING:
    from docker.models.containers import Container

PROBE_WAIT = 0.25  # seconds a probe waits for the proxy to close an unbacked connection
POLL_INTERVAL = 0.2


def port_answers(host: str, port: int, wait: float = PROBE_WAIT) -> bool:
    """True when something in the container accepts connections on the published port."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.settimeout(wait)
            try:
                return sock.recv(1) != b""  # data (a banner) means a live server
            except TimeoutError:
                return True  # held open and silent, like any HTTP server
    except OSError:
        return False


def host_port(container: Container, port: str | None) -> int | None:
    if not port:
        return None
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(port)
    if not bindings:
        return None
    return int(bindings[0]["HostPort"])


def health_state(container: Container) -> dict[str, Any] | None:
    """Docker's health record, or None when the container has no healthcheck."""
    health: dict[str, Any] | None = container.attrs.get("State", {}).get("Health")
    return health


def last_health_log(container: Container) -> str:
    log = (health_state(container) or {}).get("Log") or []
    if not log:
        return "none yet"
    entry = log[-1]
    output = " ".join(str(entry.get("Output", "")).split())[:200]
    return f"exit {entry.get('ExitCode')}: {output}" if output else f"exit {entry.get('ExitCode')}"


def is_healthy(container: Container, port: str | None, address: str) -> bool:
    if container.status != "running":
        return False
    health = health_state(container)
    if health is not None:
        return health.get("Status") == "healthy"
    published = host_port(container, port)
    if port is None:
        return True
    return published is not None and port_answers(address, published)


def to_instance(container: Container, port: str | None, address: str) -> Instance:
    """The runtime-neutral view of a container; the address is "" when not running."""
    labels = container.labels
    published = host_port(container, port) if container.status == "running" else None
    color = labels.get("io.flowgate.color")
    return Instance(
        name=container.name or "",
        address=f"{address}:{published}" if published else "",
        state=container.status,
        healthy=is_healthy(container, port, address),
        color=Color(color) if color in ("blue", "green") else None,
        id=container.id or "",
        image=str(container.attrs.get("Image") or ""),
        release=labels.get("io.flowgate.release", ""),
    )


def _last_log_line(container: Container) -> str:
    try:
        raw = container.logs(tail=3)
    except Exception:  # the logs only decorate the message; their absence is no error
        return ""
    lines = [line.strip() for line in raw.decode(errors="replace").splitlines() if line.strip()]
    return f" (last log: {lines[-1][:200]})" if lines else ""


def failure(container: Container, port: str | None, address: str) -> str | None:
    """Why the container can no longer become healthy, or None while it still may."""
    status = container.status
    if status in ("exited", "dead"):
        code = container.attrs.get("State", {}).get("ExitCode")
        return f"{container.name} exited with code {code}{_last_log_line(container)}"
    if status not in ("created", "running", "restarting"):
        return f"{container.name} is {status}"
    health = health_state(container)
    if health is not None and health.get("Status") == "unhealthy":
        return f"{container.name} is unhealthy (last health log: {last_health_log(container)})"
    return None


def timeout_reason(container: Container, port: str | None, address: str, timeout: float) -> str:
    # A release's --timeout leaves odd remainders (2.96109s): a tenth of a second will do.
    within = f"did not become healthy within {round(timeout, 1):g}s"
    if health_state(container) is not None:
        return f"{container.name} {within} (last health log: {last_health_log(container)})"
    published = host_port(container, port)
    where = f"{address}:{published}" if published else f"port {port}"
    return f"{container.name} {within} (nothing answered on {where})"


def _verdict(container: Container, port: str | None, address: str) -> tuple[bool, str | None]:
    container.reload()
    if is_healthy(container, port, address):
        return True, None
    return False, failure(container, port, address)


def wait_healthy(
    containers: Sequence[Container], port: str | None, address: str, timeout: float
) -> None:
    """Return once every container is healthy; raise ReleaseFailed naming the first that
    exited, turned unhealthy or ran out of time. Containers are probed concurrently, so a
    color of many instances is not slower to check than one."""
    deadline = time.monotonic() + timeout
    pending = list(containers)
    with ThreadPoolExecutor(max_workers=max(1, min(len(pending), 8))) as pool:
        while pending:
            verdicts = list(pool.map(lambda c: _verdict(c, port, address), pending))
            reasons = [reason for _, reason in verdicts if reason]
            if reasons:
                raise ReleaseFailed(reasons[0])
            pending = [c for c, (healthy, _) in zip(pending, verdicts, strict=True) if not healthy]
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise ReleaseFailed(timeout_reason(pending[0], port, address, timeout))
            time.sleep(POLL_INTERVAL)
