"""The `nginx` proxy backend: renders nginx.conf, checks it with `nginx -t`, starts nginx
or reloads it gracefully, and confirms the reload took effect.

Written against flowgate's public plugin API only (`flowgate.Proxy`, `Route`, `Key`, the
errors). One nginx per project serves every target of the project: `routes.json` keeps
each service's routes, and a lock file makes applies of several targets take turns.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowgate import ConfigError, Instance, Key, Proxy, ReleaseFailed, Route, write_private
from flowgate_nginx import process
from flowgate_nginx.config import (
    Options,
    ServiceRoutes,
    check_address,
    check_domain,
    check_path,
    check_service,
    conflicts,
    render,
)
from flowgate_nginx.process import NginxFiles


def _parse_binary(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a program name or path, got {value!r}")
    return value.strip()


def _parse_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)


class NginxProxy(Proxy):
    """Public route on `proxy_port`, preview route on `preview_port`, like `haproxy`."""

    name = "nginx"
    config_keys = (
        Key("nginx_binary", _parse_binary, "nginx", None, "nginx program to run"),
        # The listen address key the built-in `haproxy` backend reads too, same meaning.
        Key("proxy_bind", _parse_text, "127.0.0.1", None, "address the proxy's listeners bind"),
    )

    @property
    def files(self) -> NginxFiles:
        return NginxFiles.for_project(self.settings.project_dir)

    @property
    def binary(self) -> str:
        return process.nginx_binary(str(self.settings.nginx_binary))

    def check(self) -> None:
        """The binary exists and the listen address is an IP; nothing is started."""
        self.binary  # noqa: B018 - raises BackendUnreachable when missing
        self._options()

    # -- applying -----------------------------------------------------------------------

    def apply(self, route: Route) -> None:
        entry = ServiceRoutes(
            check_service(route.service),
            tuple(check_path(p) for p in (route.paths or ("/",))),
            tuple(check_domain(d) for d in route.domains),
            tuple(check_address(i.address) for i in route.live if i.address),
            tuple(check_address(i.address) for i in route.preview if i.address),
        )
        options = self._options()
        binary = self.binary
        with self._locked() as services:
            taken = conflicts(services, entry)
            if taken:
                raise ConfigError(f"nginx: route claimed twice: {'; '.join(taken)}")
            after = {**services, entry.service: entry}
            text = render(after, options)
            running = process.master_pid(self.files) is not None
            config = self.files.config
            if running and config.is_file() and config.read_text() == text:
                self._save(after)
                return
            self._replace_config(binary, text, running)
            self._save(after)

    def remove(self, service: str) -> None:
        """Stop routing the service; nginx keeps serving the project's other services,
        and stops when the last one leaves (`flowgate down`)."""
        options = self._options()
        binary = self.binary
        with self._locked() as services:
            if check_service(service) not in services:
                return
            after = {name: e for name, e in services.items() if name != service}
            if not after:
                process.stop(self.files)
                self.files.config.unlink(missing_ok=True)
            else:
                running = process.master_pid(self.files) is not None
                self._replace_config(binary, render(after, options), running)
            self._save(after)

    def _replace_config(self, binary: str, text: str, running: bool) -> None:
        """`nginx -t` the candidate, swap it in, reload (or start); on failure put the
        previous file back, so the file always describes what serves."""
        files = self.files
        write_private(files.candidate, text)
        try:
            process.check_config(binary, files, files.candidate)
        except ReleaseFailed:
            files.candidate.unlink(missing_ok=True)
            raise
        previous = files.config.read_bytes() if files.config.exists() else None
        os.replace(files.candidate, files.config)
        try:
            if running:
                process.reload(files)
            else:
                process.start(binary, files)
        except ReleaseFailed:
            if previous is None:
                files.config.unlink(missing_ok=True)
            else:
                write_private(files.config, previous)
            raise

    # -- draining and URLs --------------------------------------------------------------

    def wait_drained(self, service: str, instances: list[Instance], timeout: float) -> None:
        """Instances leave nginx's config on a reload; only the old workers still finish
        requests to them, so wait until none is left (at most `timeout` seconds)."""
        process.wait_old_workers(self.files, timeout)

    def public_url(self, route: Route) -> str | None:
        return self._url(int(self.settings.proxy_port), route)

    def preview_url(self, route: Route) -> str | None:
        return self._url(int(self.settings.preview_port), route)

    def _url(self, port: int, route: Route) -> str:
        bind = self._options().bind
        host = "127.0.0.1" if bind in ("0.0.0.0", "::") else bind
        host = f"[{host}]" if ":" in host else host
        path = route.paths[0] if route.paths else "/"
        return f"http://{host}:{port}{path.rstrip('/')}"

    def shutdown(self) -> bool:
        """Stop this project's nginx; True when one was running."""
        return process.stop(self.files)

    # -- state --------------------------------------------------------------------------

    def _options(self) -> Options:
        bind = str(self.settings.proxy_bind)
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise ConfigError(f"expected an IP address, got {bind!r}", key="proxy_bind") from None
        return Options(
            root=self.files.root,
            bind=bind,
            proxy_port=int(self.settings.proxy_port),
            preview_port=int(self.settings.preview_port),
            user=_root_user(),
        )

    @contextmanager
    def _locked(self) -> Iterator[dict[str, ServiceRoutes]]:
        files = self.files
        files.ensure()
        with os.fdopen(os.open(files.lock, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield self._load()

    def _load(self) -> dict[str, ServiceRoutes]:
        try:
            data = json.loads(self.files.routes.read_text())
            entries = [ServiceRoutes.from_dict(item) for item in data.get("services", [])]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, AttributeError, ConfigError) as err:
            raise ReleaseFailed(f"nginx: cannot read {self.files.routes}: {err}") from err
        return {entry.service: entry for entry in entries}

    def _save(self, services: dict[str, ServiceRoutes]) -> None:
        data = {"services": [services[name].to_dict() for name in sorted(services)]}
        write_private(self.files.routes, json.dumps(data, indent=2) + "\n")


def _root_user() -> str | None:
    """Workers run as the user flowgate runs as (nginx would switch a root master's
    workers to `nobody`, who cannot read a project's private state dir)."""
    if os.geteuid() != 0:
        return None
    import grp
    import pwd

    return f"{pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}"


def stop_nginx(project_dir: os.PathLike[str] | str, timeout: float = 10.0) -> bool:
    """Stop a project's nginx, if one runs; for clean-up in tests and scripts."""
    from pathlib import Path

    return process.stop(NginxFiles.for_project(Path(project_dir)), timeout)
