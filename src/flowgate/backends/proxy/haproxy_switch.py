"""Runtime API switches: servers into and out of one service's backends without a reload.

Only the service's own backends (`<service>.live`, `<service>.preview`) and its own
preview token are touched, so other services on the shared HAProxy never notice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_config import (
    ServiceEntry,
    SlotPlan,
    backend_name,
    parse_address,
)
from flowgate.backends.proxy.haproxy_control import HAProxyFiles
from flowgate.errors import FlowgateError, ReleaseFailed

UP = 2  # HAProxy's operational state of a server that passes its check


def probe_added(service: str, plans: Mapping[str, SlotPlan]) -> None:
    """Every new server answers a TCP connect, before anything changes (so a refusal
    needs no undoing)."""
    for role, plan in plans.items():
        backend = backend_name(service, role)
        for index in plan.added:
            address = plan.final[index]
            assert address is not None
            probe(backend, f"s{index + 1}", *parse_address(address))


def now(files: HAProxyFiles, service: str, plans: Mapping[str, SlotPlan]) -> None:
    """flowgate has seen the new instances healthy (and `probe_added` reached them): one
    batch puts them in service at once (`health up`; HAProxy's checks stay on and take a
    failing one out later), then takes the old ones out, so no request finds no server
    and the switch is one round trip on the Runtime API."""
    commands = []
    for role, plan in plans.items():
        backend = backend_name(service, role)
        for index in plan.added:
            address = plan.final[index]
            assert address is not None
            ip, port = parse_address(address)
            server = f"{backend}/s{index + 1}"
            commands += [
                f"set server {server} addr {ip} port {port}",
                f"set server {server} health up",
                f"set server {server} state ready",
            ]
    for role, plan in plans.items():
        backend = backend_name(service, role)
        commands += [f"set server {backend}/s{i + 1} state maint" for i in plan.removed]
    control.runtime_batch(files, commands)


def checked(
    files: HAProxyFiles, service: str, plans: Mapping[str, SlotPlan], timeout: float
) -> None:
    """New servers first (checked UP by HAProxy while drained, then ready), old ones out
    last: for a HAProxy that reaches the instances from elsewhere (a container)."""
    for role, plan in plans.items():
        backend = backend_name(service, role)
        added = [f"s{i + 1}" for i in plan.added]
        for index, name in zip(plan.added, added, strict=True):
            address = plan.final[index]
            assert address is not None
            ip, port = parse_address(address)
            server = f"{backend}/{name}"
            control.runtime(files, f"set server {server} state maint")
            control.runtime(files, f"set server {server} addr {ip} port {port}")
            control.runtime(files, f"set server {server} state drain")
            control.runtime(files, f"set server {server} health down")
        wait_up(files, backend, added, timeout)
        for name in added:
            control.runtime(files, f"set server {backend}/{name} state ready")
        for index in plan.removed:
            control.runtime(files, f"set server {backend}/s{index + 1} state maint")


def token(files: HAProxyFiles, before: ServiceEntry, entry: ServiceEntry) -> None:
    """A new preview secret is accepted before the old one is withdrawn."""
    if before.token == entry.token:
        return
    path = files.preview_map
    if entry.token:
        preview = backend_name(entry.service, "preview")
        control.runtime(files, f"add map {path} {entry.token} {preview}")
    if before.token:
        control.runtime(files, f"del map {path} {before.token}")


def wait_up(files: HAProxyFiles, backend: str, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while names:
        states = control.server_states(files, backend)
        down = [n for n in names if states.get(n, (0, 0, ""))[0] != UP]
        if not down:
            return
        if time.monotonic() > deadline:
            raise ReleaseFailed(
                f"haproxy: {backend} servers {', '.join(down)} not UP by health check "
                f"within {timeout:g}s; the previous routing still serves"
            )
        time.sleep(0.05)


def probe(backend: str, name: str, ip: str, port: int, timeout: float = 2.0) -> None:
    """HAProxy's own check, done once from this host just before the switch: a TCP
    connect (the rendered servers have plain `check`, i.e. layer 4). An instance that
    does not accept it never gets traffic; nothing has changed yet."""
    import socket

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:  # a plain socket: the IP is numeric, no resolver call
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect((ip, port))
    except OSError as err:
        raise ReleaseFailed(
            f"haproxy: {backend} server {name} ({ip}:{port}) not UP: connect failed "
            f"({err.strerror or err}); the previous routing still serves"
        ) from err


def drained(files: HAProxyFiles, service: str, addresses: set[str], timeout: float) -> None:
    """Return once no server of the service holding these addresses has a connection and
    no old worker (from a reload) is still finishing requests, or after `timeout`."""
    backends = {backend_name(service, "live"), backend_name(service, "preview")}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            busy = bool(control.show_proc(files).old_workers)
            busy = busy or _connections(files, backends, addresses) > 0
        except (OSError, FlowgateError):
            return
        if not busy:
            return
        time.sleep(0.1)


def _connections(files: HAProxyFiles, backends: set[str], addresses: set[str]) -> int:
    rows = control.runtime(files, "show stat -1 4 -1").splitlines()
    if not rows:
        return 0
    header = rows[0].lstrip("# ").split(",")
    total = 0
    for row in rows[1:]:
        values = dict(zip(header, row.split(","), strict=False))
        if values.get("pxname") in backends and values.get("addr") in addresses:
            total += int(values.get("scur") or 0)
    return total
