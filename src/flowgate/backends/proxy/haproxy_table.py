"""The routes table of one shared HAProxy: which service owns which paths and domains.

`routes.json` in the shared HAProxy's folder holds the settings HAProxy runs with (its
listeners, header preview, process or container) and one entry per service, with the
project that owns it. Every change happens under `apply.lock` (flock), so concurrent
releases of different services read, render and write it one at a time. A service only
ever changes its own entry; a path or domain another service holds is refused, naming
both owners, and so is a project that wants the shared HAProxy to run differently.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from flowgate.backends.proxy.haproxy_config import ServiceEntry, SlotPlan
from flowgate.backends.proxy.haproxy_control import HAProxyFiles
from flowgate.errors import ConfigError, ReleaseFailed


@dataclass(frozen=True)
class ProxySettings:
    """How the shared HAProxy runs; every project sharing it must agree."""

    bind: str
    proxy_port: int
    preview_bind: str
    preview_port: int
    preview_header: bool = False
    mode: str = "process"  # or "container"
    docker_host: str | None = None
    image: str | None = None

    # The setting each field comes from, for messages.
    KEYS: ClassVar[dict[str, str]] = {
        "bind": "proxy_bind",
        "proxy_port": "proxy_port",
        "preview_bind": "preview_bind",
        "preview_port": "preview_port",
        "preview_header": "preview_header",
        "mode": "proxy_docker_host",
        "docker_host": "proxy_docker_host",
        "image": "haproxy_image",
    }

    def differences(self, other: ProxySettings) -> list[str]:
        """`preview_port: 8001 (shared) vs 9001 (this project)` for each field that differs."""
        return [
            f"{self.KEYS[f.name]}: {getattr(self, f.name)} vs {getattr(other, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def listeners(self) -> list[tuple[str, int, str]]:
        return [
            (self.bind, self.proxy_port, "proxy_port"),
            (self.preview_bind, self.preview_port, "preview_port"),
        ]


@dataclass
class Table:
    proxy: ProxySettings | None = None
    services: dict[str, ServiceEntry] = field(default_factory=dict)

    def others(self, owner: str) -> list[ServiceEntry]:
        """Services of other projects."""
        return [entry for entry in self.services.values() if entry.owner != owner]

    def check_join(self, entry: ServiceEntry, wanted: ProxySettings) -> None:
        """Refuse a claim on another project's service, paths or domains, or a change of
        how HAProxy runs while other projects use it. Changes nothing."""
        current = self.services.get(entry.service)
        if current is not None and current.owner != entry.owner:
            raise ConfigError(
                f"service {entry.service} is already routed by the HAProxy on port "
                f"{wanted.proxy_port} for {current.describe()}; {entry.describe()} cannot "
                "take it over: give this project another name or `flowgate down` the other",
                key="project",
            )
        for other in self.services.values():
            if other.service == entry.service:
                continue
            taken = sorted(entry.claims & other.claims)
            if taken:
                domain, path = taken[0]
                what = f"{path} on {domain}" if domain else path
                key = "service_domain" if domain else "service_path"
                raise ConfigError(
                    f"route {what} is already claimed by {other.describe()}; "
                    f"{entry.describe()} cannot claim it too: choose another path or domain",
                    key=key,
                )
        others = self.others(entry.owner)
        if self.proxy is not None and others and self.proxy != wanted:
            users = ", ".join(sorted(e.describe() for e in others))
            raise ConfigError(
                f"the HAProxy on port {wanted.proxy_port} is shared with {users} and runs "
                f"with other settings ({'; '.join(self.proxy.differences(wanted))}, shared "
                "vs this project): use the same values, or another proxy_port",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "proxy": dataclasses.asdict(self.proxy) if self.proxy else None,
            "services": [self.services[name].to_dict() for name in sorted(self.services)],
        }


def load(files: HAProxyFiles) -> Table:
    try:
        data = json.loads(files.routes.read_text())
        proxy = ProxySettings(**data["proxy"]) if data.get("proxy") else None
        entries = [ServiceEntry.from_dict(item) for item in data.get("services", [])]
    except FileNotFoundError:
        return Table()
    except (OSError, ValueError, TypeError, KeyError, ConfigError) as err:
        raise ReleaseFailed(
            f"haproxy: cannot read the routes table {files.routes}: {err}; it says which "
            "project owns which route: restore it, or stop that HAProxy and remove the file"
        ) from err
    return Table(proxy, {entry.service: entry for entry in entries})


def save(files: HAProxyFiles, table: Table) -> None:
    temporary = files.routes.with_suffix(".json.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(table.to_dict(), indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, files.routes)


@contextmanager
def locked(files: HAProxyFiles) -> Iterator[Table]:
    """The table, read under the shared HAProxy's lock (held until the block ends)."""
    files.ensure()
    descriptor = os.open(files.lock, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield load(files)


def write_private(path: Path, text: str) -> None:
    """Owner-only from the start (the config and the preview map hold secrets)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def preview_token(before: ServiceEntry | None, preview: SlotPlan, header: bool) -> str | None:
    """A fresh secret for every new preview (new servers in the preview backend); kept while
    the same preview stays; none without a preview or with header preview off."""
    if not header or not any(preview.final):
        return None
    if before is not None and before.token and not preview.added:
        return before.token
    return secrets.token_urlsafe(24)
