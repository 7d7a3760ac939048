"""test: run the gate against the new (not yet live) color and record the result.

README "How a release goes", step 4 (and step 6, the post-promotion tests)."""

from __future__ import annotations

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import current_release, emit, save_release
from flowgate.errors import GateFailed, UsageError
from flowgate.models import Color, TestResult


def test(context: ReleaseContext, suites: list[str]) -> TestResult:
    with operation(context):
        new = require_new(context, "test")
        context.release = current_release(context)
        result = run_gate(context, suites, new, "gate")
        if not result.ok:
            raise GateFailed(gate_message(result))
        return result


def require_new(context: ReleaseContext, verb: str) -> Color:
    """The deployed, running new color, or a usage error saying there is none."""
    new = context.state.new_color
    if new is None or not calls.running(context, new):
        live = context.state.live_color
        raise UsageError(
            f"nothing to {verb}: no new color is deployed (live: {live or 'none'}); "
            "run `flowgate deploy` first"
        )
    return new


def run_gate(context: ReleaseContext, suites: list[str], color: Color, kind: str) -> TestResult:
    """Run `suites` against `color` as the step `test` (kind "gate") or `post_test`."""

    def run_suites() -> TestResult:
        result: TestResult = calls.call(context, "run_gate", suites=suites, color=color, kind=kind)
        # Inside the step, so listeners know the verdict before the step's end event.
        emit(context, "tests-finished", **result.to_dict())
        return result

    # Post-tests run after the switch even past the deadline: with no time left pytest
    # is stopped at once, the suite counts as failed and the switch back follows.
    name = "test" if kind == "gate" else "post_test"
    result = calls.step(context, name, run_suites, cleanup=kind == "post")
    release = context.release
    if release is not None:
        if kind == "gate":
            release.tests = result
        else:
            release.post_tests = result
        save_release(context)
    return result


#: Why pytest stopped, by its exit code (-1 is the gate's own: killed at the deadline).
_PYTEST_EXITS = {
    -1: "the tests did not finish before the release timed out",
    2: "pytest could not collect the tests (exit 2)",
    3: "pytest hit an internal error (exit 3); see its output",
    4: "pytest usage error (exit 4): a suite path does not exist or --pytest-args is wrong; "
    "see its output",
    5: "no tests were collected",
}


def gate_message(result: TestResult, what: str = "test gate") -> str:
    """One line saying why the gate closed, with the first failed test ids."""
    ids = ", ".join(result.failed_ids[:3]) + (" ..." if len(result.failed_ids) > 3 else "")
    detail = f": {ids}" if ids else ""
    code = result.exit_code
    if code in _PYTEST_EXITS:
        return f"{what} failed: {_PYTEST_EXITS[code]}{detail}"
    failed = result.failed + result.errors
    if code == 1 or failed:
        return f"{what} failed ({failed} failed, {result.passed} passed){detail}"
    return f"{what} failed: pytest exited {code}{detail}"
