"""Hostile or damaged registry contents stop a command with exit 4 and one line naming the
file and key; nothing runs on a value out of range.

Before: a stored scale of -5 made `scale +1` compute -4, remove every live instance and
exit 0; a corrupt state file exited 3 ("internal error")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fault_project import cli, fake_containers, state_file


def live_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "deploy", "-q")[0] == 0
    assert cli(capsys, "promote", "-q")[0] == 0
    assert cli(capsys, "scale", "3", "-q")[0] == 0


def tamper(project: Path, **changes: object) -> None:
    path = state_file(project)
    data = json.loads(path.read_text())
    data["state"].update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"scale": -5}, "scale"),
        ({"scale": 0}, "scale"),
        ({"scale": 10**12}, "scale"),
        ({"scale": "3"}, "scale"),
        ({"scale": True}, "scale"),
        ({"live_color": "purple"}, "live_color"),
        ({"deployed_color": 7}, "deployed_color"),
        ({"release_id": "../../etc/passwd"}, "release_id"),
        ({"service": "someone-else"}, "service"),
    ],
)
def test_an_out_of_range_state_stops_every_verb_and_changes_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, object], key: str
) -> None:
    live_project(capsys)
    tamper(project, **changes)
    before = fake_containers(project)
    for argv in (["scale", "+1"], ["deploy"], ["rollback"], ["status"], ["promote"]):
        code, out, err = cli(capsys, *argv)
        assert code == 4, (argv, err)
        assert err.startswith(f"flowgate: error: {state_file(project)}: {key}: "), err
        assert len(err.strip().splitlines()) == 1
        assert out == ""
    assert fake_containers(project) == before


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"version": -1, "state": {"service": "faults-app"}}', "\xff"]
)
def test_a_corrupt_state_file_exits_4_and_names_it(
    project: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    live_project(capsys)
    state_file(project).write_bytes(content.encode("latin-1"))
    code, _, err = cli(capsys, "scale", "+1")
    assert code == 4
    assert err.startswith(f"flowgate: error: {state_file(project)}: ")
    assert "restore it from a backup" in err


def test_a_damaged_release_record_exits_4_naming_the_record(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live_project(capsys)
    folder = state_file(project).parent / "releases"
    record = next(folder.glob("*.json"))
    data = json.loads(record.read_text())
    data["instances"] = -3
    record.write_text(json.dumps(data))
    code, _, err = cli(capsys, "history")
    assert code == 4
    assert err.startswith(f"flowgate: error: {record}: instances: expected a whole number")


def test_a_damaged_lock_file_exits_4(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live_project(capsys)
    (state_file(project).parent / "lock.json").write_text('{"expires_at": "soon"}')
    code, _, err = cli(capsys, "scale", "+1")
    assert code == 4
    assert "lock.json: expires_at" in err


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("route", {"paths": ["/a\n    use_backend x"], "domains": []}, "route.paths: "),
        ("route", {"paths": "/", "domains": []}, "route.paths: expected a list"),
        ("route", {"paths": ["/"], "domains": ["a b"]}, "route.domains: "),
        ("restore", {"scale": -1}, "restore.scale: "),
        ("restore", {"service": {"ports": "8080"}}, "restore.service.ports: "),
        ("restores", "../x", "restores: "),
    ],
)
def test_a_hostile_way_back_record_is_refused_before_it_reaches_a_proxy_or_runtime(
    project: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, message: str
) -> None:
    """What a rollback re-applies (the recorded route, the service definition) is held to
    the same checks as the settings it came from."""
    live_project(capsys)
    folder = state_file(project).parent / "releases"
    record = next(folder.glob("*.json"))
    data = json.loads(record.read_text())
    data[field] = value
    record.write_text(json.dumps(data))
    code, _, err = cli(capsys, "history")
    assert code == 4, err
    assert err.startswith(f"flowgate: error: {record}: {message}"), err
    assert len(err.strip().splitlines()) == 1
