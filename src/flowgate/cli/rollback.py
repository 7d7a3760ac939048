"""`flowgate rollback`: bring the previous (stopped, warm) color back and switch to it."""

from __future__ import annotations

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, Timeout, output, verb_app
from flowgate.cli.render import color_result
from flowgate.engine.runner import Engine

app = verb_app()


@app.command()
def rollback(target: Target = None, timeout: Timeout = None) -> None:
    """Start the previous color again, switch the proxy to it, stop the other."""
    context = open_project(target)
    release = Engine(context).rollback(timeout)
    live = context.state.live_color
    color_result(output(), context, release, live, f"{context.target}: rolled back to {live}")
