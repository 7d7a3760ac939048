"""`flowgate scale [TARGET] SPEC`: N, +N or -N instances of the live color."""

from __future__ import annotations

from typing import Annotated

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import output, verb_app
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import UsageError

app = verb_app()


@app.command(context_settings={"ignore_unknown_options": True})
def scale(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TARGET] SPEC",
            help="The target (default: `target:`) and N, +N or -N (`-N` needs no `--`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Scale the live color to N, or by +N / -N (never below 1); the proxy follows."""
    if args is None or len(args) not in (1, 2):
        raise UsageError("usage: flowgate scale [TARGET] N|+N|-N")
    target, text = (None, args[0]) if len(args) == 1 else args
    try:
        spec = parse_scale(text)
    except ValueError as err:
        raise UsageError(f"scale: {err}") from None
    context = open_project(target)
    before = context.state.scale
    Engine(context).scale(spec)
    live = context.state.live_color
    if spec.below_floor(before):
        output().warning(f"scale {spec}: a live color keeps at least 1 instance; scaled to 1")
    color_result(
        output(), context, None, live, f"{context.target}: {live} scaled to {context.state.scale}"
    )
