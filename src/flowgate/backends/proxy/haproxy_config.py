"""Pure HAProxy configuration rendering: routes in, config text out. No I/O here.

Everything that reaches the config text is whitelisted first: service names, paths and
domains when the `Route` is built (`flowgate.route_values`, checked again when routes.json
is read back), addresses here, because a newline or a `#` would otherwise inject
configuration. One HAProxy serves the services of every project that shares it; each
service owns its paths/domains and its two backends. Each backend has a fixed number of
server slots so that switching colors and scaling only moves servers around through the
Runtime API; only a change of capacity or of routing rules needs a reload.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flowgate.errors import ReleaseFailed
from flowgate.route_values import check_domain, check_path, check_service_name

HOST_RE = re.compile(r"^[A-Za-z0-9.-]+$")
PREVIEW_HEADER = "X-Flowgate-Preview"
FREE_SLOT = "0.0.0.0:0"


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
    """One target as the proxy serves it; stored in routes.json and rendered.

    `owner` is the folder of the project that claimed it (`project` its name): only that
    project changes or removes it. `token` is the preview secret of the current preview
    (None when there is no preview or header preview is off).
    """

    service: str
    paths: tuple[str, ...]
    domains: tuple[str, ...] = ()
    live_color: str | None = None
    preview_color: str | None = None
    live: Slots = ()
    preview: Slots = ()
    project: str = ""
    owner: str = ""
    token: str | None = None

    @property
    def claims(self) -> set[tuple[str, str]]:
        """(domain, path) pairs this service answers; "" is any host."""
        return {(domain, path) for path in self.paths for domain in (self.domains or ("",))}

    def describe(self) -> str:
        return f"{self.service} (project {self.project or '?'} in {self.owner or '?'})"

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
            "project": self.project,
            "owner": self.owner,
            "token": self.token,
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
            project=str(data.get("project") or ""),
            owner=str(data.get("owner") or ""),
            token=_check_token(data.get("token")),
        )


TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def _check_token(token: object) -> str | None:
    if token is None:
        return None
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        raise ReleaseFailed("haproxy: routes.json holds a malformed preview token")
    return token


@dataclass(frozen=True)
class RenderOptions:
    bind: str
    proxy_port: int
    preview_port: int
    admin_socket: str
    preview_bind: str = "127.0.0.1"
    preview_map: str | None = None  # header preview on: the token -> backend map file
    hard_stop_after: int = 30
    extra_global: tuple[str, ...] = field(default=())


def backend_name(service: str, role: str) -> str:
    """`.` is not allowed in service names, so `<service>.live` can never collide."""
    return f"{service}.{role}"


def _bind(address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
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
    """Longest path first so `/api/v2` wins over `/api` and `/` comes last; for one path, a
    service bound to domains before one that takes any host."""
    pairs = [(path, entry) for entry in services for path in entry.paths]
    return sorted(
        pairs, key=lambda pair: (-len(pair[0]), not pair[1].domains, pair[0], pair[1].service)
    )


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


def _preview_rule(options: RenderOptions) -> list[str]:
    """Header preview: the header's value must be a current preview token; the map file
    turns it into that service's preview backend (tokens change at run time)."""
    if options.preview_map is None:
        return []
    lookup = f"req.hdr({PREVIEW_HEADER.lower()}),map_str({options.preview_map})"
    return [f"    use_backend %[{lookup}] if {{ {lookup} -m found }}"]


def _route_rules(
    routes: list[tuple[str, ServiceEntry]], role: str, any_host: bool = False
) -> list[str]:
    """`any_host` (the preview port): after the rules with their Host check, every path
    again without it, so a gate reaching the preview port by address still gets there."""
    lines = []
    for path, entry in routes:
        host = f" {entry.service}.host" if entry.domains else ""
        lines.append(
            f"    use_backend {backend_name(entry.service, role)} if {{ path_beg {path} }}{host}"
        )
    if any_host:
        for path, entry in routes:
            if entry.domains:
                lines.append(
                    f"    use_backend {backend_name(entry.service, role)} if {{ path_beg {path} }}"
                )
    return lines


def preview_map_text(services: Mapping[str, ServiceEntry]) -> str:
    """The map file's lines: `<token> <service>.preview`."""
    lines = [
        f"{services[name].token} {backend_name(name, 'preview')}\n"
        for name in sorted(services)
        if services[name].token
    ]
    return "".join(lines)


def render(services: Mapping[str, ServiceEntry], options: RenderOptions) -> str:
    """The whole configuration of one shared HAProxy; deterministic for golden-file tests."""
    entries = [services[name] for name in sorted(services)]
    routes = _ordered_paths(entries)
    acls = [line for entry in entries for line in _host_acls(entry)]
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
        _bind(options.bind, options.proxy_port),
        *acls,
        *_preview_rule(options),
        *_route_rules(routes, "live"),
        "    default_backend flowgate.no-route",
        "",
        "frontend preview",
        _bind(options.preview_bind, options.preview_port),
        *acls,
        *_route_rules(routes, "preview", any_host=True),
        "    default_backend flowgate.no-route",
        "",
    ]
    for entry in entries:
        for role, slots in (("live", entry.live), ("preview", entry.preview)):
            out.append(f"backend {backend_name(entry.service, role)}")
            out.extend(_server_lines(slots))
            out.append("")
    out += ["backend flowgate.no-route", "    http-request deny deny_status 404", ""]
    return "\n".join(out)
