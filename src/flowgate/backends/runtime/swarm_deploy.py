"""A Compose service's `deploy` section on the swarm runtime: honoured, or refused by name.

Every key of the Compose `deploy` reference is either turned into Swarm service options
here or refused with a one-line ConfigError naming it; nothing is dropped silently.
`replicas` is the engine's (the initial scale). Each instance of a color is its own
one-task service (so flowgate, not Swarm, picks which instances a scale-down removes),
which is why the keys that only mean something across the tasks of one service
(`placement.preferences`, `placement.max_replicas_per_node`, `mode: global`) are refused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flowgate.config.compose import parse_duration
from flowgate.errors import ConfigError

if TYPE_CHECKING:
    from flowgate.config.compose import ServiceSpec

NANOSECONDS = 1_000_000_000
RESTART_DELAY = 2.0  # seconds before swarm replaces a crashed task (its default is 5)
_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

#: Keys refused on purpose, with why (the rest of an unknown key gets a generic refusal).
REFUSED = {
    "placement.preferences": "each instance is its own one-task service, so swarm has "
    "nothing to spread; use placement.constraints",
    "placement.max_replicas_per_node": "each instance is its own one-task service; use "
    "placement.constraints",
    "resources.limits.pids": "the Docker SDK's service resources have no pids limit",
    "resources.reservations.devices": "swarm services cannot reserve devices",
    "resources.reservations.generic_resources": "not supported by flowgate yet",
}
_KNOWN: dict[str, set[str]] = {
    "": {"mode", "replicas", "labels", "endpoint_mode", "placement", "resources"}
    | {"restart_policy", "update_config", "rollback_config"},
    "placement": {"constraints"},
    "resources": {"limits", "reservations"},
    "resources.limits": {"cpus", "memory"},
    "resources.reservations": {"cpus", "memory"},
    "restart_policy": {"condition", "delay", "max_attempts", "window"},
    "update_config": {"parallelism", "delay", "failure_action", "monitor"}
    | {"max_failure_ratio", "order"},
}
_KNOWN["rollback_config"] = _KNOWN["update_config"]


def _refuse(service: str, key: str, why: str) -> ConfigError:
    return ConfigError(f"{why} (runtime swarm)", source="compose", key=f"{service}.deploy.{key}")


def _check_keys(service: str, value: Any, prefix: str = "") -> None:
    """Refuse any key the tables above do not know, naming it in full."""
    if not isinstance(value, dict):
        raise _refuse(service, prefix or "deploy", "expected a mapping")
    known = _KNOWN.get(prefix, set())
    for key, inner in value.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if path in REFUSED:
            raise _refuse(service, path, f"not supported: {REFUSED[path]}")
        if key not in known:
            raise _refuse(service, path, "unknown or unsupported deploy key")
        if path in _KNOWN and inner is not None:
            _check_keys(service, inner, path)


def parse_bytes(value: Any, where: str) -> int:
    """Compose's memory sizes: 512m, 1g, 1.5gb, 2048 (bytes)."""
    if isinstance(value, int):
        return value
    match = _BYTES.match(str(value))
    if not match:
        raise ConfigError(f"expected a size such as 512M or 1G, got {value!r}", key=where)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _cpus(value: Any, where: str) -> int:
    try:
        return int(float(value) * NANOSECONDS)
    except (TypeError, ValueError):
        raise ConfigError(
            f"expected a number of CPUs such as 0.5, got {value!r}", key=where
        ) from None


def _nanos(value: Any, where: str) -> int:
    return int(parse_duration(value, where) * NANOSECONDS)


def _resources(service: str, section: dict[str, Any]) -> Any:
    from docker.types import Resources

    limits = section.get("limits") or {}
    reservations = section.get("reservations") or {}
    where = f"{service}.deploy.resources"
    options: dict[str, int] = {}
    if "cpus" in limits:
        options["cpu_limit"] = _cpus(limits["cpus"], f"{where}.limits.cpus")
    if "memory" in limits:
        options["mem_limit"] = parse_bytes(limits["memory"], f"{where}.limits.memory")
    if "cpus" in reservations:
        options["cpu_reservation"] = _cpus(reservations["cpus"], f"{where}.reservations.cpus")
    if "memory" in reservations:
        options["mem_reservation"] = parse_bytes(
            reservations["memory"], f"{where}.reservations.memory"
        )
    return Resources(**options)


def _restart_policy(service: str, section: dict[str, Any]) -> Any:
    from docker.types import RestartPolicy

    where = f"{service}.deploy.restart_policy"
    condition = str(section.get("condition", "any"))
    if condition not in ("none", "on-failure", "any"):
        raise ConfigError(
            f"expected none, on-failure or any, got {condition!r}", key=f"{where}.condition"
        )
    return RestartPolicy(
        condition=condition,
        delay=_nanos(section.get("delay", RESTART_DELAY), f"{where}.delay"),
        max_attempts=int(section.get("max_attempts", 0)),
        window=_nanos(section.get("window", 0), f"{where}.window"),
    )


def _update_config(service: str, name: str, section: dict[str, Any]) -> dict[str, Any]:
    where = f"{service}.deploy.{name}"
    config: dict[str, Any] = {}
    if "parallelism" in section:
        config["Parallelism"] = int(section["parallelism"])
    if "delay" in section:
        config["Delay"] = _nanos(section["delay"], f"{where}.delay")
    if "failure_action" in section:
        config["FailureAction"] = str(section["failure_action"])
    if "monitor" in section:
        config["Monitor"] = _nanos(section["monitor"], f"{where}.monitor")
    if "max_failure_ratio" in section:
        config["MaxFailureRatio"] = float(section["max_failure_ratio"])
    if "order" in section:
        order = str(section["order"])
        if order not in ("stop-first", "start-first"):
            raise ConfigError(
                f"expected stop-first or start-first, got {order!r}", key=f"{where}.order"
            )
        config["Order"] = order
    return config


def deploy_options(service: ServiceSpec) -> dict[str, Any]:
    """Keyword arguments for `services.create` from `service.deploy`; raises ConfigError
    naming the first key that cannot be honoured. `labels` are returned apart (the
    service's own labels are merged with flowgate's) under the key "labels"."""
    deploy = service.deploy
    _check_keys(service.name, deploy)
    mode = deploy.get("mode", "replicated")
    if mode != "replicated":
        raise _refuse(
            service.name,
            "mode",
            f"{mode!r} is not supported: a color is a set of replicated instances",
        )
    options: dict[str, Any] = {}
    if deploy.get("labels"):
        labels = deploy["labels"]
        if isinstance(labels, list):
            labels = dict(item.split("=", 1) if "=" in item else (item, "") for item in labels)
        options["labels"] = {str(k): str(v) for k, v in labels.items()}
    if deploy.get("resources"):
        options["resources"] = _resources(service.name, deploy["resources"])
    options["restart_policy"] = _restart_policy(service.name, deploy.get("restart_policy") or {})
    for name in ("update_config", "rollback_config"):
        if deploy.get(name):
            options[name] = _update_config(service.name, name, deploy[name])
    endpoint_mode = deploy.get("endpoint_mode", "dnsrr")
    if endpoint_mode not in ("dnsrr", "vip"):
        raise _refuse(
            service.name, "endpoint_mode", f"expected vip or dnsrr, got {endpoint_mode!r}"
        )
    options["endpoint_mode"] = endpoint_mode
    return options
