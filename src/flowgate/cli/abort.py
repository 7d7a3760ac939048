"""`flowgate abort`: remove a new color that was never promoted; the proxy keeps serving."""

from __future__ import annotations

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.engine.runner import Engine
from flowgate.engine.status import release_view

app = verb_app()


@app.command()
def abort(target: Target = None) -> None:
    """Remove the unpromoted new color; the live color is untouched."""
    context = open_project(target)
    before = context.state.new_color
    release = Engine(context).abort()
    # The engine decides under the lock (after recovering a dead release): trust its answer.
    new = None if release is None else (release.color or before)
    message = f"aborted: {new} removed" if new else "nothing to abort: no new color deployed"
    output().data(
        {"aborted": str(new) if new else None, "release": release_view(release, lock_held=False)},
        message,
    )
