"""Docker Flow's options (opts.go) and its command-line syntax (go-flags), table-driven.

Each option has one definition: its attribute (also its `docker-flow.yml` key), long and
short flag, `FLOW_*` variable and kind. The parser follows go-flags as Docker Flow used
it: `--name value` and `--name=value`; `-t value`, `-t=value` and `-tvalue`; bool short
flags cluster (`-bS`); a bool flag takes no argument; a list flag repeats, and its first
use on the command line replaces what the file or the environment gave; `--` ends the
flags. flowgate's common flags (`-C`, `-o`, `-v`, `-q`, `--no-color`, `--debug`) are
accepted too, since `flow` receives its arguments untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from flowgate.errors import UsageError


@dataclass(frozen=True)
class Option:
    name: str  # attribute, and the docker-flow.yml key
    long: str
    short: str | None
    kind: str  # "str", "bool", "list" ("count" for -v)
    env: str | None  # FLOW_* variable; None for flowgate's common flags
    help: str
    common: bool = False  # flowgate's own flag, not Docker Flow's
    metavar: str = "TEXT"

    def label(self) -> str:
        """go-flags' name for the flag in its messages: `-t, --target`."""
        return f"-{self.short}, --{self.long}" if self.short else f"--{self.long}"


DOCKER_FLOW_OPTIONS: tuple[Option, ...] = (
    Option("blue_green", "blue-green", "b", "bool", "FLOW_BLUE_GREEN", "Blue-green deployment."),
    Option(
        "cert_path",
        "cert-path",
        None,
        "str",
        "FLOW_CERT_PATH",
        "Docker TLS certificates (else DOCKER_CERT_PATH).",
    ),
    Option(
        "compose_path",
        "compose-path",
        "f",
        "str",
        "FLOW_COMPOSE_PATH",
        "Compose file (default docker-compose.yml).",
    ),
    Option(
        "consul_address",
        "consul-address",
        "c",
        "str",
        "FLOW_CONSUL_ADDRESS",
        "Consul's address: selects the consul registry.",
    ),
    Option(
        "consul_template_be_path",
        "consul-template-be-path",
        None,
        "str",
        "FLOW_CONSUL_TEMPLATE_BE_PATH",
        "Consul Template backend snippet for the proxy.",
    ),
    Option(
        "consul_template_fe_path",
        "consul-template-fe-path",
        None,
        "str",
        "FLOW_CONSUL_TEMPLATE_FE_PATH",
        "Consul Template frontend snippet for the proxy.",
    ),
    Option(
        "flow",
        "flow",
        "F",
        "list",
        "FLOW",
        "Step, repeatable, in order: deploy, scale, stop-old, proxy.",
    ),
    Option("host", "host", "H", "str", "FLOW_HOST", "Docker host (else DOCKER_HOST)."),
    Option(
        "project",
        "project",
        "p",
        "str",
        "FLOW_PROJECT",
        "Project (default: the folder's name, case kept).",
    ),
    Option(
        "proxy_docker_cert_path",
        "proxy-docker-cert-path",
        None,
        "str",
        "FLOW_PROXY_DOCKER_CERT_PATH",
        "TLS certificates of the proxy's Docker host.",
    ),
    Option(
        "proxy_docker_host",
        "proxy-docker-host",
        None,
        "str",
        "FLOW_PROXY_DOCKER_HOST",
        "Docker host that runs the proxy.",
    ),
    Option(
        "proxy_host",
        "proxy-host",
        None,
        "str",
        "FLOW_PROXY_HOST",
        "Docker Flow Proxy's host: selects the docker-flow-proxy proxy.",
    ),
    Option(
        "proxy_reconf_port",
        "proxy-reconf-port",
        None,
        "str",
        "FLOW_PROXY_RECONF_PORT",
        "Docker Flow Proxy's API port (default 8080).",
    ),
    Option(
        "pull_side_targets",
        "pull-side-targets",
        "S",
        "bool",
        "FLOW_PULL_SIDE_TARGETS",
        "Pull the side targets' images too.",
    ),
    Option("scale", "scale", "s", "str", "FLOW_SCALE", "Instances: N, +N or -N."),
    Option(
        "service_path",
        "service-path",
        None,
        "list",
        "FLOW_SERVICE_PATH",
        "Path the proxy routes, repeatable.",
    ),
    Option(
        "side_targets", "side-target", "T", "list", "FLOW_SIDE_TARGETS", "Side target, repeatable."
    ),
    Option("target", "target", "t", "str", "FLOW_TARGET", "The Compose service to deploy."),
    Option(
        "test_compose_path",
        "test-compose-path",
        None,
        "str",
        "FLOW_TEST_COMPOSE_PATH",
        "Accepted, no effect (flowgate's pytest gate replaces it).",
    ),
)

COMMON_OPTIONS: tuple[Option, ...] = (
    Option("project_dir", "project-dir", "C", "str", None, "Project folder.", True),
    Option("output", "output", "o", "str", None, "Output format: table, json, yaml.", True),
    Option("verbosity", "verbose", "v", "count", None, "More progress detail.", True),
    Option("quiet", "quiet", "q", "bool", None, "No progress output.", True),
    Option("no_color", "no-color", None, "bool", None, "No colors (also NO_COLOR).", True),
    Option("debug", "debug", None, "bool", None, "Show tracebacks.", True),
    Option("help", "help", "h", "bool", None, "Show this message and exit.", True),
)

