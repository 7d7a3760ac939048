"""`flowgate test`: run the gate against the new (not yet live) color and record it."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, target_argument
from flowgate.cli.suites import check_suites
from flowgate.engine.runner import Engine
from flowgate.engine.status import test_view
from flowgate.errors import UsageError


@click.command()
@target_argument
@click.option("--tests", multiple=True, help="Suite to run (repeatable; also `tests:`).")
@click.option("--pytest-args", help="Extra arguments for pytest, as one string.")
@common_options
def test(target: str | None, tests: tuple[str, ...], pytest_args: str | None) -> None:
    """Run the test gate against the new color and record the result."""
    context = open_project(target, tests=tests, pytest_args=pytest_args)
    suites = list(context.settings.tests)
    if not suites:
        raise UsageError("no test suite: pass --tests PATH or set `tests:` in flowgate.yml")
    check_suites(context.settings, "tests")
    result = Engine(context).test(suites)
    view = test_view(result) or {}
    output().data(view, f"test gate passed: {result.passed} passed")
