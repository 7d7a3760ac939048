"""Options shared by every verb, accepted before or after it (kubectl style).

Each common option stores its value in the click context's `obj`, so
`flowgate -o json status` and `flowgate status -o json` mean the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from flowgate.cli.output import FORMATS, Output

F = TypeVar("F", bound=Callable[..., Any])


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        # Values live on the root context, where every verb reads them.
        if value not in (None, False, 0, ()):
            root = ctx.find_root().ensure_object(dict)
            if name == "verbosity":
                root[name] = root.get(name, 0) + value
            else:
                root[name] = value

    return callback


COMMON = [
    click.option(
        "-C",
        "--project-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_store("project_dir"),
        help="Project folder (default: current folder).",
    ),
    click.option(
        "-f",
        "--compose-path",
        expose_value=False,
        callback=_store("compose_path"),
        help="Compose file, relative to the project folder.",
    ),
    click.option(
        "-p",
        "--project",
        expose_value=False,
        callback=_store("project"),
        help="Project name (default: the folder's name).",
    ),
    click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS),
        expose_value=False,
        callback=_store("output"),
        help="Output format.",
    ),
    click.option(
        "-v",
        "--verbose",
        "verbosity",
        count=True,
        expose_value=False,
        callback=_store("verbosity"),
        help="More progress detail.",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=_store("quiet"),
        help="No progress output.",
    ),
    click.option(
        "--no-color",
        is_flag=True,
        expose_value=False,
        callback=_store("no_color"),
        help="No colors (also NO_COLOR).",
    ),
    click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_store("debug"),
        help="Show tracebacks (also FLOWGATE_DEBUG=1).",
    ),
]


def common_options(func: F) -> F:
    for option in reversed(COMMON):
        func = option(func)
    return func


def target_argument(func: F) -> F:
    return click.argument("target", required=False)(func)


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


def release_flags(func: F) -> F:
    """Docker Flow's release flags: side targets, service paths and scale."""
    func = click.option(
        "--side-target", "side_targets", multiple=True, help="Side target (repeatable)."
    )(func)
    func = click.option(
        "--service-path",
        "service_path",
        multiple=True,
        help="Path the proxy routes to the target (repeatable).",
    )(func)
    return func
