"""`flowgate rollback`: bring the previous (stopped, warm) color back and switch to it."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, target_argument
from flowgate.cli.render import color_result
from flowgate.engine.runner import Engine


@click.command()
@target_argument
@click.option("--timeout", type=float, help="Seconds the rollback may take.")
@common_options
def rollback(target: str | None, timeout: float | None) -> None:
    """Start the previous color again, switch the proxy to it, stop the other."""
    context = open_project(target)
    release = Engine(context).rollback(timeout)
    live = context.state.live_color
    color_result(output(), context, release, live, f"{context.target}: rolled back to {live}")
