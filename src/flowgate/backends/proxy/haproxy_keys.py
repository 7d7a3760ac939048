"""The settings the `haproxy` backend adds (declared through `config_keys`)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from flowgate.config.keys import Key, parse_bool, parse_int, parse_str
from flowgate.config.values import parse_address
from flowgate.errors import ConfigError

if TYPE_CHECKING:
    from flowgate.config.settings import Settings

DEFAULT_IMAGE = "haproxy:2.6"


def _parse_slots(value: object) -> int:
    slots = parse_int(value)
    if not 1 <= slots <= 1024:
        raise ValueError(f"expected 1 to 1024 server slots, got {value!r}")
    return slots


def _parse_dir(value: object) -> str:
    text = parse_str(value).strip()
    if not text or "\0" in text:
        raise ValueError(f"expected a folder path, got {value!r}")
    return text


KEYS: tuple[Key, ...] = (
    # Bind addresses are IPs (parse_address), never names: they go into HAProxy's config.
    Key("proxy_bind", parse_address, "127.0.0.1", None, "address HAProxy's public listener binds"),
    Key("preview_bind", parse_address, "127.0.0.1", None, "address the preview listener binds"),
    Key("preview_header", parse_bool, False, None, "also preview by a secret request header"),
    Key("haproxy_slots", _parse_slots, 4, None, "initial server slots per backend"),
    Key("haproxy_image", parse_str, DEFAULT_IMAGE, None, "image run on proxy_docker_host"),
    Key("haproxy_dir", _parse_dir, None, None, "folder of the shared HAProxies' files"),
)


def listen_address(settings: Settings, key: str) -> str:
    """An IP address to bind (never a name: it goes into HAProxy's config)."""
    value = str(settings.get(key) or "127.0.0.1")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConfigError(f"expected an IP address, got {value!r}", key=key) from None
