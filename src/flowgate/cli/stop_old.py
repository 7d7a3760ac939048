"""`flowgate stop-old`: stop the color that is not live (kept for rollback)."""

from __future__ import annotations

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.engine.runner import Engine

app = verb_app()


@app.command("stop-old")
def stop_old(target: Target = None) -> None:
    """Stop the color that is not live; its containers stay for a rollback."""
    context = open_project(target)
    stopped = Engine(context).stop_old()
    message = f"stopped {stopped}" if stopped else "nothing to stop: the other color is not running"
    output().data({"stopped": str(stopped) if stopped else None}, message)
