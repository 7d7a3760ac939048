"""`flowgate release`: deploy, wait healthy, run the test gate, promote, stop the old color."""

from __future__ import annotations

import contextlib

from flowgate.cli.context import open_project
from flowgate.cli.options import (
    KeepFailed,
    PostSuites,
    PytestArgs,
    Scale,
    ServicePaths,
    SideTargets,
    Suites,
    Target,
    Timeout,
    output,
    verb_app,
)
from flowgate.cli.render import color_result
from flowgate.cli.suites import check_suites
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import FlowgateError

app = verb_app()


@app.command()
def release(
    target: Target = None,
    side_targets: SideTargets = None,
    service_path: ServicePaths = None,
    tests: Suites = None,
    post_tests: PostSuites = None,
    pytest_args: PytestArgs = None,
    scale: Scale = None,
    keep_failed: KeepFailed = False,
    timeout: Timeout = None,
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
