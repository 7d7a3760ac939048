"""Open the project for a verb, with the CLI's progress reporter plugged in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowgate.cli.options import config_flags, output, project_dir
from flowgate.cli.progress import ProgressReporter
from flowgate.engine.context import ReleaseContext
from flowgate.engine.workspace import open_context

if TYPE_CHECKING:  # the engine's verbs load only for the verbs that run them
    from flowgate.engine.runner import Engine


def open_project(target: str | None = None, check: bool = True, **flags: Any) -> ReleaseContext:
    """Load settings and backends; with `check`, make sure every backend answers first,
    so an unreachable one fails with exit 5 before anything changes."""
    context = open_context(project_dir(), config_flags(target=target, **flags))
    context.echo_test_output = output().verbosity >= 0
    context.pm.register(ProgressReporter(output()), name="flowgate.cli.progress")
    if check:
        for backend in (context.registry, context.runtime, context.proxy):
            backend.check()
    return context


def engine(target: str | None = None, **flags: Any) -> Engine:
    from flowgate.engine.runner import Engine

    return Engine(open_project(target, **flags))
