"""`flowgate promote`: switch the proxy to the new color, then stop the old one."""

from __future__ import annotations

from typing import Annotated

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import KeepFailed, PostSuites, Target, output, verb_app
from flowgate.cli.render import color_result
from flowgate.cli.suites import check_suites
from flowgate.engine.runner import Engine

app = verb_app()


@app.command()
def promote(
    target: Target = None,
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Promote although the gate has not passed.")
    ] = False,
    post_tests: PostSuites = None,
    keep_failed: KeepFailed = False,
) -> None:
    """Switch the proxy to the new color, then stop the old one (kept for rollback)."""
    context = open_project(target, post_tests=post_tests)
    check_suites(context.settings, "post_tests")
    suites = list(context.settings.post_tests)
    release = Engine(context).promote(skip_tests, suites, keep_failed)
    live = context.state.live_color
    color_result(output(), context, release, live, f"{context.target}: {live} is live")
