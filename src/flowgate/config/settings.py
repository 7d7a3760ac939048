"""One typed settings object, loaded once per command by the CLI and the pytest plugin.

Each of flowgate's keys is one field of `Settings` below: its type, default, environment
variable, help and parser (which checks the value) are written there and nowhere else.
Backends and plugins add `Key`s of their own; their values are on the same object
(`settings.stop_timeout`), with the default their Key declares.

Sources, highest first: flags > environment > flowgate.yml > docker-flow.yml (both read,
flowgate.yml winning key by key) > defaults. Every value is parsed and checked while
loading, before any command changes anything; a bad one is a one-line error naming the
source and the key: exit 4 (ConfigError) for a file or a variable, 2 (UsageError) for a
flag.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowgate.config import values as v
from flowgate.config.keys import Key, unknown_key
from flowgate.errors import ConfigError, UsageError

CONFIG_FILES = ("flowgate.yml", "docker-flow.yml")


def setting(
    default: Any, parse: Callable[[Any], Any], env: str | None = None, help: str = ""
) -> Any:
    """A dataclass field that is a configuration key (env None: FLOWGATE_<NAME>)."""
    meta = {"parse": parse, "env": env, "help": help, "default": default}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Resolved configuration. `sources` says where each value came from (for messages);
    values of keys that backends and plugins declare live in `plugin_values` and read as
    attributes too."""

    project_dir: Path
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    config_file: Path | None = None
    plugin_values: dict[str, Any] = field(default_factory=dict)
    plugin_keys: dict[str, Key] = field(default_factory=dict, compare=False, repr=False)

    # -- Docker Flow's keys, with its environment variables --------------------------------
    target: str | None = setting(
        None, v.optional_service, "FLOW_TARGET", "the Compose service released blue-green"
    )
    side_targets: list[str] = setting(
        [], v.list_of(v.check_service), "FLOW_SIDE_TARGETS", "services deployed beside it"
    )
    blue_green: bool = setting(
        False, v.parse_bool, "FLOW_BLUE_GREEN", "`flow`: deploy as a new color"
    )
    service_path: list[str] = setting(
        [], v.list_of(v.check_path), "FLOW_SERVICE_PATH", "URL paths the proxy routes"
    )
    scale: str | None = setting(None, v.parse_scale_text, "FLOW_SCALE", "instances: N, +N or -N")
    project: str | None = setting(
        None, v.optional_str, "FLOW_PROJECT", "project name (default: folder name)"
    )
    compose_path: str = setting(
        "docker-compose.yml", v.parse_str, "FLOW_COMPOSE_PATH", "Compose file"
    )
    consul_address: str | None = setting(
        None, v.optional_str, "FLOW_CONSUL_ADDRESS", "Consul HTTP address"
    )
    proxy_host: str | None = setting(None, v.optional_str, "FLOW_PROXY_HOST", "host of the proxy")
    proxy_docker_host: str | None = setting(
        None, v.parse_docker_host, "FLOW_PROXY_DOCKER_HOST", "proxy's Docker host"
    )
    proxy_reconf_port: int = setting(8080, v.parse_port, "FLOW_PROXY_RECONF_PORT", "proxy API port")
    host: str | None = setting(
        None, v.parse_docker_host, "FLOW_HOST", "Docker host (else DOCKER_HOST)"
    )
    pull_side_targets: bool = setting(
        False, v.parse_bool, "FLOW_PULL_SIDE_TARGETS", "pull side images"
    )
    flow: list[str] = setting([], v.parse_list, "FLOW", "steps of `flowgate flow`")

    # -- flowgate's own keys ---------------------------------------------------------------
    runtime: str = setting("docker", v.parse_str, None, "runtime backend")
    registry: str = setting("file", v.parse_str, None, "registry backend")
    proxy: str = setting("none", v.parse_str, None, "proxy backend")
    proxy_port: int = setting(80, v.parse_port, None, "public listener of the proxy")
    preview_port: int = setting(8081, v.parse_port, None, "listener serving the new color")
    service_domain: list[str] = setting(
        [], v.list_of(v.check_domain), None, "domains the proxy routes"
    )
    publish_address: str = setting(
        "127.0.0.1", v.parse_address, None, "host address ports publish on"
    )
    tests: list[str] = setting([], v.parse_list, None, "test gate suites")
    post_tests: list[str] = setting([], v.parse_list, None, "suites run after the switch")
    pytest_args: str = setting("", v.parse_pytest_args, None, "extra pytest arguments")
    health_timeout: float = setting(
        60.0, v.seconds(zero=False), None, "seconds to wait for healthy"
    )
    drain_timeout: float = setting(
        2.0, v.seconds(zero=True), None, "seconds the old color drains (0: no wait)"
    )
    lock_ttl: float = setting(
        60.0, v.seconds(zero=False), None, "seconds a release lock lives unrenewed"
    )
    timeout: float = setting(
        0.0, v.seconds(zero=True), None, "seconds a whole release may take (0: none)"
    )

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the keys backends and plugins declared.
        try:
            return self.__dict__["plugin_values"][name]
        except KeyError:
            raise AttributeError(
                f"no setting {name!r}: declare it as a Key (config_keys or "
                "flowgate_config_keys) to read it"
            ) from None

    @property
    def values(self) -> dict[str, Any]:
        """Every key's value, flowgate's and the plugins', by key name."""
        own = {key.name: getattr(self, key.name) for key in CORE_KEYS}
        return {**own, **self.plugin_values}

    def get(self, name: str, default: Any = None) -> Any:
        """A key's value; `default` only for a key nobody declared."""
        if name in CORE_NAMES:
            return getattr(self, name)
        return self.plugin_values.get(name, default)

    def replace(self, **changes: Any) -> Settings:
        own = {name: value for name, value in changes.items() if name in CORE_NAMES}
        plugin = {name: value for name, value in changes.items() if name not in CORE_NAMES}
        sources = {**self.sources, **dict.fromkeys(changes, "override")}
        return dataclasses.replace(
            self, **own, sources=sources, plugin_values={**self.plugin_values, **plugin}
        )

    def including(self, keys: Iterable[Key]) -> Settings:
        """These settings plus defaults for any of `keys` they lack (a backend built from
        settings loaded without its keys still reads its own defaults, never restated)."""
        missing = [k for k in keys if k.name not in CORE_NAMES and k.name not in self.plugin_values]
        if not missing:
            return self
        return dataclasses.replace(
            self,
            plugin_values={**self.plugin_values, **{k.name: k.fresh_default() for k in missing}},
            plugin_keys={**self.plugin_keys, **{k.name: k for k in missing}},
            sources={**self.sources, **dict.fromkeys((k.name for k in missing), "default")},
        )


