"""`flowgate history`: past releases with outcome, duration and test counts."""

from __future__ import annotations

from typing import Annotated

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.cli.output import render_table
from flowgate.engine.status import history as release_history

app = verb_app()


@app.command()
def history(
    target: Target = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N releases.")] = 20,
) -> None:
    """List past releases, newest first."""
    context = open_project(target, check=False)
    context.registry.check()  # history only reads the registry: no engine or proxy needed
    releases = release_history(context, limit)
    rows = []
    for r in releases:
        tests = r["tests"]
        counts = f"{tests['passed']}/{tests['passed'] + tests['failed']}" if tests else "-"
        duration = f"{r['duration']:.1f}s" if r["duration"] is not None else "-"
        rows.append(
            [
                r["id"],
                r["kind"],
                r["color"],
                # A finished release's state stays what it reached ("live" long after it was
                # replaced); its outcome is the news. Unfinished ones show where they stand.
                r["outcome"] or r["state"],
                duration,
                counts,
                r["started"],
            ]
        )
    output().data(
        releases,
        render_table(["release", "kind", "color", "outcome", "duration", "tests", "started"], rows),
    )
