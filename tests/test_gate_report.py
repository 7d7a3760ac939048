"""Reading a gate's JUnit report and the plugin's failed-ids file."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.errors import FlowgateError
from flowgate.gate_report import read_failed_ids, read_junit
from flowgate.models import TestResult

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests">
 <testsuite name="pytest" errors="1" failures="2" skipped="1" tests="7">
  <testcase classname="tests.smoke.test_a" name="test_ok" />
  <testcase classname="tests.smoke.test_a" name="test_bad"><failure message="x"/></testcase>
  <testcase classname="tests.smoke.test_a" name="test_worse[1]"><failure message="y"/></testcase>
  <testcase classname="tests.smoke.test_b" name="test_setup"><error message="z"/></testcase>
 </testsuite>
 <testsuite name="other" errors="0" failures="0" skipped="0" tests="2" />
</testsuites>
"""


def test_counts_are_summed_over_every_suite(tmp_path: Path) -> None:
    path = tmp_path / "gate.xml"
    path.write_text(REPORT)
    counts = read_junit(path)
    assert (counts.passed, counts.failed, counts.errors, counts.skipped) == (5, 2, 1, 1)
    assert counts.failed_ids == [
        "tests.smoke.test_a::test_bad",
        "tests.smoke.test_a::test_worse[1]",
        "tests.smoke.test_b::test_setup",
    ]


def test_a_single_testsuite_root_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "gate.xml"
    path.write_text('<testsuite tests="3" failures="1" errors="0" skipped="0"/>')
    assert read_junit(path).passed == 2


def test_a_missing_report_counts_nothing(tmp_path: Path) -> None:
    assert read_junit(tmp_path / "none.xml") == TestResult()


def test_a_corrupt_report_is_a_flowgate_error(tmp_path: Path) -> None:
    path = tmp_path / "gate.xml"
    path.write_text("<testsuite")
    with pytest.raises(FlowgateError, match="cannot read the JUnit report"):
        read_junit(path)


def test_failed_ids_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    assert read_failed_ids(path) is None
    path.write_text('{"failed_ids": ["a.py::t[1]", "b.py"], "exit_status": 1}')
    assert read_failed_ids(path) == ["a.py::t[1]", "b.py"]
    path.write_text("not json")
    assert read_failed_ids(path) is None
