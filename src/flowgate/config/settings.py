"""Load settings from flags > environment > flowgate.yml (else docker-flow.yml) > defaults."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowgate.config.keys import CORE_KEYS, Key
from flowgate.errors import ConfigError, UsageError

CONFIG_FILES = ("flowgate.yml", "docker-flow.yml")


@dataclass
class Settings:
    """Resolved configuration; `sources` says where each value came from (for messages)."""

    project_dir: Path
    values: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def replace(self, **changes: Any) -> Settings:
        values = {**self.values, **changes}
        sources = {**self.sources, **{key: "override" for key in changes}}
        return Settings(self.project_dir, values, sources, self.config_file)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", source=path.name) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"malformed YAML{where}: {problem}", source=path.name) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", source=path.name)
    return data


def _parse(key: Key, raw: Any, source: str) -> Any:
    try:
        return key.parse(raw)
    except ValueError as err:
        if source.startswith("--"):  # a bad flag is a usage error (exit 2), not config (4)
            raise UsageError(f"{source}: {err}") from None
        raise ConfigError(str(err), source=source, key=key.name) from None


def find_config_file(project_dir: Path) -> Path | None:
    for name in CONFIG_FILES:
        candidate = project_dir / name
        if candidate.is_file():
            return candidate
    return None


def load_settings(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra_keys: Iterable[Key] = (),
) -> Settings:
    """Resolve every key; unknown file keys and bad values raise ConfigError."""
    env = os.environ if env is None else env
    flags = flags or {}
    keys = {key.name: key for key in (*CORE_KEYS, *extra_keys)}
    values = {name: key.default for name, key in keys.items()}
    sources = dict.fromkeys(keys, "default")

    config_file = find_config_file(project_dir)
    if config_file is not None:
        for name, raw in read_yaml_mapping(config_file).items():
            if name not in keys:
                raise ConfigError("unknown key", source=config_file.name, key=str(name))
            if raw is not None:
                values[name] = _parse(keys[name], raw, config_file.name)
                sources[name] = config_file.name

    for name, key in keys.items():
        raw_env = env.get(key.env_var)
        if raw_env is None and name == "host":
            raw_env = env.get("DOCKER_HOST")
            if raw_env is not None:
                values[name] = _parse(key, raw_env, "DOCKER_HOST")
                sources[name] = "DOCKER_HOST"
            continue
        if raw_env is not None and raw_env != "":
            values[name] = _parse(key, raw_env, key.env_var)
            sources[name] = key.env_var

    for name, raw in flags.items():
        if raw is None or raw == () or raw == []:
            continue
        if name not in keys:
            raise ConfigError("unknown key", source="flags", key=name)
        values[name] = _parse(
            keys[name], list(raw) if isinstance(raw, tuple) else raw, "--" + name.replace("_", "-")
        )
        sources[name] = "flag"

    return Settings(project_dir, values, sources, config_file)
