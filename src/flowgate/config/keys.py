"""The configuration keys: file key, environment variable, flag, parser and default.

Docker Flow's keys keep its names (FLOW_*); flowgate's own use the FLOWGATE_ prefix.
Backends declare further keys through the `flowgate_config_keys` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowgate.config.scale import parse_scale


def parse_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)


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
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def parse_port(value: Any) -> int:
    port = parse_int(value)
    if not 0 < port < 65536:
        raise ValueError(f"expected a port between 1 and 65535, got {value!r}")
    return port


def parse_seconds(value: Any) -> float:
    try:
        seconds = float(str(value).strip().rstrip("s"))
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if seconds < 0:
        raise ValueError(f"expected a number of seconds >= 0, got {value!r}")
    return seconds


def parse_list(value: Any) -> list[str]:
    """A YAML list, or a comma-separated string (how env vars carry lists)."""
    if isinstance(value, list):
        return [parse_str(item) for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def parse_scale_text(value: Any) -> str:
    return str(parse_scale(value))


@dataclass(frozen=True)
class Key:
    name: str  # key in flowgate.yml
    parse: Callable[[Any], Any]
    default: Any = None
    env: str | None = None  # environment variable; None: FLOWGATE_<NAME>
    help: str = ""

    @property
    def env_var(self) -> str:
        return self.env or f"FLOWGATE_{self.name.upper()}"


CORE_KEYS: tuple[Key, ...] = (
    # Docker Flow's keys, with its environment variables.
    Key("target", parse_str, None, "FLOW_TARGET", "the Compose service released blue-green"),
    Key("side_targets", parse_list, [], "FLOW_SIDE_TARGETS", "services deployed beside it"),
    Key("blue_green", parse_bool, False, "FLOW_BLUE_GREEN", "`flow`: deploy as a new color"),
    Key("service_path", parse_list, [], "FLOW_SERVICE_PATH", "URL paths the proxy routes"),
    Key("scale", parse_scale_text, None, "FLOW_SCALE", "instances: N, +N or -N"),
    Key("project", parse_str, None, "FLOW_PROJECT", "project name (default: folder name)"),
    Key("compose_path", parse_str, "docker-compose.yml", "FLOW_COMPOSE_PATH", "Compose file"),
    Key("consul_address", parse_str, None, "FLOW_CONSUL_ADDRESS", "Consul HTTP address"),
    Key("proxy_host", parse_str, None, "FLOW_PROXY_HOST", "host of the proxy"),
    Key("proxy_docker_host", parse_str, None, "FLOW_PROXY_DOCKER_HOST", "proxy's Docker host"),
    Key("proxy_reconf_port", parse_port, 8080, "FLOW_PROXY_RECONF_PORT", "proxy API port"),
    Key("host", parse_str, None, "FLOW_HOST", "Docker host (else DOCKER_HOST)"),
    Key("pull_side_targets", parse_bool, False, "FLOW_PULL_SIDE_TARGETS", "pull side images"),
    Key("flow", parse_list, [], "FLOW", "steps of `flowgate flow`"),
    # flowgate's own keys.
    Key("runtime", parse_str, "docker", None, "runtime backend"),
    Key("registry", parse_str, "file", None, "registry backend"),
    Key("proxy", parse_str, "none", None, "proxy backend"),
    Key("proxy_port", parse_port, 80, None, "public listener of the proxy"),
    Key("preview_port", parse_port, 8081, None, "listener serving the new color"),
    Key("service_domain", parse_list, [], None, "domains the proxy routes"),
    Key("publish_address", parse_str, "127.0.0.1", None, "host address ports publish on"),
    Key("tests", parse_list, [], None, "test gate suites"),
    Key("post_tests", parse_list, [], None, "suites run after the switch"),
    Key("pytest_args", parse_str, "", None, "extra pytest arguments"),
    Key("health_timeout", parse_seconds, 60.0, None, "seconds to wait for healthy"),
    Key("drain_timeout", parse_seconds, 2.0, None, "seconds the old color drains"),
    Key("lock_ttl", parse_seconds, 60.0, None, "seconds a release lock lives unrenewed"),
    Key("timeout", parse_seconds, 0.0, None, "seconds a whole release may take (0: none)"),
)
