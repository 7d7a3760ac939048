"""`flowgate scale [TARGET] SPEC`: N, +N or -N instances of the live color."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import UsageError


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[TARGET] SPEC")
@common_options
def scale(args: tuple[str, ...]) -> None:
    """Scale the live color to N, or by +N / -N (never below 1); the proxy follows."""
    if len(args) not in (1, 2):
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
