"""`flowgate rollback`: bring the release that was live before back and switch to it."""

from __future__ import annotations

from typing import Annotated

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, Timeout, output, verb_app
from flowgate.cli.render import color_result
from flowgate.engine.runner import Engine

app = verb_app()

To = Annotated[
    str | None,
    typer.Option(
        "--to",
        metavar="RELEASE",
        help="Bring back this release (an id from `flowgate history` that went live).",
        show_default=False,
    ),
]


@app.command()
def rollback(target: Target = None, timeout: Timeout = None, to: To = None) -> None:
    """Bring back the release live before (its warm copy, else re-created from its record),
    switch the proxy to it, stop the other color."""
    context = open_project(target)
    release = Engine(context).rollback(timeout, to)
    live = context.state.live_color
    what = f"release {release.restores}" if release.restores else str(live)
    color_result(
        output(), context, release, live, f"{context.target}: rolled back to {what} ({live})"
    )
