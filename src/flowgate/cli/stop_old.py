"""`flowgate stop-old`: stop the color that is not live (kept for rollback)."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, target_argument
from flowgate.engine.runner import Engine


@click.command(name="stop-old")
@target_argument
@common_options
def stop_old(target: str | None) -> None:
    """Stop the color that is not live; its containers stay for a rollback."""
    context = open_project(target)
    stopped = Engine(context).stop_old()
    message = f"stopped {stopped}" if stopped else "nothing to stop: the other color is not running"
    output().data({"stopped": str(stopped) if stopped else None}, message)
