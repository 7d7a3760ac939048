"""Compose keys that change how a container runs, as the Docker Engine API's options.

Each key in SUPPORTED becomes the `containers.create` argument Compose would give it.
Any other key of `config.compose.RUNTIME_KEYS` is refused by `Runtime.check_service`
with an error naming it, before anything starts: never dropped with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowgate.config.compose import parse_duration
from flowgate.errors import ConfigError


def _seconds(value: Any) -> int:
    return max(0, round(parse_duration(value, "stop_grace_period")))


def _restart(value: Any) -> dict[str, Any]:
    name, _, count = str(value).partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise ValueError(f"expected no, always, on-failure[:N] or unless-stopped, got {value!r}")
    policy: dict[str, Any] = {"Name": name}
    if count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def _ulimits(value: Any) -> list[Any]:
    from docker.types import Ulimit

    limits = []
    for name, limit in dict(value).items():
        if isinstance(limit, dict):
            limits.append(Ulimit(name=name, soft=int(limit["soft"]), hard=int(limit["hard"])))
        else:
            limits.append(Ulimit(name=name, soft=int(limit), hard=int(limit)))
    return limits


def _logging(value: Any) -> Any:
    from docker.types import LogConfig

    config = dict(value)
    return LogConfig(type=config.get("driver", "json-file"), config=config.get("options") or {})


def _list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _tmpfs(value: Any) -> dict[str, str]:
    mounts = {}
    for item in _list(value):
        path, _, options = item.partition(":")
        mounts[path] = options
    return mounts


def _mapping(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return dict(str(item).partition("=")[::2] for item in value)


def _extra_hosts(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    hosts = {}
    for item in _list(value):
        host, sep, address = item.partition("=") if "=" in item else item.partition(":")
        if not sep:
            raise ValueError(f"expected host:address, got {item!r}")
        hosts[host] = address
    return hosts


#: Compose key -> (create() argument, conversion).
SUPPORTED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "init": ("init", bool),
    "stop_signal": ("stop_signal", str),
    "stop_grace_period": ("stop_timeout", _seconds),
    "user": ("user", str),
    "working_dir": ("working_dir", str),
    "extra_hosts": ("extra_hosts", _extra_hosts),
    "hostname": ("hostname", str),
    "domainname": ("domainname", str),
    "cap_add": ("cap_add", _list),
    "cap_drop": ("cap_drop", _list),
    "privileged": ("privileged", bool),
    "read_only": ("read_only", bool),
    "tmpfs": ("tmpfs", _tmpfs),
    "ulimits": ("ulimits", _ulimits),
    "sysctls": ("sysctls", _mapping),
    "shm_size": ("shm_size", str),
    "mem_limit": ("mem_limit", str),
    "mem_reservation": ("mem_reservation", str),
    "memswap_limit": ("memswap_limit", str),
    "cpus": ("nano_cpus", lambda value: int(float(value) * 1e9)),
    "cpu_shares": ("cpu_shares", int),
    "cpuset": ("cpuset_cpus", str),
    "pids_limit": ("pids_limit", int),
    "oom_score_adj": ("oom_score_adj", int),
    "dns": ("dns", _list),
    "dns_search": ("dns_search", _list),
    "dns_opt": ("dns_opt", _list),
    "security_opt": ("security_opt", _list),
    "group_add": ("group_add", _list),
    "devices": ("devices", _list),
    "tty": ("tty", bool),
    "stdin_open": ("stdin_open", bool),
    "pid": ("pid_mode", str),
    "ipc": ("ipc_mode", str),
    "restart": ("restart_policy", _restart),
    "logging": ("log_config", _logging),
}


def create_options(service_name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The `containers.create` arguments for the service's supported runtime keys."""
    converted: dict[str, Any] = {}
    for key, value in options.items():
        if key not in SUPPORTED:
            continue
        argument, convert = SUPPORTED[key]
        try:
            converted[argument] = convert(value)
        except (ValueError, TypeError, KeyError, ConfigError) as err:
            raise ConfigError(
                f"invalid value {value!r}: {err}", source=f"services.{service_name}", key=key
            ) from None
    return converted
