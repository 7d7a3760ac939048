"""The `none` proxy backend: no proxy at all; instances are reached at their own address.

A route's values are checked when the `Route` is built, so a service path that could
never be routed by a real proxy is reported the same way whichever proxy is configured.
"""

from __future__ import annotations

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route


class NoProxy(Proxy):
    name = "none"

    def check(self) -> None:
        """Nothing to reach."""

    def apply(self, route: Route) -> None:
        """Nothing routes the service; the route's values were checked when it was built."""

    def remove(self, service: str) -> None:
        """Nothing routes the service."""

    def preview_url(self, route: Route) -> str | None:
        """Without a proxy, the new color's first instance is the preview."""
        return f"http://{route.preview[0].address}" if route.preview else None


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [NoProxy]