CORE_KEYS: tuple[Key, ...] = tuple(
    Key(f.name, f.metadata["parse"], f.metadata["default"], f.metadata["env"], f.metadata["help"])
    for f in dataclasses.fields(Settings)
    if "parse" in f.metadata
)
CORE_NAMES = frozenset(key.name for key in CORE_KEYS)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ConfigError(f"cannot read: {reason}", source=path.name) from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"malformed YAML{where}: {problem}", source=path.name) from err
    except RecursionError as err:  # pathologically nested input
        raise ConfigError("malformed YAML: nested too deeply", source=path.name) from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", source=path.name)
    return data


def _parse(key: Key, raw: Any, source: str) -> Any:
    try:
        return key.parse(raw)
    except (ValueError, TypeError, OverflowError) as err:
        if source.startswith("--"):  # a bad flag is a usage error (exit 2), not config (4)
            raise UsageError(f"{source}: {err}") from None
        raise ConfigError(str(err), source=source, key=key.name) from None


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def load_settings(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    extra_keys: Iterable[Key] = (),
    files: Sequence[str] = CONFIG_FILES,
) -> Settings:
    """Resolve and check every key; unknown file keys and bad values raise ConfigError
    (UsageError for flags). `files`: the config files read, the first winning key by key
    (`flowgate flow` reads docker-flow.yml by Docker Flow's own rules instead)."""
    env = os.environ if env is None else env
    flags = flags or {}
    keys = {key.name: key for key in (*CORE_KEYS, *extra_keys)}
    values = {name: key.fresh_default() for name, key in keys.items()}
    sources = dict.fromkeys(keys, "default")

    # docker-flow.yml first, so flowgate.yml wins key by key.
    present = [project_dir / name for name in reversed(files) if (project_dir / name).is_file()]
    for path in present:
        for name, raw in read_yaml_mapping(path).items():
            if name not in keys:
                raise ConfigError(unknown_key(str(name), keys), source=path.name, key=str(name))
            if raw is not None:
                values[name] = _parse(keys[name], raw, path.name)
                sources[name] = path.name

    for name, key in keys.items():
        raw_env = env.get(key.env_var)
        source = key.env_var
        if (raw_env is None or raw_env == "") and name == "host":
            raw_env, source = env.get("DOCKER_HOST"), "DOCKER_HOST"
        if raw_env is not None and raw_env != "":
            values[name] = _parse(key, raw_env, source)
            sources[name] = source

    for name, raw in flags.items():
        if raw is None or raw == () or raw == []:
            continue
        if name not in keys:
            raise UsageError(f"{flag_name(name)}: no such setting")
        values[name] = _parse(
            keys[name], list(raw) if isinstance(raw, tuple) else raw, flag_name(name)
        )
        sources[name] = "flag"

    own = {name: values[name] for name in CORE_NAMES}
    plugin_keys = {name: key for name, key in keys.items() if name not in CORE_NAMES}
    return Settings(
        project_dir=project_dir,
        sources=sources,
        config_file=present[-1] if present else None,
        plugin_values={name: values[name] for name in plugin_keys},
        plugin_keys=plugin_keys,
        **own,
    )
