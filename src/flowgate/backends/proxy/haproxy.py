"""The `haproxy` proxy backend: flowgate renders HAProxy's config and drives HAProxy itself.

One HAProxy per project serves every target of the project (routes.json keeps them all).
A color switch or a scale change that fits the backend's server slots goes through the
Runtime API in one batch of commands (the new servers, which flowgate has seen healthy,
in service at once, then the old ones out; HAProxy's checks stay on), so no reload and no
lost request; anything structural is validated with `haproxy -c`, then reloaded and confirmed.
HAProxy runs as a local process, or as a container when `proxy_docker_host` is set.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route
from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_config import (
    PREVIEW_HEADER,
    RenderOptions,
    ServiceEntry,
    SlotPlan,
    backend_name,
    check_domain,
    check_path,
    check_service_name,
    normalize_address,
    parse_address,
    plan_slots,
    render,
)
from flowgate.backends.proxy.haproxy_container import (
    DEFAULT_IMAGE,
    HAProxyContainer,
    stop_haproxy,
)
from flowgate.backends.proxy.haproxy_control import HAProxyFiles
from flowgate.config.keys import Key, parse_int, parse_str
from flowgate.errors import ConfigError, FlowgateError, ReleaseFailed
from flowgate.models import Instance

if TYPE_CHECKING:
    from flowgate.config.settings import Settings

__all__ = ["HAProxyProxy", "stop_haproxy"]


def _parse_slots(value: object) -> int:
    slots = parse_int(value)
    if not 1 <= slots <= 1024:
        raise ValueError(f"expected 1 to 1024 server slots, got {value!r}")
    return slots


class HAProxyProxy(Proxy):
    name = "haproxy"
    config_keys = (
        Key("proxy_bind", parse_str, "127.0.0.1", None, "address HAProxy's listeners bind"),
        Key("haproxy_slots", _parse_slots, 4, None, "initial server slots per backend"),
        Key("haproxy_image", parse_str, DEFAULT_IMAGE, None, "image run on proxy_docker_host"),
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.container = HAProxyContainer.from_settings(settings, self.files)

    @property
    def files(self) -> HAProxyFiles:
        return HAProxyFiles.for_project(self.settings.project_dir)

    def check(self) -> None:
        if self.container:
            self.container.check()
        else:
            control.haproxy_binary()
        self._options()

    # -- applying -----------------------------------------------------------------------

    def apply(self, route: Route) -> None:
        # Everything user-supplied is validated before anything is written.
        service = check_service_name(route.service)
        paths = tuple(check_path(p) for p in (route.paths or ("/",)))
        domains = tuple(check_domain(d) for d in route.domains)
        options = self._options()
        live = [normalize_address(i.address) for i in route.live if i.address]
        preview = [normalize_address(i.address) for i in route.preview if i.address]
        minimum = int(self.settings.get("haproxy_slots", 4))
        with self._locked() as services:
            before = services.get(service)
            live_plan = plan_slots(before.live if before else (), live, minimum)
            preview_plan = plan_slots(before.preview if before else (), preview, minimum)
            entry = ServiceEntry(
                service,
                paths,
                domains,
                str(route.live_color) if route.live_color else None,
                str(route.preview_color) if route.preview_color else None,
                live_plan.final,
                preview_plan.final,
            )
            after = {**services, service: entry}
            running = self._running()
            structural = (
                not running
                or before is None
                or not entry.same_structure(before)
                or not self._config_agrees(services, options)
            )
            if structural:
                self._apply_structural(render(after, options), running)
            else:
                plans = {"live": live_plan, "preview": preview_plan}
                self._apply_runtime(service, plans, render(after, options))
            self._save(after)

    def remove(self, service: str) -> None:
        options = self._options()
        with self._locked() as services:
            if service not in services:
                return
            after = {name: e for name, e in services.items() if name != service}
            running = self._running()
            self._apply_structural(render(after, options), running)
            self._save(after)

    def _apply_structural(self, text: str, running: bool) -> None:
        """Validate a candidate file, swap it in, reload (or start); on failure put the
        previous file back, so the file always describes what serves."""
        config = self.files.config
        candidate = self._candidate(text)
        previous = config.read_bytes() if config.exists() else None
        os.replace(candidate, config)
        try:
            if running:
                control.reload(self.files)
            elif self.container:
                self.container.start()
            else:
                control.start(self.files)
        except FlowgateError:
            if previous is None:
                config.unlink(missing_ok=True)
            else:
                self._candidate(previous.decode(), validate=False).replace(config)
            raise

    def _apply_runtime(self, service: str, plans: Mapping[str, SlotPlan], text: str) -> None:
        # In a container, HAProxy reaches the instances from another host than flowgate
        # checked them from: it waits for its own check (and the file is checked first).
        # A local one switches at once; the file, only read by the next reload, is
        # checked after the switch, and an invalid one puts the old routing back.
        candidate = self._candidate(text) if self.container else None
        try:
            if candidate is not None:
                self._switch_checked(service, plans)
            else:
                self._switch_now(service, plans)
                candidate = self._candidate(text)
        except FlowgateError:
            (self.files.root / "haproxy.cfg.new").unlink(missing_ok=True)
            # The unchanged file still describes the old routing: reload puts it back.
            control.reload(self.files)
            raise
        os.replace(candidate, self.files.config)

    def _switch_now(self, service: str, plans: Mapping[str, SlotPlan]) -> None:
        """flowgate has seen the new instances healthy: one batch puts them in service at
        once (`health up`; HAProxy's checks stay on and take a failing one out later),
        then takes the old ones out, so no request finds no server and the switch is one
        round trip on the Runtime API."""
        commands = []
        for role, plan in plans.items():
            backend = backend_name(service, role)
            for index in plan.added:
                address = plan.final[index]
                assert address is not None
                ip, port = parse_address(address)
                server = f"{backend}/s{index + 1}"
                _probe(backend, f"s{index + 1}", ip, port)
                commands += [
                    f"set server {server} addr {ip} port {port}",
                    f"set server {server} health up",
                    f"set server {server} state ready",
                ]
        for role, plan in plans.items():
            backend = backend_name(service, role)
            commands += [f"set server {backend}/s{i + 1} state maint" for i in plan.removed]
        control.runtime_batch(self.files, commands)

    def _switch_checked(self, service: str, plans: Mapping[str, SlotPlan]) -> None:
        for role, plan in plans.items():
            self._switch(backend_name(service, role), plan)

    def _switch(self, backend: str, plan: SlotPlan) -> None:
        """New servers first (checked UP while drained, then ready), old ones out last."""
        added = [f"s{i + 1}" for i in plan.added]
        for index, name in zip(plan.added, added, strict=True):
            address = plan.final[index]
            assert address is not None
            ip, port = parse_address(address)
            server = f"{backend}/{name}"
            control.runtime(self.files, f"set server {server} state maint")
            control.runtime(self.files, f"set server {server} addr {ip} port {port}")
            control.runtime(self.files, f"set server {server} state drain")
            control.runtime(self.files, f"set server {server} health down")
        self._wait_up(backend, added)
        for name in added:
            control.runtime(self.files, f"set server {backend}/{name} state ready")
        for index in plan.removed:
            control.runtime(self.files, f"set server {backend}/s{index + 1} state maint")

    def _wait_up(self, backend: str, names: list[str]) -> None:
        timeout = float(self.settings.health_timeout)
        deadline = time.monotonic() + timeout
        while names:
            states = control.server_states(self.files, backend)
            down = [n for n in names if states.get(n, (0, 0, ""))[0] != 2]
            if not down:
                return
            if time.monotonic() > deadline:
                raise ReleaseFailed(
                    f"haproxy: {backend} servers {', '.join(down)} not UP by health check "
                    f"within {timeout:g}s; the previous routing still serves"
                )
            time.sleep(0.05)

    # -- draining and URLs --------------------------------------------------------------

    def wait_drained(self, service: str, instances: list[Instance], timeout: float) -> None:
        """Wait until no server holding these addresses has a connection and no old
        worker (from a reload) is still finishing requests."""
        if not self._running():
            return
        addresses = {normalize_address(i.address) for i in instances if i.address}
        backends = {backend_name(service, "live"), backend_name(service, "preview")}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                busy = bool(control.show_proc(self.files).old_workers)
                busy = busy or self._connections(backends, addresses) > 0
            except (OSError, FlowgateError):
                return
            if not busy:
                return
            time.sleep(0.1)

    def _connections(self, backends: set[str], addresses: set[str]) -> int:
        rows = control.runtime(self.files, "show stat -1 4 -1").splitlines()
        if not rows:
            return 0
        header = rows[0].lstrip("# ").split(",")
        total = 0
        for row in rows[1:]:
            values = dict(zip(header, row.split(","), strict=False))
            if values.get("pxname") in backends and values.get("addr") in addresses:
                total += int(values.get("scur") or 0)
        return total

    def public_url(self, route: Route) -> str | None:
        return self._url(int(self.settings.proxy_port), route)

    def preview_url(self, route: Route) -> str | None:
        return self._url(int(self.settings.preview_port), route)

    def preview_headers(self, route: Route) -> dict[str, str]:
        return {PREVIEW_HEADER: route.service}

    def _url(self, port: int, route: Route) -> str:
        bind = str(self.settings.get("proxy_bind", "127.0.0.1"))
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "*", "") else bind
        host = f"[{host}]" if ":" in host else host
        path = route.paths[0] if route.paths else "/"
        return f"http://{host}:{port}{path.rstrip('/')}"

    def shutdown(self) -> bool:
        """Stop this project's HAProxy; True when one was running."""
        return stop_haproxy(self.files.root)

    # -- files --------------------------------------------------------------------------

    def _options(self) -> RenderOptions:
        import ipaddress

        bind = str(self.settings.get("proxy_bind", "127.0.0.1"))
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise ConfigError(f"expected an IP address, got {bind!r}", key="proxy_bind") from None
        return RenderOptions(
            bind=bind,
            proxy_port=int(self.settings.proxy_port),
            preview_port=int(self.settings.preview_port),
            admin_socket=str(self.files.admin_socket),
        )

    def _running(self) -> bool:
        if self.container:
            return self.container.running()
        return control.master_pid(self.files) is not None

    def _config_agrees(self, services: Mapping[str, ServiceEntry], opts: RenderOptions) -> bool:
        config = self.files.config
        return config.is_file() and config.read_text() == render(services, opts)

    def _candidate(self, text: str, validate: bool = True) -> Path:
        candidate = self.files.root / "haproxy.cfg.new"
        candidate.write_text(text)
        if validate:
            try:
                if self.container:
                    self.container.validate(candidate)
                else:
                    control.validate_config(candidate)
            except FlowgateError:
                candidate.unlink(missing_ok=True)
                raise
        return candidate

    @contextmanager
    def _locked(self) -> Iterator[dict[str, ServiceEntry]]:
        """Targets of one project share the config: one apply at a time, across processes."""
        files = self.files
        files.ensure()
        with open(files.lock, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield self._load()

    def _load(self) -> dict[str, ServiceEntry]:
        try:
            data = json.loads(self.files.routes.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            raise ReleaseFailed(f"haproxy: cannot read {self.files.routes}: {err}") from err
        entries = [ServiceEntry.from_dict(item) for item in data.get("services", [])]
        return {entry.service: entry for entry in entries}

    def _save(self, services: Mapping[str, ServiceEntry]) -> None:
        data = {"services": [services[name].to_dict() for name in sorted(services)]}
        temporary = self.files.routes.with_suffix(".json.new")
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, self.files.routes)


def _probe(backend: str, name: str, ip: str, port: int, timeout: float = 2.0) -> None:
    """HAProxy's own check, done once from this host just before the switch: a TCP
    connect (the rendered servers have plain `check`, i.e. layer 4). An instance that
    does not accept it never gets traffic; nothing has changed yet."""
    import socket

    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:  # a plain socket: the IP is numeric, no resolver call
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect((ip, port))
    except OSError as err:
        raise ReleaseFailed(
            f"haproxy: {backend} server {name} ({ip}:{port}) not UP: connect failed "
            f"({err.strerror or err}); the previous routing still serves"
        ) from err


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [HAProxyProxy]
