"""The typer CLI's own behaviour: raw `flow` arguments, usage errors pointing at the
verb's own --help, shell completion (bash for real, zsh and fish by their protocol)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_project import fake_project, run

COMPOSE = "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n  db:\n    image: db\n"
CONFIG = "target: app\nruntime: fake\nproxy: fake\nproject: cli\ndrain_timeout: 0\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_project(tmp_path, monkeypatch, COMPOSE, CONFIG)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["status", "--frobnicate"],
            "No such option '--frobnicate'. (see `flowgate status --help`)",
        ),
        (
            ["history", "--limit", "0"],
            "Invalid value for '--limit': 0 is not in the range x>=1. "
            "(see `flowgate history --help`)",
        ),
        (
            ["-o", "xml", "status"],
            "Invalid value for '-o' / '--output': 'xml' is not one of 'table', 'json', 'yaml'. "
            "(see `flowgate --help`)",
        ),
        (["stauts"], "No such command 'stauts'. Did you mean 'status'? (see `flowgate --help`)"),
        (["flow", "--frobnicate"], "unknown flag `frobnicate' (see `flowgate flow --help`)"),
        (
            ["completion", "tcsh"],
            "Invalid value for 'SHELL': 'tcsh' is not one of 'bash', "
            "'zsh', 'fish'. (see `flowgate completion --help`)",
        ),
    ],
)
def test_bad_flags_point_to_the_verbs_own_help(
    project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(capsys, *argv) == (2, "", f"flowgate: error: {message}\n")


def test_flow_parses_its_raw_arguments_itself(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "flow", "--blue-green", "-F", "deploy", "-q", "-o", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["color"], data["live_color"]) == ("blue", None)
    # Docker Flow's proxy step needs a service path.
    code, out, _ = run(
        capsys, "-q", "flow", "app", "--flow=proxy", "--flow", "stop-old", "--service-path=/a"
    )
    assert (code, out.splitlines()[0]) == (0, "app: live blue, flow proxy, stop-old done")
    code, out, _ = run(capsys, "flow", "-F", "deploy", "-q")  # no --blue-green: live at once
    assert (code, out.splitlines()[0]) == (0, "app: live green, flow deploy done")


def test_flow_help_is_its_own(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "flow", "--help")
    assert (code, err) == (0, "")
    assert out.startswith("Usage: flowgate flow [OPTIONS] [TARGET]\n")
    assert "  -F, --flow STEP " in out
    assert "  -o, --output [table|json|yaml] " in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert run(capsys, "--version") == (0, f"flowgate, version {version('flowgate')}\n", "")


def _flowgate() -> str:
    beside = Path(sys.executable).parent / "flowgate"
    assert beside.is_file(), "the flowgate console script is installed beside python"
    return str(beside)


def _env(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, **extra}


BASH = """
source <(flowgate completion bash)
read -ra COMP_WORDS <<<"$LINE"
[[ "$LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_flowgate_completion flowgate
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("flowgate st", ["stop-old", "status"]),
        ("flowgate sta", ["status"]),
        ("flowgate status ", ["app", "db"]),
        ("flowgate -q status d", ["db"]),
        ("flowgate status --w", ["--watch"]),
        ("flowgate -o ", ["table", "json", "yaml"]),
        ("flowgate completion ", ["bash", "zsh", "fish"]),
    ],
)
def test_bash_completion_in_a_real_bash(project: Path, line: str, expected: list[str]) -> None:
    done = subprocess.run(
        ["bash", "-c", BASH], env=_env(LINE=line), capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.split() == expected


@pytest.mark.parametrize(
    ("shell", "env", "expected"),
    [
        (
            "zsh",
            {"_TYPER_COMPLETE_ARGS": "flowgate sta"},
            '_arguments \'*: :(("status":"Live color, instances and the current release."))\'',
        ),
        (
            "fish",
            {"_TYPER_COMPLETE_ARGS": "flowgate sta", "_TYPER_COMPLETE_FISH_ACTION": "get-args"},
            "status\tLive color, instances and the current release.",
        ),
    ],
)
def test_zsh_and_fish_completion_answer_their_scripts_protocol(
    project: Path, shell: str, env: dict[str, str], expected: str
) -> None:
    """No zsh or fish on the test machine: check that the script calls flowgate back
    with these variables, and what flowgate answers to them."""
    script = subprocess.run(
        [_flowgate(), "completion", shell], env=_env(), capture_output=True, text=True, check=True
    ).stdout
    assert f"_FLOWGATE_COMPLETE=complete_{shell}" in script
    assert all(name in script for name in env)
    done = subprocess.run(
        [_flowgate()],
        env=_env(_FLOWGATE_COMPLETE=f"complete_{shell}", **env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.strip() == expected


def test_completing_a_verb_name_imports_no_verb(project: Path) -> None:
    code = (
        "import sys\nfrom flowgate.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.startswith('flowgate.cli.') and "
        "m.rsplit('.', 1)[1] in ('release', 'status', 'flow')], 'verbs imported'\n"
        "assert 'docker' not in sys.modules and 'requests' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(_FLOWGATE_COMPLETE="complete_bash", COMP_WORDS="flowgate s", COMP_CWORD="1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.split() == ["scale", "stop-old", "status"]
