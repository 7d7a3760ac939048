"""Pure HAProxy configuration rendering: routes in, config text out. No I/O here.

Everything that reaches the config text is whitelisted first (service names, paths,
domains, addresses), because a newline or a `#` in a service path would otherwise inject
configuration. Each backend has a fixed number of server slots so that switching colors
and scaling only moves servers around through the Runtime API; only a change of capacity
or of routing rules needs a reload.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowgate.errors import ConfigError, ReleaseFailed

SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# RFC 3986 path characters minus those HAProxy's parser treats specially (quotes, `$`, `#`).
PATH_RE = re.compile(r"^/[A-Za-z0-9._~!&()*+,;=:@%/-]*$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
DOMAIN_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
HOST_RE = re.compile(r"^[A-Za-z0-9.-]+$")
PREVIEW_HEADER = "X-Flowgate-Preview"
FREE_SLOT = "0.0.0.0:0"


def check_service_name(service: str) -> str:
    if not SERVICE_RE.fullmatch(service) or len(service) > 64:
        raise ConfigError(
            f"service name {service!r} must match {SERVICE_RE.pattern} (lowercase project "
            "and target names)",
            key="project",
        )
    return service


def check_path(path: str) -> str:
    if not PATH_RE.fullmatch(path) or len(path) > 512:
        raise ConfigError(
            f"{path!r} must start with / and hold only URL path characters "
            "(no spaces, quotes, #, $, backslashes, braces or non-ASCII)",
            key="service_path",
        )
    return path


def check_domain(domain: str) -> str:
    if not DOMAIN_RE.fullmatch(domain) or len(domain) > 253:
        raise ConfigError(
            f"{domain!r} is not a domain name (letters, digits, dots, hyphens, "
            "optionally a leading *.)",
            key="service_domain",
        )
    return domain.lower()


def parse_address(address: str) -> tuple[str, int]:
    """Split "host:port" into an IP and a port; names are resolved (the Runtime API takes IPs)."""
    host, sep, port_text = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ReleaseFailed(f"haproxy: instance address {address!r} is not host:port")
    try:
        return str(ipaddress.ip_address(host)), int(port_text)
    except ValueError:
        pass
    if not HOST_RE.fullmatch(host):
        raise ReleaseFailed(f"haproxy: instance address {address!r} has an invalid host")
    try:
        return socket.gethostbyname(host), int(port_text)
    except OSError as err:
        raise ReleaseFailed(f"haproxy: cannot resolve instance host {host!r}: {err}") from err


def server_address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def normalize_address(address: str) -> str:
    return server_address(*parse_address(address))


def next_power_of_two(n: int) -> int:
    size = 1
    while size < n:
        size *= 2
    return size


Slots = tuple[str | None, ...]


@dataclass(frozen=True)
class SlotPlan:
    """How one backend's slots change: `added`/`removed` are 0-based slot indexes."""

    final: Slots
    added: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    grown: bool = False


def plan_slots(current: Slots, desired: Iterable[str], minimum: int) -> SlotPlan:
    """Place `desired` addresses into slots, keeping those already placed where they are.

    New addresses go into slots that are free *now*, so old and new servers coexist during
    a switch. When they do not fit, capacity doubles until both fit (a reload).
    """
    wanted = list(dict.fromkeys(desired))
    slots: list[str | None] = list(current)
    new = [a for a in wanted if a not in slots]
    free = [i for i, a in enumerate(slots) if a is None]
    grown = False
    if len(new) > len(free) or len(slots) < minimum:
        occupied = len(slots) - len(free)
        capacity = next_power_of_two(max(minimum, occupied + len(new), 2 * len(wanted)))
        slots.extend([None] * (capacity - len(slots)))
        free = [i for i, a in enumerate(slots) if a is None]
        grown = True
    added = tuple(free[: len(new)])
    for index, address in zip(added, new, strict=True):
        slots[index] = address
    removed = tuple(i for i, a in enumerate(current) if a is not None and a not in wanted)
    for index in removed:
        slots[index] = None
    return SlotPlan(tuple(slots), added, removed, grown)


