"""From Docker Flow's options to flowgate's settings: which values become flags, which
backends `flow` uses, and the names Docker Flow gave things.

- A Docker Flow value from a flag or a `FLOW_*` variable always wins. One from
  `docker-flow.yml` (or Docker's DOCKER_HOST / DOCKER_CERT_PATH fallbacks) yields to the
  same key in `flowgate.yml`, which sits beside it for what Docker Flow had no word for.
- Backends, as in Docker Flow: a Consul address selects the `consul` registry and a proxy
  host the `docker-flow-proxy` proxy, unless `flowgate.yml` (or FLOWGATE_REGISTRY /
  FLOWGATE_PROXY) names that backend explicitly.
- Names: Docker Flow's service is `<project>-<target>` with the project as given, case
  kept (its Consul keys `docker-flow/<service>/...`); Docker objects use the project
  normalised as Compose does (lowercase), as docker-compose did under Docker Flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowgate.config.names import docker_name_problem
from flowgate.dockerflow.files import flowgate_file_keys
from flowgate.dockerflow.flags import DOCKER_FLOW_OPTIONS
from flowgate.dockerflow.options import DOCKER_FLOW_FILE, DockerFlowOptions, option_error
from flowgate.errors import ConfigError

#: Docker Flow options flowgate's settings know by the same name.
SETTINGS = (
    "target",
    "side_targets",
    "blue_green",
    "service_path",
    "scale",
    "compose_path",
    "consul_address",
    "proxy_host",
    "proxy_docker_host",
    "proxy_reconf_port",
    "host",
    "pull_side_targets",
    "flow",
    "cert_path",
    "proxy_docker_cert_path",
    "consul_template_fe_path",
    "consul_template_be_path",
    "test_compose_path",
)
_WEAK_SOURCES = {DOCKER_FLOW_FILE, "DOCKER_HOST", "DOCKER_CERT_PATH"}


def compose_project(raw: str) -> str:
    """The project as docker-compose normalised it for container names."""
    name = re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")
    if not name:
        raise ConfigError(f"cannot derive a Docker project name from {raw!r}", key="project")
    return name


def service_name(options: DockerFlowOptions, target: str) -> str:
    """Docker Flow's service name, `<project>-<target>`, the project's case kept."""
    project = str(options.project)
    problem = docker_name_problem(project)
    if problem:
        raise option_error(options, "project", problem)
    return f"{project}-{target}"


def settings_flags(
    options: DockerFlowOptions, project_dir: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """The settings `flow` passes on as flags (highest precedence)."""
    in_flowgate_file = flowgate_file_keys(project_dir)
    flags: dict[str, Any] = {}
    for name in SETTINGS:
        source = options.sources.get(name, "default")
        if source == "default" and name not in ("proxy_reconf_port", "flow"):
            continue
        if source in _WEAK_SOURCES and name in in_flowgate_file:
            continue
        value = options.values[name]
        if value in ("", [], None):
            continue
        flags[name] = value
    flags["project"] = compose_project(str(options.project))
    flags["pull"] = True  # Docker Flow's deploy pulled the target's image first
    if not options.blue_green and "color_names" not in in_flowgate_file:
        flags["color_names"] = False  # the target under its own name, as Compose names it
    explicit = in_flowgate_file | {
        kind for kind in ("registry", "proxy") if env.get(f"FLOWGATE_{kind.upper()}", "")
    }
    if options.consul_address and "registry" not in explicit:
        flags["registry"] = "consul"
    if options.proxy_host and "proxy" not in explicit:
        flags["proxy"] = "docker-flow-proxy"
    return flags


def settings_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment flowgate's own loader sees: Docker Flow's variables are already
    resolved here, with Docker Flow's rules, so they are left out."""
    ours = {option.env for option in DOCKER_FLOW_OPTIONS}
    return {key: value for key, value in env.items() if key not in ours and key != "DOCKER_HOST"}
