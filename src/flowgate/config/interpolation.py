"""Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?message}`, `$$`) and its `.env` file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowgate.errors import ConfigError

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?$", re.S)


def interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Substitute variables in every string of a parsed YAML value."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: _substitute(m, env, where), value)
    if isinstance(value, list):
        return [interpolate(item, env, where) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env, where) for key, item in value.items()}
    return value


def _substitute(match: re.Match[str], env: Mapping[str, str], where: str) -> str:
    if match.group(0) == "$$":
        return "$"
    if match.group("plain"):
        return env.get(match.group("plain"), "")
    braced = _BRACED.match(match.group("braced") or "")
    if not braced:
        raise ConfigError(f"invalid interpolation {match.group(0)!r}", source=where)
    name, op, arg = braced.group("name", "op", "arg")
    present = name in env
    value = env.get(name, "")
    if op == ":-":
        return value if value else arg
    if op == "-":
        return value if present else arg
    if op in (":?", "?") and (not present or (op == ":?" and not value)):
        raise ConfigError(f"required variable {name} is missing: {arg}", source=where)
    return value


def read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read: {err}", source=path.name) from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("\"'")
    return values
