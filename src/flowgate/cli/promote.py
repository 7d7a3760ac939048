"""`flowgate promote`: switch the proxy to the new color, then stop the old one."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, target_argument
from flowgate.cli.render import color_result
from flowgate.cli.suites import check_suites
from flowgate.engine.runner import Engine


@click.command()
@target_argument
@click.option("--skip-tests", is_flag=True, help="Promote although the gate has not passed.")
@click.option(
    "--post-tests",
    multiple=True,
    help="Suite run against the live route after the switch (repeatable).",
)
@click.option("--keep-failed", is_flag=True, help="Keep the new color if post-tests fail.")
@common_options
def promote(
    target: str | None, skip_tests: bool, post_tests: tuple[str, ...], keep_failed: bool
) -> None:
    """Switch the proxy to the new color, then stop the old one (kept for rollback)."""
    context = open_project(target, post_tests=post_tests)
    check_suites(context.settings, "post_tests")
    suites = list(context.settings.post_tests)
    release = Engine(context).promote(skip_tests, suites, keep_failed)
    live = context.state.live_color
    color_result(output(), context, release, live, f"{context.target}: {live} is live")
