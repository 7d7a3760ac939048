"""`flowgate reconcile` and `rollback --to` on the command line: exact output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_project import fake_project, run

COMPOSE = "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
CONFIG = "target: app\nruntime: fake\nproxy: fake\nproject: rec\ndrain_timeout: 0\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_project(tmp_path, monkeypatch, COMPOSE, CONFIG)


def test_a_lost_state_is_refused_then_reconciled(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "deploy", "-q")[0] == 0
    assert run(capsys, "promote", "-q")[0] == 0
    (project / ".flowgate" / "registry" / "rec-app" / "state.json").unlink()
    code, out, err = run(capsys, "deploy", "-q")
    assert (code, out) == (4, "")
    assert err.startswith("flowgate: error: the registry's state of rec-app disagrees")
    assert err.count("\n") == 1
    code, out, _ = run(capsys, "reconcile", "--dry-run")
    assert code == 0
    assert out.splitlines()[0] == "rec-app: would write (dry run)"
    assert "before:  none stored" in out and "after:   live blue, deployed blue, scale 1" in out
    code, out, _ = run(capsys, "reconcile", "-o", "json")
    report = json.loads(out)
    assert (code, report["written"], report["after"]["live_color"]) == (0, True, "blue")
    code, out, _ = run(capsys, "reconcile")
    assert out.splitlines()[0] == "rec-app: state agrees with what runs; nothing to write"
    assert run(capsys, "deploy", "-q")[0] == 0


def test_rollback_to_an_unknown_release_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "deploy", "-q")[0] == 0
    assert run(capsys, "promote", "-q")[0] == 0
    assert run(capsys, "rollback", "--to", "20200101T000000-abcd", "-q")[:3:2] == (
        2,
        "flowgate: error: cannot roll back to 20200101T000000-abcd: no such release "
        "(see `flowgate history`)\n",
    )
