"""Read the subset of a Compose file a release needs, without docker-compose.

Interpolation follows Compose: `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
`${VAR:?message}`, `$VAR` and `$$` for a literal dollar; values come from the environment,
then the project's `.env` file. Keys outside the supported subset are reported once in
`ComposeFile.ignored`, never dropped silently.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowgate.config.interpolation import interpolate, read_dotenv
from flowgate.config.settings import read_yaml_mapping
from flowgate.config.values import MAX_SCALE, MAX_SECONDS
from flowgate.errors import ConfigError

SERVICE_KEYS = frozenset(
    {
        "image",
        "build",
        "command",
        "entrypoint",
        "environment",
        "env_file",
        "ports",
        "expose",
        "labels",
        "healthcheck",
        "depends_on",
        "container_name",
        "networks",
        "volumes",
        "deploy",
    }
)
#: Keys that change how a container runs, beyond SERVICE_KEYS. They are kept, raw, in
#: `ServiceSpec.options`; a runtime honours each one or refuses it by name
#: (`Runtime.check_service`), never drops it silently.
RUNTIME_KEYS = frozenset(
    """
    annotations blkio_config cap_add cap_drop cgroup cgroup_parent configs cpu_count
    cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset
    credential_spec device_cgroup_rules devices dns dns_opt dns_search domainname
    external_links extra_hosts group_add hostname init ipc isolation links logging
    mac_address mem_limit mem_reservation mem_swappiness memswap_limit network_mode
    oom_kill_disable oom_score_adj pid pids_limit platform privileged read_only restart
    runtime secrets security_opt shm_size stdin_open stop_grace_period stop_signal
    storage_opt sysctls tmpfs tty ulimits user userns_mode uts volumes_from working_dir
    """.split()  # noqa: SIM905 (one word per key, kept compact)
)
TOP_LEVEL_KEYS = frozenset({"version", "name", "services", "networks", "volumes"})

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Healthcheck:
    test: list[str]
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = 3
    start_period: float = 0.0


@dataclass(frozen=True)
class Build:
    context: Path
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)  # container ports: "8080/tcp"
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    healthcheck_disabled: bool = False
    depends_on: list[str] = field(default_factory=list)
    container_name: str | None = None
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    replicas: int | None = None
    placement: list[str] = field(default_factory=list)
    #: The whole Compose `deploy` mapping as written (interpolated): the swarm runtime
    #: honours or refuses each key (flowgate.backends.runtime.swarm_deploy).
    deploy: dict[str, Any] = field(default_factory=dict)
    #: RUNTIME_KEYS given for the service, as written (interpolated).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def main_port(self) -> str | None:
        """The port the proxy and the health probe use: the first one listed."""
        return self.ports[0] if self.ports else None


@dataclass(frozen=True)
class ComposeFile:
    path: Path
    services: dict[str, ServiceSpec]
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def service(self, name: str) -> ServiceSpec:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            raise ConfigError(
                f"unknown target {name!r} (services: {known})", source=self.path.name
            ) from None


def parse_duration(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= MAX_SECONDS:  # also refuses nan
            raise ConfigError(
                f"expected a duration from 0 to {MAX_SECONDS:g}s, got {value!r}", source=where
            )
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"expected a duration like 5s or 1m30s, got {value!r}", source=where)
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def load_compose(path: Path, env: Mapping[str, str]) -> ComposeFile:
    """Parse and interpolate a Compose file; errors name the file, service and key."""
    if not path.is_file():
        raise ConfigError(f"Compose file not found: {path}")
    variables = {**read_dotenv(path.parent / ".env"), **env}
    raw = interpolate(read_yaml_mapping(path), variables, path.name)
    ignored = [f"{key} (top level)" for key in raw if key not in TOP_LEVEL_KEYS]
    services_raw = raw.get("services")
    if not isinstance(services_raw, dict) or not services_raw:
        raise ConfigError("no services defined", source=path.name, key="services")
    services = {}
    for name, body in services_raw.items():
        where = f"{path.name}: services.{name}"
        if not isinstance(body, dict):
            raise ConfigError("expected a mapping", source=where)
        ignored += [
            f"services.{name}.{key}"
            for key in body
            if key not in SERVICE_KEYS and key not in RUNTIME_KEYS
        ]
        try:
            services[str(name)] = _service(str(name), body, path.parent, where)
        except (TypeError, ValueError, AttributeError, KeyError) as err:
            # The checks below name the key; this net keeps any value they missed a
            # one-line configuration error instead of a traceback.
            raise ConfigError(
                f"invalid value ({type(err).__name__}: {err})", source=where
            ) from None
    return ComposeFile(
        path=path,
        services=services,
        networks=_names(raw.get("networks")),
        volumes=_names(raw.get("volumes")),
        ignored=ignored,
    )


def _words(value: Any, where: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            raise ConfigError(f"cannot split {value!r} into words: {err}", source=where) from None
    if isinstance(value, list) and all(not isinstance(i, (dict, list)) for i in value):
        return [str(item) for item in value]
    raise ConfigError("expected a string or a list of strings", source=where)


def _mapping(value: Any, where: str) -> dict[str, str]:
    """Compose's two spellings: a mapping, or a list of KEY=VALUE."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    if isinstance(value, list):
        pairs = (str(item).partition("=") for item in value)
        return {key: val for key, _, val in pairs}
    raise ConfigError("expected a mapping or a list of KEY=VALUE", source=where)


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, (list, dict)) else [str(value)]


def _networks(value: Any, where: str) -> list[str]:
    """Network names; per-network options (aliases, addresses) are refused, not dropped."""
    if isinstance(value, dict):
        for name, options in value.items():
            if options:
                keys = ", ".join(options) if isinstance(options, dict) else str(options)
                raise ConfigError(
                    f"per-network options are not supported ({keys}); remove them",
                    source=where,
                    key=f"networks.{name}",
                )
    return _names(value)