@dataclass(frozen=True)
class ServiceEntry:
    """One target as the proxy serves it; stored in routes.json and rendered."""

    service: str
    paths: tuple[str, ...]
    domains: tuple[str, ...] = ()
    live_color: str | None = None
    preview_color: str | None = None
    live: Slots = ()
    preview: Slots = ()

    def same_structure(self, other: ServiceEntry) -> bool:
        return (self.paths, self.domains, len(self.live), len(self.preview)) == (
            other.paths,
            other.domains,
            len(other.live),
            len(other.preview),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "paths": list(self.paths),
            "domains": list(self.domains),
            "live_color": self.live_color,
            "preview_color": self.preview_color,
            "live": list(self.live),
            "preview": list(self.preview),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceEntry:
        return cls(
            service=check_service_name(data["service"]),
            paths=tuple(check_path(p) for p in data["paths"]),
            domains=tuple(check_domain(d) for d in data.get("domains", ())),
            live_color=data.get("live_color"),
            preview_color=data.get("preview_color"),
            live=tuple(normalize_address(a) if a else None for a in data.get("live", ())),
            preview=tuple(normalize_address(a) if a else None for a in data.get("preview", ())),
        )


@dataclass(frozen=True)
class RenderOptions:
    bind: str
    proxy_port: int
    preview_port: int
    admin_socket: str
    hard_stop_after: int = 30
    extra_global: tuple[str, ...] = field(default=())


def backend_name(service: str, role: str) -> str:
    """`.` is not allowed in service names, so `<service>.live` can never collide."""
    return f"{service}.{role}"


def _bind(options: RenderOptions, port: int) -> str:
    host = f"[{options.bind}]" if ":" in options.bind else options.bind
    return f"    bind {host}:{port}"


def _host_acls(entry: ServiceEntry) -> list[str]:
    exact = [d for d in entry.domains if not d.startswith("*.")]
    suffix = [d[1:] for d in entry.domains if d.startswith("*.")]
    lines = []
    fetch = "req.hdr(host),field(1,:),lower"
    if exact:
        lines.append(f"    acl {entry.service}.host {fetch} -m str {' '.join(exact)}")
    if suffix:
        lines.append(f"    acl {entry.service}.host {fetch} -m end {' '.join(suffix)}")
    return lines


def _ordered_paths(services: Sequence[ServiceEntry]) -> list[tuple[str, ServiceEntry]]:
    """Longest path first so `/api/v2` wins over `/api` and `/` comes last."""
    pairs = [(path, entry) for entry in services for path in entry.paths]
    return sorted(pairs, key=lambda pair: (-len(pair[0]), pair[0], pair[1].service))


def _server_lines(slots: Slots) -> list[str]:
    # Only GET, HEAD and OPTIONS are resent after they reached a server (connection
    # failures are retried for every method: nothing was sent).
    lines = ["    http-request disable-l7-retry unless METH_GET || METH_OPTIONS"]
    for index, address in enumerate(slots, start=1):
        if address is None:
            lines.append(f"    server s{index} {FREE_SLOT} check disabled")
        else:
            lines.append(f"    server s{index} {address} check")
    return lines


def render(services: Mapping[str, ServiceEntry], options: RenderOptions) -> str:
    """The whole configuration of one project; deterministic for golden-file tests."""
    entries = [services[name] for name in sorted(services)]
    routes = _ordered_paths(entries)
    out = [
        "# Rendered by flowgate; edits are overwritten on the next apply.",
        "global",
        f"    stats socket {options.admin_socket} mode 600 level admin expose-fd listeners",
        f"    hard-stop-after {options.hard_stop_after}s",
        *options.extra_global,
        "",
        "defaults",
        "    mode http",
        "    balance roundrobin",
        "    option idle-close-on-response",
        # A server on a lost node (swarm) neither answers nor refuses: a fresh server
        # connection per request (http-server-close) fails its connect fast, and that
        # request is retried on another server (redispatch on every retry); a request
        # already sent is retried (retry-on) only if idempotent (see _server_lines).
        "    option http-server-close",
        "    option redispatch 1",
        "    retries 3",
        "    retry-on conn-failure empty-response response-timeout",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 10s",
        "    default-server inter 500ms fastinter 200ms downinter 200ms rise 1 fall 2",
        "",
        "frontend public",
        _bind(options, options.proxy_port),
    ]
    for entry in entries:
        out.extend(_host_acls(entry))
    header = PREVIEW_HEADER.lower()
    for path, entry in routes:
        preview = backend_name(entry.service, "preview")
        out.append(
            f"    use_backend {preview} if {{ req.hdr({header}) -m str {entry.service} }} "
            f"{{ path_beg {path} }}"
        )
    for path, entry in routes:
        host = f" {entry.service}.host" if entry.domains else ""
        out.append(
            f"    use_backend {backend_name(entry.service, 'live')} if {{ path_beg {path} }}{host}"
        )
    out += ["    default_backend flowgate.no-route", ""]
    out += ["frontend preview", _bind(options, options.preview_port)]
    for path, entry in routes:
        preview = backend_name(entry.service, "preview")
        out.append(f"    use_backend {preview} if {{ path_beg {path} }}")
    out += ["    default_backend flowgate.no-route", ""]
    for entry in entries:
        for role, slots in (("live", entry.live), ("preview", entry.preview)):
            out.append(f"backend {backend_name(entry.service, role)}")
            out.extend(_server_lines(slots))
            out.append("")
    out += ["backend flowgate.no-route", "    http-request deny deny_status 404", ""]
    return "\n".join(out)
