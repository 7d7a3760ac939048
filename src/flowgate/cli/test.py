"""`flowgate test`: run the gate against the new (not yet live) color and record it."""

from __future__ import annotations

from flowgate.cli.context import open_project
from flowgate.cli.options import PytestArgs, Suites, Target, output, verb_app
from flowgate.cli.suites import check_suites
from flowgate.engine.runner import Engine
from flowgate.engine.status import test_view
from flowgate.errors import UsageError

app = verb_app()


@app.command()
def test(target: Target = None, tests: Suites = None, pytest_args: PytestArgs = None) -> None:
    """Run the test gate against the new color and record the result."""
    context = open_project(target, tests=tests, pytest_args=pytest_args)
    suites = list(context.settings.tests)
    if not suites:
        raise UsageError("no test suite: pass --tests PATH or set `tests:` in flowgate.yml")
    check_suites(context.settings, "tests")
    result = Engine(context).test(suites)
    view = test_view(result) or {}
    output().data(view, f"test gate passed: {result.passed} passed")
