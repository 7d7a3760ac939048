"""Docker Flow's settings, resolved as Docker Flow resolved them (opts.go: GetOpts).

Layers, lowest first: defaults (`compose_path: docker-compose.yml`, `flow: [deploy]`),
`docker-flow.yml`, `FLOW_*` variables, flags. Then Docker Flow's processing: the project
defaults to the folder's name (case kept), the target is required, the scale must be a
number, `+N` or `-N`, the reconfigure port defaults to 8080, `host` falls back to
DOCKER_HOST and `cert_path` to DOCKER_CERT_PATH. An empty variable counts as unset.

Where Docker Flow was silent about a mistake, flowgate says so: an unknown
`docker-flow.yml` key is a warning (Docker Flow ignored it), an unknown step is an error
(Docker Flow skipped it), the test compose path and the `test` step are accepted with a
warning that they have no effect.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowgate.dockerflow.files import flowgate_file_keys
from flowgate.dockerflow.flags import BY_NAME, DOCKER_FLOW_OPTIONS, Option, ParsedArgs
from flowgate.errors import ConfigError, UsageError

DOCKER_FLOW_FILE = "docker-flow.yml"
STEPS = ("deploy", "scale", "stop-old", "proxy")
DEFAULT_RECONF_PORT = "8080"
_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_SCALE = re.compile(r"^[+-]?\d+$")


@dataclass
class DockerFlowOptions:
    """Docker Flow's resolved options; `sources` names where each came from ("--scale",
    "FLOW_SCALE", "docker-flow.yml", "DOCKER_HOST" or "default")."""

    values: dict[str, Any]
    sources: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    common: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option in DOCKER_FLOW_OPTIONS:
        values[option.name] = (
            False if option.kind == "bool" else [] if option.kind == "list" else ""
        )
    values["compose_path"] = "docker-compose.yml"
    values["flow"] = ["deploy"]
    return values


# -- docker-flow.yml ----------------------------------------------------------------------


def _yml_value(option: Option, raw: Any) -> Any:
    if option.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw)
        if text in _GO_TRUE or text.lower() in ("yes", "on", "y"):
            return True
        if text in _GO_FALSE or text.lower() in ("no", "off", "n"):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if option.kind == "list":
        items = raw if isinstance(raw, list) else [raw]
        if any(isinstance(item, (dict, list)) for item in items):
            raise ValueError("expected a list of strings")
        return [str(item) for item in items if item is not None and str(item) != ""]
    if isinstance(raw, (dict, list)):
        raise ValueError(f"expected a string, got a {type(raw).__name__}")
    return "" if raw is None else str(raw)


def read_docker_flow_yml(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The file's values by option name, and warnings for keys Docker Flow did not know.

    A missing file is no error (Docker Flow's neither); malformed YAML is."""
    from flowgate.config.settings import read_yaml_mapping

    if not path.is_file():
        return {}, []
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for key, raw in read_yaml_mapping(path).items():
        option = BY_NAME.get(str(key))
        if option is None:
            warnings.append(
                f"{path.name}: unknown key {key!r} ignored (Docker Flow ignored it too)"
            )
            continue
        if raw is None:
            continue
        try:
            values[option.name] = _yml_value(option, raw)
        except ValueError as err:
            raise ConfigError(str(err), source=path.name, key=option.name) from None
    return values, warnings


# -- FLOW_* variables ---------------------------------------------------------------------


def read_flow_env(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Docker Flow's variables (envconfig with the `flow` prefix); empty counts as unset.
    Lists are comma-separated. Bools take Go's spellings (1, t, true, 0, f, false ...)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in DOCKER_FLOW_OPTIONS:
        assert option.env is not None
        raw = env.get(option.env, "").strip()
        if not raw:
            continue
        if option.kind == "bool":
            if raw not in _GO_TRUE | _GO_FALSE:
                raise ConfigError(f"expected true or false, got {raw!r}", source=option.env)
            values[option.name] = raw in _GO_TRUE
        elif option.kind == "list":
            values[option.name] = [item.strip() for item in raw.split(",") if item.strip()]
        else:
            values[option.name] = raw
        sources[option.name] = option.env
    return values, sources


# -- resolution ---------------------------------------------------------------------------


def resolve(
    project_dir: Path,
    parsed: ParsedArgs,
    env: Mapping[str, str],
) -> DockerFlowOptions:
    """Merge file, variables and flags as Docker Flow did, then check and complete them."""
    values = _defaults()
    sources = dict.fromkeys(values, "default")
    file_values, warnings = read_docker_flow_yml(project_dir / DOCKER_FLOW_FILE)
    values.update(file_values)
    sources.update(dict.fromkeys(file_values, DOCKER_FLOW_FILE))
    env_values, env_sources = read_flow_env(env)
    values.update(env_values)
    sources.update(env_sources)
    for name, value in parsed.values.items():
        values[name] = value
        sources[name] = "--" + BY_NAME[name].long

    if len(parsed.positional) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(parsed.positional[1:])}")
    if parsed.positional:
        if parsed.values.get("target"):
            raise UsageError("name the target once: as an argument or with -t/--target")
        values["target"], sources["target"] = parsed.positional[0], "argument"

    options = DockerFlowOptions(values, sources, warnings, dict(parsed.common))
    _process(options, project_dir, env)
    return options


