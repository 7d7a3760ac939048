"""Reads what a gate's pytest run left behind: its JUnit XML and the failed-ids file.

The JUnit report is the durable record kept with the release; the ids file written by
flowgate's pytest plugin gives exact node ids (`tests/smoke/test_books.py::test_x[a]`),
which JUnit's classname/name pairs cannot reproduce.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

from flowgate.errors import FlowgateError
from flowgate.models import TestResult


def _int(element: ElementTree.Element, name: str) -> int:
    try:
        return int(element.get(name, "0"))
    except ValueError:
        return 0


def read_junit(path: Path) -> TestResult:
    """Sum every <testsuite> of the report into a result's counts and `classname::name`
    failed ids; a missing report counts nothing.

    pytest writes no report when it stops before its session starts (a bad option, say);
    the exit code then tells the story, so a missing file is not an error here.
    """
    if not path.is_file():
        return TestResult()
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        raise FlowgateError(f"cannot read the JUnit report {path}: {err}") from err
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    failed_ids: list[str] = []
    for suite in suites:
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                classname, name = case.get("classname", ""), case.get("name", "")
                failed_ids.append(f"{classname}::{name}" if classname else name)
    tests, failed, errors, skipped = (
        sum(_int(s, name) for s in suites) for name in ("tests", "failures", "errors", "skipped")
    )
    return TestResult(
        passed=max(0, tests - failed - errors - skipped),
        failed=failed,
        errors=errors,
        skipped=skipped,
        failed_ids=failed_ids,
    )


def read_failed_ids(path: Path) -> list[str] | None:
    """The node ids the pytest plugin recorded, or None when it wrote nothing."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ids = data.get("failed_ids") if isinstance(data, dict) else None
    return [str(node) for node in ids] if isinstance(ids, list) else None