def _volume(value: Any, where: str) -> str:
    """Compose's short syntax as is; the long syntax (bind or volume) turned into it."""
    if not isinstance(value, dict):
        return str(value)
    kind, target = value.get("type", "volume"), value.get("target")
    extra = set(value) - {"type", "source", "target", "read_only"}
    if kind not in ("bind", "volume") or not target or extra:
        what = ", ".join(sorted(extra)) if extra else f"type {kind}"
        raise ConfigError(f"not supported in a volume: {what}", source=where, key="volumes")
    source = value.get("source")
    parts = [str(source), str(target)] if source else [str(target)]
    if value.get("read_only") and source:
        parts.append("ro")
    return ":".join(parts)


def _list(value: Any, where: str, key: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"expected a list, got {type(value).__name__}", source=where, key=key)
    return value


def _text(value: Any, where: str, key: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)) or "\n" in str(value) or "\x00" in str(value):
        raise ConfigError(f"expected one line of text, got {value!r}", source=where, key=key)
    return str(value)


def _port(value: Any, where: str) -> str:
    """The container side of a Compose port; the host port is always Docker's choice."""
    if isinstance(value, dict):
        target, protocol = str(value.get("target")), str(value.get("protocol", "tcp"))
    else:
        text, _, protocol = str(value).partition("/")
        target = text.rsplit(":", 1)[-1]
        protocol = protocol or "tcp"
    if (
        not target.isascii()
        or not target.isdigit()
        or len(target) > 5
        or not 0 < int(target) < 65536
        or protocol not in ("tcp", "udp", "sctp")
    ):
        raise ConfigError(
            f'invalid port {value!r}: expected a container port such as "8080", '
            '"8080/udp" or "127.0.0.1::8080"',
            source=where,
            key="ports",
        )
    return f"{int(target)}/{protocol}"


def _port_list(body: dict[str, Any], key: str, where: str) -> list[Any]:
    """`ports:` / `expose:` must be lists: a bare `"8080"` would be read character by
    character (and once failed as `invalid port '0'`)."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(
            f"expected a list, got {value!r} (write `{key}: [{str(value)!r}]`)",
            source=where,
            key=key,
        )
    return value


def _healthcheck(value: Any, where: str) -> Healthcheck | None:
    if not isinstance(value, dict):
        raise ConfigError("expected a mapping", source=where, key="healthcheck")
    if value.get("disable"):
        return None
    test = value.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test:
        raise ConfigError("test: expected a string or a list", source=where, key="healthcheck")
    here = f"{where}.healthcheck"
    retries = value.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 10000:
        raise ConfigError(f"retries: expected a count, got {retries!r}", source=here)
    return Healthcheck(
        test=[str(word) for word in test],
        interval=parse_duration(value.get("interval", "30s"), here),
        timeout=parse_duration(value.get("timeout", "30s"), here),
        retries=retries,
        start_period=parse_duration(value.get("start_period", "0s"), here),
    )


def _build(value: Any, base: Path) -> Build:
    if isinstance(value, dict):
        return Build(
            context=(base / str(value.get("context", "."))).resolve(),
            dockerfile=str(value.get("dockerfile", "Dockerfile")),
            args=_mapping(value.get("args"), "build.args"),
        )
    return Build(context=(base / str(value)).resolve())


def _service(name: str, body: dict[str, Any], base: Path, where: str) -> ServiceSpec:
    if not body.get("image") and not body.get("build"):
        raise ConfigError("needs an image or a build", source=where)
    environment: dict[str, str] = {}
    for env_file in _names(body.get("env_file")):
        env_path = base / env_file
        if not env_path.is_file():
            raise ConfigError(f"env_file not found: {env_file}", source=where)
        environment.update(read_dotenv(env_path))
    environment.update(_mapping(body.get("environment"), where))
    ports = [_port(p, where) for p in _port_list(body, "ports", where)]
    exposed = [_port(p, where) for p in _port_list(body, "expose", where)]
    ports += [port for port in exposed if port not in ports]
    deploy = body.get("deploy") or {}
    if not isinstance(deploy, dict) or not isinstance(deploy.get("placement") or {}, dict):
        raise ConfigError("expected a mapping", source=where, key="deploy")
    replicas = deploy.get("replicas")
    if replicas is not None and (
        not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 < replicas <= MAX_SCALE
    ):
        raise ConfigError(
            f"replicas: expected 1 to {MAX_SCALE}, got {replicas!r}", source=where, key="deploy"
        )
    health_raw = body.get("healthcheck")
    return ServiceSpec(
        name=name,
        image=_text(body.get("image"), where, "image"),
        build=_build(body["build"], base) if body.get("build") else None,
        command=_words(body.get("command"), where),
        entrypoint=_words(body.get("entrypoint"), where),
        environment=environment,
        ports=ports,
        labels=_mapping(body.get("labels"), where),
        healthcheck=_healthcheck(health_raw, where) if health_raw is not None else None,
        healthcheck_disabled=bool(isinstance(health_raw, dict) and health_raw.get("disable")),
        depends_on=_names(body.get("depends_on")),
        container_name=_text(body.get("container_name"), where, "container_name"),
        networks=_networks(body.get("networks"), where),
        volumes=[_volume(v, where) for v in _list(body.get("volumes"), where, "volumes")],
        replicas=replicas,
        placement=[str(c) for c in _names((deploy.get("placement") or {}).get("constraints"))],
        deploy=dict(deploy) if isinstance(deploy, dict) else {},
        options={key: value for key, value in body.items() if key in RUNTIME_KEYS},
    )
