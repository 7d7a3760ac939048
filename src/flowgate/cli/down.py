"""`flowgate down`: remove a target's colors, side targets, networks, routes (and state)."""

from __future__ import annotations

from typing import Annotated

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.engine.runner import Engine

app = verb_app()


@app.command()
def down(
    target: Target = None,
    keep_state: Annotated[
        bool, typer.Option("--keep-state", help="Keep the state and release history.")
    ] = False,
) -> None:
    """Remove the target's colors, the side targets flowgate started, the project's
    networks and its proxy routes (the shared HAProxy stops when no service is left);
    with --keep-state the history stays. Refused while a release is in flight."""
    # The proxy is not checked: down must work when the proxy could not start again.
    context = open_project(target, check=False)
    context.registry.check()
    context.runtime.check()
    result = Engine(context).down(keep_state)
    parts = [f"colors {', '.join(result.removed)}" if result.removed else "no color running"]
    if result.side_targets:
        parts.append(f"side targets {', '.join(result.side_targets)}")
    parts.append("state kept" if keep_state else "state forgotten")
    output().data(
        {
            "service": result.service,
            "removed_colors": result.removed,
            "side_targets": result.side_targets,
            "kept_state": keep_state,
        },
        f"down: {result.service} removed ({'; '.join(parts)})",
    )
