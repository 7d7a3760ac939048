"""The values a route carries into a proxy's configuration, checked once for every proxy.

Everything that can reach a proxy's config text is whitelisted here (service names, paths,
domains), because a newline or a `#` in a service path would otherwise inject
configuration. `flowgate.models.Route` runs these checks when it is built, so no proxy
backend receives a value that did not pass them.
"""

from __future__ import annotations

import re

from flowgate.errors import ConfigError

SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# RFC 3986 path characters minus those HAProxy's parser treats specially (quotes, `$`, `#`).
PATH_RE = re.compile(r"^/[A-Za-z0-9._~!&()*+,;=:@%/-]*$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
DOMAIN_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


def check_service_name(service: str) -> str:
    if not isinstance(service, str) or not SERVICE_RE.fullmatch(service) or len(service) > 64:
        raise ConfigError(
            f"service name {service!r} must match {SERVICE_RE.pattern} (lowercase project "
            "and target names)",
            key="project",
        )
    return service


def check_path(path: str) -> str:
    if not isinstance(path, str) or not PATH_RE.fullmatch(path) or len(path) > 512:
        raise ConfigError(
            f"{path!r} must start with / and hold only URL path characters "
            "(no spaces, quotes, #, $, backslashes, braces or non-ASCII)",
            key="service_path",
        )
    return path


def check_domain(domain: str) -> str:
    if not isinstance(domain, str) or not DOMAIN_RE.fullmatch(domain) or len(domain) > 253:
        raise ConfigError(
            f"{domain!r} is not a domain name (letters, digits, dots, hyphens, "
            "optionally a leading *.)",
            key="service_domain",
        )
    return domain.lower()
