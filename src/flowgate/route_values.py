"""The values a route carries into a proxy's configuration, checked once for every proxy.

Everything that can reach a proxy's config text is whitelisted (service names, paths,
domains), because a newline or a `#` in a service path would otherwise inject
configuration. `flowgate.models.Route` runs these checks when it is built, so no proxy
backend receives a value that did not pass them. The whitelists themselves are the
settings loader's (`flowgate.config.values`): a value that loads is a value that routes.
"""

from __future__ import annotations

from collections.abc import Callable

from flowgate.config import values
from flowgate.errors import ConfigError


def _checked(check: Callable[[str], str], value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{value!r} is not text", key=key)
    try:
        return check(value)
    except ValueError as err:
        raise ConfigError(str(err), key=key) from None


def check_service_name(service: str) -> str:
    """`<project>-<target>`: Docker Flow keeps the project's case, so letters of both cases."""
    return _checked(values.check_service, service, "project")


def check_path(path: str) -> str:
    return _checked(values.check_path, path, "service_path")


def check_domain(domain: str) -> str:
    return _checked(values.check_domain, domain, "service_domain")
