"""The CLI's progress reporter: one line per step, the suite's summary, the outcome."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from flowgate.cli.output import Output
from flowgate.cli.progress import ProgressReporter

GATE_RESULT = {
    "kind": "gate",
    "passed": 3,
    "failed": 1,
    "errors": 0,
    "skipped": 0,
    "failed_ids": ["tests/smoke/test_books.py::test_lists_books"],
    "exit_code": 1,
    "report": ".flowgate/reports/x.xml",
    "suites": ["tests/smoke"],
}


def replay(reporter: ProgressReporter) -> None:
    events = [
        ("step-started", {"step": "deploy"}),
        ("step-finished", {"step": "deploy", "duration": 1.234}),
        ("step-finished", {"step": "reconfigure_proxy", "duration": 0.5, "note": "live blue"}),
        ("step-started", {"step": "test"}),
        ("tests-finished", GATE_RESULT),
        ("step-finished", {"step": "test", "duration": 2.0}),
        ("step-started", {"step": "remove"}),
        ("step-failed", {"step": "remove", "duration": 0.5, "error": "engine gone [1]"}),
        ("release-finished", {"release": "r1", "outcome": "gate-failed"}),
    ]
    for event, data in events:
        reporter.release_event(context=None, event=event, data=data)


def test_piped_output_is_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    replay(ProgressReporter(Output(color=False)))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "  ✓ deploy               1.23s",
        "  ✓ reconfigure_proxy    0.50s  live blue",
        "  tests: 3 passed, 1 failed, 0 errors, 0 skipped",
        "    ✗ tests/smoke/test_books.py::test_lists_books",
        "  ✗ test                 2.00s",  # the suite ran, but the gate closed
        "  ✗ remove               0.50s  engine gone [1]",  # brackets are not markup
        "release r1: gate-failed",
    ]


def test_quiet_prints_nothing_and_verbose_adds_step_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay(ProgressReporter(Output(verbosity=-1)))
    assert capsys.readouterr().err == ""
    replay(ProgressReporter(Output(verbosity=1, color=False)))
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == ["  … deploy", "  ✓ deploy               1.23s"]


def test_no_color_means_no_color_codes_even_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the captured stderr as a terminal
    reporter = ProgressReporter(Output(color=False))  # what NO_COLOR / --no-color give
    replay(reporter)
    assert reporter.console.is_terminal
    err = capsys.readouterr().err
    assert "✓ deploy" in err
    assert not re.search(r"\x1b\[[0-9;]*m", err)  # no color, bold or dim (SGR) codes


def test_terminal_gets_colors_and_a_spinner_but_not_over_pytest_output() -> None:
    reporter = ProgressReporter(Output(color=True))
    screen = io.StringIO()
    reporter._console = Console(file=screen, force_terminal=True, width=100)
    reporter.release_event(context=None, event="step-started", data={"step": "deploy"})
    assert reporter._spinner is not None
    reporter.release_event(
        context=None, event="step-finished", data={"step": "deploy", "duration": 1.0}
    )
    assert reporter._spinner is None
    reporter.release_event(context=None, event="step-started", data={"step": "test"})
    assert reporter._spinner is None  # the suite streams its output here
    reporter.release_event(context=None, event="tests-finished", data=GATE_RESULT)
    reporter.release_event(
        context=None, event="release-finished", data={"release": "r1", "outcome": "succeeded"}
    )
    text = screen.getvalue()
    assert "\x1b[32m✓\x1b[0m" in text  # green check
    assert "\x1b[1;32mrelease r1: succeeded" in text  # bold green outcome


def test_piped_progress_does_not_load_rich() -> None:
    """rich is for a terminal; piped lines are written directly (rich costs ~60 ms)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from flowgate.cli.output import Output\n"
        "from flowgate.cli.progress import ProgressReporter\n"
        "r = ProgressReporter(Output(color=False))\n"
        "r.release_event(context=None, event='step-finished', data={'step': 'deploy', "
        "'duration': 1.0})\n"
        "assert not [m for m in sys.modules if m.startswith('rich')], 'rich imported'\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "FORCE_COLOR"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert (done.returncode, done.stderr) == (0, "  ✓ deploy               1.00s\n")