def option_error(options: DockerFlowOptions, name: str, message: str) -> Exception:
    """A bad flag is a usage error (exit 2); a bad file or variable a config error (4)."""
    source = options.sources.get(name, "default")
    if source.startswith("--") or source == "argument":
        return UsageError(f"{source}: {message}")
    if source == DOCKER_FLOW_FILE:
        return ConfigError(message, source=source, key=name)
    return ConfigError(message, source=source)


def _process(options: DockerFlowOptions, project_dir: Path, env: Mapping[str, str]) -> None:
    """Docker Flow's ProcessOpts, minus its Consul look-up (the registry does that)."""
    values, sources = options.values, options.sources
    if not values["project"]:
        values["project"], sources["project"] = project_dir.name, "default"
    if not values["target"] and "target" not in flowgate_file_keys(project_dir):
        raise ConfigError(
            "target is required: -t/--target, FLOW_TARGET or `target:` in docker-flow.yml"
        )
    if values["scale"] and not _SCALE.match(values["scale"]):
        raise option_error(options, "scale", f"expected N, +N or -N, got {values['scale']!r}")
    if not values["proxy_reconf_port"]:
        values["proxy_reconf_port"] = DEFAULT_RECONF_PORT
    port = values["proxy_reconf_port"]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise option_error(options, "proxy_reconf_port", f"expected a port, got {port!r}")
    for name, variable in (("host", "DOCKER_HOST"), ("cert_path", "DOCKER_CERT_PATH")):
        if not values[name] and env.get(variable, ""):
            values[name], sources[name] = env[variable], variable
    values["service_path"] = [path for path in values["service_path"] if path]
    values["flow"] = _steps(options)
    _templates(options, project_dir)
    if values["test_compose_path"]:
        options.warnings.append(
            f"{sources['test_compose_path']}: the test compose path has no effect: "
            "flowgate's pytest gate replaces Docker Flow's tests (flowgate release --tests)"
        )


def _steps(options: DockerFlowOptions) -> list[str]:
    """Step names in any case, as Docker Flow lowercased them; empty means deploy."""
    steps: list[str] = []
    for raw in options.values["flow"]:
        step = raw.strip().lower()
        if step == "test" or step.startswith("test:"):
            options.warnings.append(
                f"step {raw!r} has no effect (Docker Flow never implemented it): "
                "flowgate's test gate runs with `flowgate release --tests`"
            )
            continue
        if step not in STEPS:
            raise option_error(options, "flow", f"unknown step {raw!r} (steps: {', '.join(STEPS)})")
        steps.append(step)
    return steps or (["deploy"] if not options.values["flow"] else [])


def _templates(options: DockerFlowOptions, project_dir: Path) -> None:
    """Consul Template snippets: both paths or neither, each readable (Docker Flow read
    them up front and failed when one could not be loaded)."""
    fe, be = options.values["consul_template_fe_path"], options.values["consul_template_be_path"]
    if not fe and not be:
        return
    if not (fe and be):
        given, missing = ("fe", "be") if fe else ("be", "fe")
        raise option_error(
            options,
            f"consul_template_{given}_path",
            f"consul_template_{missing}_path is needed too (the proxy takes both snippets)",
        )
    for name in ("consul_template_fe_path", "consul_template_be_path"):
        path = project_dir / options.values[name]
        if not path.is_file():
            raise option_error(
                options, name, f"Consul Template {options.values[name]} could not be loaded"
            )
