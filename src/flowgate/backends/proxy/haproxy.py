"""The `haproxy` proxy backend: flowgate renders HAProxy's config and drives HAProxy itself.

<<<<<<< HEAD
One HAProxy per host and `proxy_port` serves every project that names that port: its files
(config, sockets, the routes table saying which service owns which paths and domains) are
in `<haproxy_dir>/<proxy_port>/`, changed under a lock (haproxy_table). Each service
changes only its own entry and its own servers. A color switch or a scale change that fits
the backend's server slots goes through the Runtime API (new servers checked UP before the
old ones leave), so no reload and no lost request; anything structural is validated with
`haproxy -c`, its new listeners checked free, then reloaded and confirmed. HAProxy runs as
a local process, or as a container when `proxy_docker_host` is set (two small classes with
the same methods). The last service to leave stops it.
=======
One HAProxy per project serves every target of the project (routes.json keeps them all).
A color switch or a scale change that fits the backend's server slots goes through the
Runtime API in one batch of commands (the new servers, which flowgate has seen healthy,
in service at once, then the old ones out; HAProxy's checks stay on), so no reload and no
lost request; anything structural is validated with `haproxy -c`, then reloaded and confirmed.
HAProxy runs as a local process, or as a container when `proxy_docker_host` is set.
>>>>>>> main
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route
from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy import haproxy_switch as switch
from flowgate.backends.proxy import haproxy_table as table
from flowgate.backends.proxy.haproxy_config import (
    PREVIEW_HEADER,
    RenderOptions,
    ServiceEntry,
    SlotPlan,
    normalize_address,
    plan_slots,
    preview_map_text,
    render,
)
from flowgate.backends.proxy.haproxy_container import HAProxyContainer, stop_haproxy
from flowgate.backends.proxy.haproxy_control import HAProxyFiles
from flowgate.backends.proxy.haproxy_keys import KEYS, listen_address
from flowgate.backends.proxy.haproxy_ports import check_free
from flowgate.backends.proxy.haproxy_process import HAProxyProcess
from flowgate.backends.proxy.haproxy_table import (
    ProxySettings,
    Table,
    preview_token,
    write_private,
)
from flowgate.errors import FlowgateError, ReleaseFailed
from flowgate.models import Instance

if TYPE_CHECKING:
    from flowgate.config.settings import Settings

__all__ = ["HAProxyProxy", "stop_haproxy"]

Runner = HAProxyProcess | HAProxyContainer


class HAProxyProxy(Proxy):
    name = "haproxy"
    config_keys = KEYS

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        haproxy_dir = settings.get("haproxy_dir") or control.default_haproxy_dir()
        self.files = HAProxyFiles.for_port(haproxy_dir, int(settings.proxy_port))
        self.runner: Runner = (
            HAProxyContainer.from_settings(settings, self.files)
            if settings.get("proxy_docker_host")
            else HAProxyProcess(self.files)
        )

    @property
    def owner(self) -> str:
        return str(Path(self.settings.project_dir).resolve())

    def check(self) -> None:
        """HAProxy can be run, and this project may join the shared HAProxy: its route is
        nobody else's, it agrees on how HAProxy runs, and when HAProxy is not running its
        ports are free. Reads only; so a conflict fails before anything changes."""
        self.runner.check()
        wanted = self._wanted()
        target = self.settings.get("target")
        if target and self.files.routes.exists():
            current = table.load(self.files)
            current.check_join(self._claim(f"{self._project()}-{target}"), wanted)
        if not self.runner.running():
            check_free(wanted.listeners())

    def _claim(self, service: str) -> ServiceEntry:
        route = Route(
            service,
            tuple(self.settings.get("service_path") or ()),
            tuple(self.settings.get("service_domain") or ()),
        )
        entry = ServiceEntry(route.service, route.paths, route.domains)
        return dataclasses.replace(entry, project=self._project(), owner=self.owner)

    # -- applying -----------------------------------------------------------------------

    def apply(self, route: Route) -> None:
        # Route's values were checked when it was built; the rest is checked here, before
        # anything is written.
        wanted = self._wanted()
        runner = self.runner
        live = [normalize_address(i.address) for i in route.live if i.address]
        preview = [normalize_address(i.address) for i in route.preview if i.address]
        minimum = int(self.settings.haproxy_slots)
        with table.locked(self.files) as current:
            before = current.services.get(route.service)
            live_plan = plan_slots(before.live if before else (), live, minimum)
            preview_plan = plan_slots(before.preview if before else (), preview, minimum)
            entry = ServiceEntry(
                route.service,
                route.paths,
                route.domains,
                str(route.live_color) if route.live_color else None,
                str(route.preview_color) if route.preview_color else None,
                live_plan.final,
                preview_plan.final,
                project=self._project(),
                owner=self.owner,
                token=preview_token(before, preview_plan, wanted.preview_header),
            )
            current.check_join(entry, wanted)
            after = Table(wanted, {**current.services, route.service: entry})
            running = runner.running()
            if current.proxy is not None and current.proxy.mode != wanted.mode and running:
                raise ReleaseFailed(
                    f"haproxy: the HAProxy on port {wanted.proxy_port} runs as a "
                    f"{current.proxy.mode}; `flowgate down` every project it serves before "
                    f"running it as a {wanted.mode}"
                )
            structural = (
                not running
                or before is None
                or not entry.same_structure(before)
                or current.proxy != wanted
                or not self._config_agrees(current)
            )
            if structural:
                self._apply_structural(after, current.proxy if running else None, runner)
            else:
                assert before is not None
                plans = {"live": live_plan, "preview": preview_plan}
                self._apply_runtime(route.service, plans, after, before, entry)
            table.save(self.files, after)

    def remove(self, service: str) -> None:
        """Stop routing the service; the last service to leave stops HAProxy."""
        self.leave([service])

    def leave(self, services: list[str] | None = None) -> bool:
        """Remove these services of this project (all of them when None) from the shared
        HAProxy; stop HAProxy when no service is left. True when HAProxy was stopped."""
        files = self.files
        if not files.routes.exists() and not self.runner.running():
            return False
        with table.locked(files) as current:
            mine = [
                name
                for name, entry in current.services.items()
                if entry.owner == self.owner and (services is None or name in services)
            ]
            rest = {n: e for n, e in current.services.items() if n not in mine}
            if rest:
                if mine:
                    after = Table(current.proxy, rest)
                    runner = self.runner
                    serving = current.proxy if runner.running() else None
                    self._apply_structural(after, serving, runner)
                    table.save(files, after)
                return False
            stopped = stop_haproxy(files.root)
            files.remove()
            return stopped

    def _apply_structural(
        self, after: Table, serving: ProxySettings | None, runner: Runner
    ) -> None:
        """Check new listeners, validate a candidate file, swap it in, reload (or start); on
        failure put the previous file back, so the file always describes what serves."""
        assert after.proxy is not None
        held = set(serving.listeners()) if serving else set()
        check_free(listener for listener in after.proxy.listeners() if listener not in held)
        files = self.files
        self._write_map(after)
        candidate = self._candidate(render(after.services, self._options(after.proxy)), runner)
        previous = files.config.read_bytes() if files.config.exists() else None
        os.replace(candidate, files.config)
        try:
            if serving is not None:
                control.reload(files)
            else:
                runner.start()
        except FlowgateError:
            if previous is None:
                files.config.unlink(missing_ok=True)
            else:
                self._candidate(previous.decode(), runner, validate=False).replace(files.config)
            raise

    def _apply_runtime(
        self,
        service: str,
        plans: Mapping[str, SlotPlan],
        after: Table,
        before: ServiceEntry,
        entry: ServiceEntry,
    ) -> None:
        # In a container, HAProxy reaches the instances from another host than flowgate
        # checked them from: it waits for its own check (and the file is checked first).
        # A local one switches at once; the file, only read by the next reload, is
        # checked after the switch, and an invalid one puts the old routing back.
        assert after.proxy is not None
        text = render(after.services, self._options(after.proxy))
        in_container = isinstance(self.runner, HAProxyContainer)
        candidate = self._candidate(text, self.runner) if in_container else None
        if candidate is None:
            switch.probe_added(service, plans)  # refused here, nothing changed yet
        try:
            if candidate is not None:
                switch.checked(self.files, service, plans, float(self.settings.health_timeout))
            else:
                switch.now(self.files, service, plans)
            switch.token(self.files, before, entry)
            if candidate is None:
                candidate = self._candidate(text, self.runner)
        except FlowgateError:
            (self.files.root / "haproxy.cfg.new").unlink(missing_ok=True)
            # The unchanged file still describes the old routing: reload puts it back.
            control.reload(self.files)
            raise
        self._write_map(after)
        os.replace(candidate, self.files.config)

    # -- draining and URLs --------------------------------------------------------------

    def wait_drained(self, service: str, instances: list[Instance], timeout: float) -> None:
        """Wait until no server holding these addresses has a connection and no old
        worker (from a reload) is still finishing requests."""
        if self.runner.running():
            addresses = {normalize_address(i.address) for i in instances if i.address}
            switch.drained(self.files, service, addresses, timeout)

    def public_url(self, route: Route) -> str | None:
        return self._url(str(self.settings.proxy_bind), int(self.settings.proxy_port), route)

    def preview_url(self, route: Route) -> str | None:
        bind = str(self.settings.get("preview_bind"))
        return self._url(bind, int(self.settings.preview_port), route)

    def preview_headers(self, route: Route) -> dict[str, str]:
        """The current preview secret, when header preview is on and a preview exists."""
        if not self.settings.get("preview_header") or not self.files.routes.exists():
            return {}
        entry = table.load(self.files).services.get(route.service)
        if entry is None or entry.owner != self.owner or not entry.token:
            return {}
        return {PREVIEW_HEADER: entry.token}

    @staticmethod
    def _url(bind: str, port: int, route: Route) -> str:
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "*", "") else bind
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}{route.paths[0].rstrip('/')}"

    def shutdown(self) -> bool:
        """Stop this port's shared HAProxy whoever uses it; True when one was running."""
        return stop_haproxy(self.files.root)

    # -- files --------------------------------------------------------------------------

    def _project(self) -> str:
        from flowgate.engine.context import project_name

        return project_name(self.settings)

    def _wanted(self) -> ProxySettings:
        """How this project wants the shared HAProxy to run; bad values raise ConfigError."""
        runner = self.runner
        container = isinstance(runner, HAProxyContainer)
        return ProxySettings(
            bind=listen_address(self.settings, "proxy_bind"),
            proxy_port=int(self.settings.proxy_port),
            preview_bind=listen_address(self.settings, "preview_bind"),
            preview_port=int(self.settings.preview_port),
            preview_header=bool(self.settings.get("preview_header")),
            mode="container" if container else "process",
            docker_host=runner.docker_host if isinstance(runner, HAProxyContainer) else None,
            image=runner.image if isinstance(runner, HAProxyContainer) else None,
        )

    def _options(self, proxy: ProxySettings) -> RenderOptions:
        files = self.files
        return RenderOptions(
            bind=proxy.bind,
            proxy_port=proxy.proxy_port,
            preview_port=proxy.preview_port,
            admin_socket=str(files.admin_socket),
            preview_bind=proxy.preview_bind,
            preview_map=str(files.preview_map) if proxy.preview_header else None,
        )

    def _config_agrees(self, current: Table) -> bool:
        config = self.files.config
        if current.proxy is None or not config.is_file():
            return False
        return config.read_text() == render(current.services, self._options(current.proxy))

    def _write_map(self, after: Table) -> None:
        if after.proxy is not None and after.proxy.preview_header:
            write_private(self.files.preview_map, preview_map_text(after.services))
        else:
            self.files.preview_map.unlink(missing_ok=True)

    def _candidate(self, text: str, runner: Runner, validate: bool = True) -> Path:
        candidate = self.files.root / "haproxy.cfg.new"
        write_private(candidate, text)
        if validate:
            try:
                runner.validate(candidate)
            except FlowgateError:
                candidate.unlink(missing_ok=True)
                raise
        return candidate


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [HAProxyProxy]
