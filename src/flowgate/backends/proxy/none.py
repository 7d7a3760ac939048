"""The `none` proxy backend: no proxy at all; instances are reached at their own address.

`apply` still validates the route, so a service path that could never be routed by a
real proxy is reported the same way whichever proxy is configured.
"""

from __future__ import annotations

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route
from flowgate.backends.proxy.haproxy_config import check_domain, check_path, check_service_name


class NoProxy(Proxy):
    name = "none"

    def check(self) -> None:
        """Nothing to reach."""

    def apply(self, route: Route) -> None:
        check_service_name(route.service)
        for path in route.paths:
            check_path(path)
        for domain in route.domains:
            check_domain(domain)

    def remove(self, service: str) -> None:
        """Nothing routes the service."""

    def preview_url(self, route: Route) -> str | None:
        """Without a proxy, the new color's first instance is the preview."""
        return f"http://{route.preview[0].address}" if route.preview else None


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [NoProxy]
