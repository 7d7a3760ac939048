"""A configuration key: file key, environment variable, parser, default and help, once.

flowgate's own keys are the fields of `flowgate.config.settings.Settings`; backends and
plugins declare further keys as `Key`s (a backend's `config_keys`, or the
`flowgate_config_keys` hook). Docker Flow's keys keep its names (FLOW_*); flowgate's own
use the FLOWGATE_ prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowgate.config.values import (
    parse_bool,
    parse_int,
    parse_list,
    parse_port,
    parse_scale_text,
    parse_seconds,
    parse_str,
    seconds,
)

__all__ = [
    "Key",
    "parse_bool",
    "parse_int",
    "parse_list",
    "parse_port",
    "parse_scale_text",
    "parse_seconds",
    "parse_str",
    "seconds",
]


@dataclass(frozen=True)
class Key:
    name: str  # key in flowgate.yml
    parse: Callable[[Any], Any]  # raw value -> checked, typed value; ValueError when bad
    default: Any = None
    env: str | None = None  # environment variable; None: FLOWGATE_<NAME>
    help: str = ""

    @property
    def env_var(self) -> str:
        return self.env or f"FLOWGATE_{self.name.upper()}"

    def fresh_default(self) -> Any:
        """The default, copied when mutable, so no two settings share one list."""
        return list(self.default) if isinstance(self.default, list) else self.default


def __getattr__(name: str) -> Any:
    """`CORE_KEYS` (the Settings fields as Keys), kept importable from here."""
    if name == "CORE_KEYS":
        from flowgate.config.settings import CORE_KEYS

        return CORE_KEYS
    raise AttributeError(name)
