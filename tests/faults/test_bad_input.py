"""Bad input on the command line, in the environment or in flowgate.yml: one line naming
the source and the key, exit 2 for a flag, 4 for configuration, and nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fault_project import cli, fake_containers, state_file


@pytest.mark.parametrize(
    ("argv", "env", "code", "start"),
    [
        (["scale", "99999999999999999999"], {}, 2, "scale: expected at most 1000 instances"),
        (["scale", "+1000"], {}, 2, "scale +1000: 1001 instances is more than the maximum"),
        (["deploy"], {"FLOW_SCALE": "99999999999999999999"}, 4, "FLOW_SCALE: scale: "),
        (["deploy"], {"FLOWGATE_LOCK_TTL": "0"}, 4, "FLOWGATE_LOCK_TTL: lock_ttl: "),
        (["deploy"], {"FLOWGATE_HEALTH_TIMEOUT": "nan"}, 4, "FLOWGATE_HEALTH_TIMEOUT: "),
        (["deploy", "--service-path", "/a b"], {}, 2, "--service-path: '/a b' must start"),
        (["deploy", "-p", "Faults"], {}, 2, "--project: 'Faults' is not a valid project"),
        (["deploy"], {"FLOW_PROJECT": "faults!"}, 4, "FLOW_PROJECT: project: 'faults!' is not"),
    ],
)
def test_bad_input_changes_nothing(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    code: int,
    start: str,
) -> None:
    assert cli(capsys, "deploy", "-q")[0] == 0
    assert cli(capsys, "promote", "-q")[0] == 0
    before = (fake_containers(project), state_file(project).read_text())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got, out, err = cli(capsys, *argv)
    assert got == code, err
    assert err.startswith(f"flowgate: error: {start}"), err
    assert len(err.strip().splitlines()) == 1
    assert out == ""
    assert (fake_containers(project), state_file(project).read_text()) == before