_METAVARS = {
    "compose_path": "FILE",
    "consul_address": "URL",
    "consul_template_be_path": "FILE",
    "consul_template_fe_path": "FILE",
    "flow": "STEP",
    "host": "URL",
    "project": "NAME",
    "proxy_docker_host": "URL",
    "proxy_host": "HOST",
    "proxy_reconf_port": "PORT",
    "scale": "N|+N|-N",
    "service_path": "PATH",
    "side_targets": "TARGET",
    "target": "TARGET",
    "test_compose_path": "FILE",
    "cert_path": "DIR",
    "proxy_docker_cert_path": "DIR",
    "project_dir": "DIR",
    "output": "[table|json|yaml]",
}
DOCKER_FLOW_OPTIONS = tuple(
    replace(o, metavar=_METAVARS.get(o.name, o.metavar)) for o in DOCKER_FLOW_OPTIONS
)
COMMON_OPTIONS = tuple(replace(o, metavar=_METAVARS.get(o.name, o.metavar)) for o in COMMON_OPTIONS)
OUTPUT_FORMATS = ("table", "json", "yaml")
_BY_LONG = {o.long: o for o in (*DOCKER_FLOW_OPTIONS, *COMMON_OPTIONS)}
_BY_SHORT = {o.short: o for o in (*DOCKER_FLOW_OPTIONS, *COMMON_OPTIONS) if o.short}
BY_NAME = {o.name: o for o in DOCKER_FLOW_OPTIONS}


@dataclass
class ParsedArgs:
    """What the command line said: Docker Flow's values, flowgate's common flags, and
    the positional arguments (Docker Flow ignored them; flowgate takes one as target)."""

    values: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    positional: list[str] = field(default_factory=list)

    def set(self, option: Option, value: str | None) -> None:
        store = self.common if option.common else self.values
        if option.kind == "bool":
            store[option.name] = True
        elif option.kind == "count":
            store[option.name] = store.get(option.name, 0) + 1
        elif option.kind == "list":
            assert value is not None
            store.setdefault(option.name, []).append(value)
        else:
            store[option.name] = value


def _looks_like_flag(arg: str) -> bool:
    """go-flags refuses an option as a flag's argument; a negative number is a value."""
    return arg.startswith("-") and len(arg) > 1 and not arg[1:2].isdigit()


def _take_value(option: Option, inline: str | None, rest: list[str]) -> str:
    if inline is not None:
        return inline
    if not rest:
        raise UsageError(f"expected argument for flag `{option.label()}'")
    if _looks_like_flag(rest[0]):
        raise UsageError(
            f"expected argument for flag `{option.label()}', but got option `{rest[0]}'"
        )
    return rest.pop(0)


def _long(arg: str, rest: list[str], parsed: ParsedArgs) -> None:
    name, eq, inline = arg[2:].partition("=")
    option = _BY_LONG.get(name)
    if option is None:
        raise UsageError(f"unknown flag `{name}'")
    if option.kind in ("bool", "count"):
        if eq:
            raise UsageError(f"bool flag `{option.label()}' cannot have an argument")
        parsed.set(option, None)
        return
    parsed.set(option, _take_value(option, inline if eq else None, rest))


def _short(arg: str, rest: list[str], parsed: ParsedArgs) -> None:
    cluster = arg[1:]
    while cluster:
        letter, cluster = cluster[0], cluster[1:]
        option = _BY_SHORT.get(letter)
        if option is None:
            raise UsageError(f"unknown flag `{letter}'")
        if option.kind in ("bool", "count"):
            if cluster.startswith("="):
                raise UsageError(f"bool flag `{option.label()}' cannot have an argument")
            parsed.set(option, None)
            continue
        # `-t=app` (go-flags splits on '=' right after the letter) or `-tapp`.
        inline = cluster[1:] if cluster.startswith("=") else (cluster or None)
        parsed.set(option, _take_value(option, inline, rest))
        return


def parse_args(args: list[str]) -> ParsedArgs:
    """Parse Docker Flow's command line; a bad flag raises UsageError (exit 2)."""
    parsed = ParsedArgs()
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            parsed.positional.extend(rest)
            break
        if arg.startswith("--"):
            _long(arg, rest, parsed)
        elif arg.startswith("-") and len(arg) > 1:
            _short(arg, rest, parsed)
        else:
            parsed.positional.append(arg)
    output = parsed.common.get("output")
    if output is not None and output not in OUTPUT_FORMATS:
        raise UsageError(
            f"invalid value for `-o, --output': {output!r} (one of {', '.join(OUTPUT_FORMATS)})"
        )
    return parsed


def help_text() -> str:
    lines = [
        "Usage: flowgate flow [OPTIONS] [TARGET]",
        "",
        "Docker Flow's command line: its flags, FLOW_* variables and docker-flow.yml.",
        "",
        "Docker Flow options:",
    ]
    for option in DOCKER_FLOW_OPTIONS:
        value = "" if option.kind == "bool" else f" {option.metavar}"
        lines.append(f"  {option.label() + value:<40} {option.help} [{option.env}]")
    lines += ["", "flowgate options:"]
    for option in COMMON_OPTIONS:
        value = "" if option.kind in ("bool", "count") else f" {option.metavar}"
        lines.append(f"  {option.label() + value:<40} {option.help}")
    return "\n".join(lines)
