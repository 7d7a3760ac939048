"""`flowgate release`: deploy, wait healthy, run the test gate, promote, stop the old color."""

from __future__ import annotations

import contextlib

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, release_flags, target_argument
from flowgate.cli.render import color_result
from flowgate.cli.suites import check_suites
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import FlowgateError


@click.command()
@target_argument
@release_flags
@click.option("--tests", multiple=True, help="Test gate suite (repeatable; also `tests:`).")
@click.option("--post-tests", multiple=True, help="Suite run after the switch (repeatable).")
@click.option("--pytest-args", help="Extra arguments for pytest, as one string.")
@click.option("--scale", help="Instances: N, +N or -N relative to the live color.")
@click.option("--keep-failed", is_flag=True, help="Keep a new color that failed, to debug it.")
@click.option("--timeout", type=float, help="Seconds the whole release may take.")
@common_options
def release(
    target: str | None,
    side_targets: tuple[str, ...],
    service_path: tuple[str, ...],
    tests: tuple[str, ...],
    post_tests: tuple[str, ...],
    pytest_args: str | None,
    scale: str | None,
    keep_failed: bool,
    timeout: float | None,
) -> None:
    """Release the target as a new color, gated by its tests."""
    context = open_project(
        target,
        side_targets=side_targets,
        service_path=service_path,
        scale=scale,
        tests=tests,
        post_tests=post_tests,
        pytest_args=pytest_args,
    )
    settings = context.settings
    check_suites(settings, "tests", "post_tests")
    spec = parse_scale(settings.scale) if settings.scale else None
    try:
        done = Engine(context).release(
            list(settings.tests),
            list(settings.post_tests),
            spec,
            keep_failed,
            timeout or settings.timeout or None,
        )
    except FlowgateError:
        # A pipeline asking for -o json gets the failed release's record too (its outcome,
        # failed test ids, error), beside the exit code and the one-line error.
        if output().format != "table" and context.release is not None:
            with contextlib.suppress(FlowgateError):
                live = context.state.live_color
                color_result(output(), context, context.release, live, "")
        raise
    live = context.state.live_color
    color_result(output(), context, done, live, f"{context.target}: {live} is live")
