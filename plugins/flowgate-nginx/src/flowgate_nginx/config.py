"""Rendering nginx's configuration for the services of one project.

Pure functions: what each service routes (`ServiceRoutes`), validated before anything is
written, in, one `nginx.conf` text out. Every value that reaches the file passes a strict
pattern first, so a service path or domain can never inject nginx directives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowgate import ConfigError

_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_PATH = re.compile(r"/[A-Za-z0-9._~%+/-]*")
_DOMAIN = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")
_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def check_service(name: str) -> str:
    if not _SERVICE.fullmatch(name):
        raise ConfigError(f"nginx: {name!r} is not a valid service name", key="project")
    return name


def check_path(path: str) -> str:
    if not _PATH.fullmatch(path):
        raise ConfigError(
            f"nginx: {path!r} is not a path nginx can route safely "
            "(a leading /, then letters, digits and ._~%+/- only)",
            key="service_path",
        )
    return path


def check_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ConfigError(f"nginx: {domain!r} is not a domain name", key="service_domain")
    return domain.lower()


def check_address(address: str) -> str:
    """An instance's `host:port`; 0.0.0.0 (published on every address) becomes loopback."""
    found = _ADDRESS.fullmatch(address)
    if not found or not 0 < int(found.group(2)) < 65536:
        raise ConfigError(f"nginx: {address!r} is not a host:port address")
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(found.group(1), found.group(1))
    return f"{host}:{found.group(2)}"


@dataclass(frozen=True)
class ServiceRoutes:
    """What nginx serves for one service: its paths (and domains) to the live instances
    on the public port, and the same paths to the preview instances on the preview port."""

    service: str
    paths: tuple[str, ...]
    domains: tuple[str, ...] = ()
    live: tuple[str, ...] = ()
    preview: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "paths": list(self.paths),
            "domains": list(self.domains),
            "live": list(self.live),
            "preview": list(self.preview),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceRoutes:
        return cls(
            check_service(str(data["service"])),
            tuple(check_path(str(p)) for p in data.get("paths", [])),
            tuple(check_domain(str(d)) for d in data.get("domains", [])),
            tuple(check_address(str(a)) for a in data.get("live", [])),
            tuple(check_address(str(a)) for a in data.get("preview", [])),
        )


def conflicts(services: Mapping[str, ServiceRoutes], entry: ServiceRoutes) -> list[str]:
    """Routes of `entry` that another service already claims (same path on the same
    domain, or with no domain on both)."""
    mine = {(d, p) for d in (entry.domains or ("",)) for p in entry.paths}
    found = []
    for other in services.values():
        if other.service == entry.service:
            continue
        theirs = {(d, p) for d in (other.domains or ("",)) for p in other.paths}
        for domain, path in sorted(mine & theirs):
            where = f"{domain}{path}" if domain else path
            found.append(f"{where} (already routed to {other.service})")
    return found


@dataclass(frozen=True)
class Options:
    root: Path  # the state dir: pid, logs, temp files
    bind: str
    proxy_port: int
    preview_port: int
    user: str | None = None  # `user` directive, only when the master runs as root


def upstream_name(service: str, role: str) -> str:
    return f"{service}__{role}"


def render(services: Mapping[str, ServiceRoutes], options: Options) -> str:
    """The whole nginx.conf of one project; deterministic, so unchanged routes mean an
    unchanged file and no reload."""
    entries = [services[name] for name in sorted(services)]
    root = options.root
    out = [
        "# Rendered by flowgate-nginx; edits are overwritten on the next apply.",
        *([f"user {options.user};"] if options.user else []),
        "worker_processes 1;",
        f"pid {root / 'nginx.pid'};",
        f"error_log {root / 'error.log'} notice;",
        # A reload's old worker finishes its requests; this bounds how long it may take.
        "worker_shutdown_timeout 30s;",
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        *(f"    {kind}_temp_path {root / 'tmp' / kind};" for kind in _TEMP_KINDS),
        # No keep-alive towards clients: on a reload nginx's old worker closes its idle
        # keep-alive connections at once, and a request a client sent on one just then
        # is lost. Answers carry `Connection: close` instead, so a reload loses nothing.
        "    keepalive_timeout 0;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_connect_timeout 2s;",
        "    proxy_next_upstream error timeout;",
        "",
    ]
    for entry in entries:
        for role, addresses in (("live", entry.live), ("preview", entry.preview)):
            if addresses:
                out.append(f"    upstream {upstream_name(entry.service, role)} {{")
                out.extend(f"        server {address} max_fails=0;" for address in addresses)
                out += ["    }", ""]
    plain = [e for e in entries if not e.domains]
    out += _server(options.bind, options.proxy_port, None, plain, "live", default=True)
    for entry in entries:
        if entry.domains:
            out += _server(options.bind, options.proxy_port, entry.domains, [entry], "live")
    out += _server(options.bind, options.preview_port, None, entries, "preview", default=True)
    out.append("}")
    return "\n".join(out) + "\n"


_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def _server(
    bind: str,
    port: int,
    domains: Iterable[str] | None,
    entries: list[ServiceRoutes],
    role: str,
    default: bool = False,
) -> list[str]:
    host = f"[{bind}]" if ":" in bind else bind
    out = ["    server {", f"        listen {host}:{port}{' default_server' if default else ''};"]
    out.append(f"        server_name {' '.join(domains) if domains else '_'};")
    seen: set[str] = set()
    for entry in entries:
        addresses = entry.live if role == "live" else entry.preview
        for path in entry.paths:
            if path in seen:  # the preview port routes by path only: the first one wins
                continue
            seen.add(path)
            out.append(f"        location {path} {{")
            if addresses:
                out.append(f"            proxy_pass http://{upstream_name(entry.service, role)};")
            else:
                out.append("            return 503;")
            out.append("        }")
    out += ["        location / { return 404; }" if "/" not in seen else "", "    }", ""]
    return [line for line in out if line != ""] + [""]
