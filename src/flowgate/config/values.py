"""Parsers for setting values: each turns raw input (YAML, an env var, a flag) into a typed,
checked value, or raises ValueError with the words a config error shows.

Everything is checked here, once, before any command touches a container or a route:
numbers are finite and inside documented bounds, names and route values are whitelisted
(a newline or a `#` that reaches a proxy configuration would inject lines into it).
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
from collections.abc import Callable
from typing import Any

#: The most instances one color may have. A typo (`scale 99999999999999999999`) must be
#: refused, not turned into a machine running out of memory starting containers.
MAX_SCALE = 1000
#: The longest duration any setting accepts: one day.
MAX_SECONDS = 86400.0

# RFC 3986 path characters minus those HAProxy's and nginx's parsers treat specially
# (quotes, `$`, `#`, `{`, `}`, `\`, spaces).
PATH_RE = re.compile(r"^/[A-Za-z0-9._~!&()*+,;=:@%/-]*$")
MAX_PATH = 512
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_RE = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")
#: Compose's rule for a project name (compose-spec: the top-level `name`).
PROJECT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Compose service names (targets, side targets).
SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME = 63


def parse_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    text = str(value)
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValueError(f"expected one line of text, got {text!r}")
    return text


def optional_str(value: Any) -> str | None:
    text = parse_str(value)
    return text or None


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_int(value: Any) -> int:
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected an integer, got {value!r}")
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", text):  # no 10**4300-digit strings, no 1e9
        raise ValueError(f"expected an integer, got {value!r}")
    return int(text)


def parse_port(value: Any) -> int:
    port = parse_int(value)
    if not 0 < port < 65536:
        raise ValueError(f"expected a port between 1 and 65535, got {value!r}")
    return port


def seconds(*, zero: bool, maximum: float = MAX_SECONDS) -> Callable[[Any], float]:
    """A duration in seconds (`30`, `1.5`, `2s`): finite, not negative, at most `maximum`;
    0 only where `zero` says it means something (no drain, no overall timeout)."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number of seconds, got {value!r}")
        text = str(value).strip()
        text = text[:-1] if text.endswith("s") else text
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number of seconds, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number of seconds, got {value!r}")
        if number < 0 or (number == 0 and not zero):
            least = ">= 0" if zero else "> 0"
            raise ValueError(f"expected a number of seconds {least}, got {value!r}")
        if number > maximum:
            raise ValueError(f"expected at most {maximum:g} seconds, got {value!r}")
        return number

    return parse


def parse_seconds(value: Any) -> float:
    """Kept for plugins: a duration where 0 is allowed."""
    return seconds(zero=True)(value)


def parse_list(value: Any) -> list[str]:
    """A YAML list, or a comma-separated string (how env vars carry lists)."""
    if isinstance(value, list):
        return [parse_str(item) for item in value]
    if isinstance(value, dict):
        raise ValueError("expected a list, got a mapping")
    return [item.strip() for item in parse_str(value).split(",") if item.strip()]


def list_of(check: Callable[[str], str]) -> Callable[[Any], list[str]]:
    """A list whose items pass `check`; a repeated item counts once (order kept)."""

    def parse(value: Any) -> list[str]:
        return list(dict.fromkeys(check(item) for item in parse_list(value)))

    return parse


def check_path(path: str) -> str:
    """A URL path the proxy routes: one that cannot inject proxy configuration."""
    if len(path) > MAX_PATH or not PATH_RE.fullmatch(path):
        raise ValueError(
            f"{path!r} must start with / and hold only URL path characters "
            "(no spaces, quotes, #, $, backslashes, braces or non-ASCII)"
        )
    return path


def check_domain(domain: str) -> str:
    if len(domain) > 253 or not DOMAIN_RE.fullmatch(domain):
        raise ValueError(
            f"{domain!r} is not a domain name (letters, digits, dots, hyphens, "
            "optionally a leading *.)"
        )
    return domain.lower()


def check_service(name: str) -> str:
    """A Compose service name (target, side target)."""
    if len(name) > MAX_NAME or not SERVICE_RE.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a Compose service name (letters, digits, '.', '_', '-', "
            f"at most {MAX_NAME} characters)"
        )
    return name


def optional_service(value: Any) -> str | None:
    text = parse_str(value).strip()
    return check_service(text) if text else None


def check_project(name: str) -> str:
    """Compose's rule for a project name; never rewritten (two spellings must not share
    state and containers)."""
    if len(name) > MAX_NAME or not PROJECT_RE.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid project name: lowercase letters, digits, '_' and '-', "
            f"starting with a letter or digit, at most {MAX_NAME} characters (Compose's rule)"
        )
    return name


def normalize_project(raw: str) -> str:
    """Compose's default from a folder name: lowercased, only [a-z0-9_-] kept, leading
    '_' and '-' dropped (compose-go's NormalizeProjectName)."""
    kept = "".join(char for char in raw.lower() if re.fullmatch(r"[a-z0-9_-]", char))
    return kept.lstrip("_-")[:MAX_NAME]


def parse_address(value: Any) -> str:
    """An IP address to publish or bind on (`127.0.0.1`, `0.0.0.0`, `::1`)."""
    text = parse_str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"expected an IP address, got {value!r}") from None


def parse_docker_host(value: Any) -> str | None:
    text = parse_str(value).strip()
    if not text:
        return None
    if not re.fullmatch(r"(unix|tcp|ssh|npipe|http|https)://\S*", text):
        raise ValueError(f"expected unix://PATH, tcp://HOST:PORT or ssh://HOST, got {value!r}")
    return text


def parse_pytest_args(value: Any) -> str:
    """Extra pytest arguments, split as a shell would (checked now, not at the gate)."""
    text = parse_str(value)
    try:
        shlex.split(text)
    except ValueError as err:
        raise ValueError(f"cannot split {text!r} into arguments: {err}") from None
    return text


def parse_scale_text(value: Any) -> str:
    from flowgate.config.scale import parse_scale

    return str(parse_scale(value))
