"""Options shared by every verb, accepted before or after it (kubectl style).

The common options are declared once, as typer options of `common()`; the root command
and every verb carry them. Each stores its value on the root context's `obj`, so
`flowgate -o json status` and `flowgate status -o json` mean the same.
"""

from __future__ import annotations

import enum
import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from flowgate.cli.complete import complete_target
from flowgate.cli.output import Output


class Format(enum.StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _store(name: str) -> Any:
    def callback(ctx: click.Context, value: Any) -> None:
        # Values live on the root context, where every verb reads them.
        if value in (None, False, 0, ()):
            return
        root = ctx.find_root().ensure_object(dict)
        if name == "verbosity":
            root[name] = root.get(name, 0) + value
        else:
            root[name] = value.value if isinstance(value, enum.Enum) else value

    return callback


def common(
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "-C",
            "--project-dir",
            file_okay=False,
            expose_value=False,
            callback=_store("project_dir"),
            help="Project folder (default: current folder).",
            show_default=False,
        ),
    ] = None,
    compose_path: Annotated[
        str | None,
        typer.Option(
            "-f",
            "--compose-path",
            expose_value=False,
            callback=_store("compose_path"),
            help="Compose file, relative to the project folder.",
            show_default=False,
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--project",
            expose_value=False,
            callback=_store("project"),
            help="Project name (default: the folder's name).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Format | None,
        typer.Option(
            "-o",
            "--output",
            expose_value=False,
            callback=_store("output"),
            help="Output format (default: table).",
            show_default=False,
        ),
    ] = None,
    verbosity: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_store("verbosity"),
            help="More progress detail.",
            show_default=False,
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option(
            "-q",
            "--quiet",
            expose_value=False,
            callback=_store("quiet"),
            help="No progress output.",
        ),
    ] = False,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color",
            expose_value=False,
            callback=_store("no_color"),
            help="No colors (also NO_COLOR).",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            expose_value=False,
            callback=_store("debug"),
            help="Show tracebacks (also FLOWGATE_DEBUG=1).",
        ),
    ] = False,
) -> None:
    """The root command's callback: the options did their work in their callbacks."""


@cache
def _common_command() -> click.Command:
    app = typer.Typer(add_completion=False, rich_markup_mode=None)
    app.command()(common)
    return typer.main.get_command(app)


def common_params() -> list[click.Parameter]:
    """Fresh click parameters for the common options, to add to a verb's command."""
    return list(_common_command().params)


# A verb that takes its arguments raw (`flow`, PATH plugins) gets these context settings:
# no option parsing and no --help of typer's; the verb parses them itself.
RAW_ARGS: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": [],
}


def verb_app() -> typer.Typer:
    """The typer application a verb module registers its one command on."""
    return typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


# Argument and option types several verbs share.
Target = Annotated[
    str | None,
    typer.Argument(
        help="The Compose service (default: `target:` in flowgate.yml).",
        show_default=False,
        autocompletion=complete_target,
    ),
]
SideTargets = Annotated[
    list[str] | None,
    typer.Option("--side-target", help="Side target (repeatable).", show_default=False),
]
ServicePaths = Annotated[
    list[str] | None,
    typer.Option(
        "--service-path",
        help="Path the proxy routes to the target (repeatable).",
        show_default=False,
    ),
]
Scale = Annotated[
    str | None,
    typer.Option(
        "--scale", help="Instances: N, +N or -N relative to the live color.", show_default=False
    ),
]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Seconds it may take.")]
Suites = Annotated[
    list[str] | None,
    typer.Option(
        "--tests", help="Test gate suite (repeatable; also `tests:`).", show_default=False
    ),
]
PostSuites = Annotated[
    list[str] | None,
    typer.Option(
        "--post-tests",
        help="Suite run against the live route after the switch (repeatable).",
        show_default=False,
    ),
]
PytestArgs = Annotated[
    str | None,
    typer.Option("--pytest-args", help="Extra arguments for pytest, as one string."),
]
KeepFailed = Annotated[
    bool, typer.Option("--keep-failed", help="Keep a new color that failed, to debug it.")
]


def root_obj() -> dict[str, Any]:
    return click.get_current_context().find_root().ensure_object(dict)


def output() -> Output:
    obj = root_obj()
    verbosity = -1 if obj.get("quiet") else obj.get("verbosity", 0)
    return Output.create(obj.get("output") or "table", verbosity, bool(obj.get("no_color")))


def project_dir() -> Path:
    return Path(root_obj().get("project_dir") or os.getcwd()).resolve()


def config_flags(**extra: Any) -> dict[str, Any]:
    """Settings given on the command line, by their configuration key names."""
    obj = root_obj()
    flags = {key: obj.get(key) for key in ("compose_path", "project")}
    flags.update(extra)
    return {key: value for key, value in flags.items() if value not in (None, (), [])}
