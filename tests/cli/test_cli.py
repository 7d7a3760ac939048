"""The CLI's exact output and exit codes, in-process, on the fake backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_project import fake_project, run

COMPOSE = "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
CONFIG = "target: app\nruntime: fake\nproxy: fake\nproject: cli\ndrain_timeout: 0\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fake_project(tmp_path, monkeypatch, COMPOSE, CONFIG)


def test_deploy_prints_the_new_color(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deploy", "-q")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("deployed app blue (release ")
    assert lines[0].endswith("); live: none")
    assert lines[1].split() == ["NAME", "ADDRESS", "STATE", "HEALTHY"]
    assert lines[2].split() == ["cli_app-blue_1", "127.0.0.1:20001", "running", "yes"]
    assert lines[3] == "preview: http://127.0.0.1:20001"
    assert err == ""


def test_common_flags_before_or_after_the_verb(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run(capsys, "-o", "json", "status")
    after = run(capsys, "status", "-o", "json")
    assert before == after
    assert json.loads(before[1])["live_color"] is None


def test_status_json_shape(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy", "-q")
    run(capsys, "promote", "-q")
    code, out, _ = run(capsys, "status", "-o", "json")
    data = json.loads(out)
    assert code == 0
    assert {"project", "target", "service", "live_color", "scale", "colors", "release"} <= set(data)
    assert (data["project"], data["target"], data["service"]) == ("cli", "app", "cli-app")
    assert (data["live_color"], data["scale"]) == ("blue", 1)
    assert data["colors"]["blue"] == {
        "state": "live",
        "instances": [
            {
                "name": "cli_app-blue_1",
                "address": "127.0.0.1:20001",
                "state": "running",
                "healthy": True,
            }
        ],
    }
    assert data["colors"]["green"] == {"state": "absent", "instances": []}
    release = data["release"]
    assert {"id", "state", "step", "outcome", "tests"} <= set(release)
    assert (release["state"], release["outcome"]) == ("live", "succeeded")


def test_status_after_deploy_shows_the_new_color(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "deploy", "-q")
    run(capsys, "promote", "-q")
    run(capsys, "deploy", "-q")
    data = json.loads(run(capsys, "-o", "json", "status")[1])
    assert data["colors"]["blue"]["state"] == "live"
    assert data["colors"]["green"]["state"] == "new"
    run(capsys, "promote", "-q")
    data = json.loads(run(capsys, "-o", "json", "status")[1])
    assert data["colors"]["blue"]["state"] == "stopped"


def test_stop_old_and_rollback_refuse_an_unpromoted_color(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The trial's gate bypass: neither verb may stop or bring back a color that was
    deployed but never promoted (exit 2, one line, nothing changed)."""
    for verb in ("deploy", "promote", "deploy", "promote", "deploy"):
        assert run(capsys, verb, "-q")[0] == 0
    release_id = json.loads(run(capsys, "-o", "json", "status")[1])["release"]["id"]
    code, out, err = run(capsys, "stop-old", "-q")
    assert (code, out) == (2, "")
    assert err == (
        f"flowgate: error: cannot stop the old color: blue holds an unpromoted deploy (release "
        f"{release_id}), not a color that was live: `flowgate abort` removes it, "
        "`flowgate promote` makes it live\n"
    )
    code, _, err = run(capsys, "rollback", "-q")
    assert code == 2
    assert err.startswith("flowgate: error: cannot roll back: blue holds an unpromoted deploy")
    data = json.loads(run(capsys, "-o", "json", "status")[1])
    assert (data["live_color"], data["colors"]["blue"]["state"]) == ("green", "new")
    assert data["release"]["state"] == "deployed"


def test_nothing_to_roll_back_is_always_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "rollback", "-q")[:3:2] == (
        2,
        "flowgate: error: nothing to roll back: nothing is live yet (`flowgate release` first)\n",
    )
    run(capsys, "deploy", "-q")
    run(capsys, "promote", "-q")
    assert run(capsys, "rollback", "-q")[:3:2] == (
        2,
        "flowgate: error: nothing to roll back to: no release was live before the current one\n",
    )


@pytest.mark.parametrize(
    ("argv", "config", "env", "code", "message"),
    [
        (["release", "--tests", "tests/nonexistent"], "", {}, 2, "--tests: no such file"),
        (["release"], "tests: [tests/typo]\n", {}, 4, "flowgate.yml: tests: no such file"),
        (
            ["release", "--post-tests", "tests/smoke", "--post-tests", "tests/nope.py::t"],
            "",
            {},
            2,
            "--post-tests: no such file or folder: tests/nope.py::t",
        ),
        (["release"], "", {"FLOWGATE_TESTS": "tests/x"}, 4, "FLOWGATE_TESTS: tests: no such"),
        (["test", "--tests", "tests/nonexistent"], "", {}, 2, "--tests: no such file"),
        (["promote", "--post-tests", "tests/nope"], "", {}, 2, "--post-tests: no such file"),
    ],
)
def test_a_missing_suite_path_is_refused_before_anything_changes(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    config: str,
    env: dict[str, str],
    code: int,
    message: str,
) -> None:
    (project / "tests" / "smoke").mkdir(parents=True)
    (project / "flowgate.yml").write_text(CONFIG + config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got, out, err = run(capsys, *argv, "-q")
    assert (got, out) == (code, "")
    assert err.startswith(f"flowgate: error: {message}")
    assert err.endswith(f"(relative to {project})\n")
    assert not (project / ".flowgate" / "fakes" / "runtime.json").exists()


def test_scaling_below_one_warns_and_keeps_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "deploy", "-q", "--scale", "2")
    run(capsys, "promote", "-q")
    for spec in ("0", "-10"):
        code, out, err = run(capsys, "scale", "-q", "--", spec)
        assert (code, out.splitlines()[0]) == (0, "app: blue scaled to 1")
        assert err == (
            f"flowgate: warning: scale {spec}: a live color keeps at least 1 instance; "
            "scaled to 1\n"
        )
    code, _, err = run(capsys, "scale", "-q", "-1")
    assert (code, err) == (
        0,
        "flowgate: warning: scale -1: a live color keeps at least 1 instance; scaled to 1\n",
    )
    assert run(capsys, "scale", "-q", "+1")[2] == ""


def test_a_damaged_state_file_names_the_file_and_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = project / ".flowgate" / "registry" / "cli-app" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"live_color": "purple"}')
    code, _, err = run(capsys, "status")
    assert code == 4
    assert err.startswith(f"flowgate: error: {state}: state: missing (expected {{")
    state.write_text('{"version": 3, "state": {"service": "cli-app", "live_color": "purple"}}')
    code, _, err = run(capsys, "status")
    assert code == 4
    assert err.startswith(
        f"flowgate: error: {state}: live_color: expected blue or green, got 'purple'; "
    )


def test_scale_relative_and_negative(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "deploy", "-q")
    run(capsys, "promote", "-q")
    code, out, _ = run(capsys, "scale", "+2", "-q")
    assert code == 0
    assert out.splitlines()[0] == "app: blue scaled to 3"
    code, out, _ = run(capsys, "scale", "app", "-1", "-q")
    assert (code, out.splitlines()[0]) == (0, "app: blue scaled to 2")


def test_history_lists_releases_newest_first(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "deploy", "-q")
    run(capsys, "promote", "-q")
    run(capsys, "deploy", "-q")
    code, out, _ = run(capsys, "history", "-o", "json")
    releases = json.loads(out)
    assert code == 0
    assert [(r["color"], r["state"]) for r in releases] == [("green", "deployed"), ("blue", "live")]
    table = run(capsys, "history")[1].splitlines()
    assert table[0].split() == [
        "RELEASE",
        "KIND",
        "COLOR",
        "OUTCOME",
        "DURATION",
        "TESTS",
        "STARTED",
    ]
    assert [row.split()[3] for row in table[1:]] == ["deployed", "succeeded"]


def test_history_reads_only_the_registry(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "deploy", "-q")
    (project / "flowgate.yml").write_text(CONFIG.replace("runtime: fake", "runtime: docker"))
    monkeypatch.setenv("FLOW_HOST", "unix:///nonexistent/docker.sock")
    assert run(capsys, "status")[0] == 5  # status asks the engine, which does not answer
    code, out, _ = run(capsys, "history", "-o", "json")
    assert code == 0
    assert [r["color"] for r in json.loads(out)] == ["blue"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["deploy", "--scale", "two"],
            2,
            "flowgate: error: --scale: expected N, +N or -N, got 'two'\n",
        ),
        (["scale", "lots"], 2, "flowgate: error: scale: expected N, +N or -N, got 'lots'\n"),
        (
            ["deploy", "nope"],
            4,
            "flowgate: error: docker-compose.yml: unknown target 'nope' (services: app)\n",
        ),
        (["deploy", "-f", "missing.yml"], 4, None),
        (
            ["scale", "+1"],
            2,
            "flowgate: error: nothing is live yet: promote a release before scaling\n",
        ),
        (["promote"], 2, None),
        (
            ["frobnicate"],
            2,
            "flowgate: error: No such command 'frobnicate'. (see `flowgate --help`)\n",
        ),
    ],
)
def test_bad_input_gets_one_line_and_its_exit_code(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str | None,
) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    if message is not None:
        assert err == message
    assert not (project / ".flowgate" / "fakes" / "runtime.json").exists()


def test_malformed_flowgate_yml_is_a_config_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "flowgate.yml").write_text("target: [app\n")
    code, _, err = run(capsys, "status")
    assert code == 4
    assert err.startswith("flowgate: error: flowgate.yml: malformed YAML at line")


def test_unknown_backend_is_a_config_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status")  # sanity: works first
    assert code == 0
    (project / "flowgate.yml").write_text(CONFIG + "registry: etcd\n")
    code, _, err = run(capsys, "status")
    assert code == 4
    assert err == (
        "flowgate: error: flowgate.yml: registry: unknown registry backend 'etcd'; installed: "
        "consul, file (others come as plugins: see `flowgate plugins`)\n"
    )
    (project / "flowgate.yml").write_text(CONFIG + "registry: consull\n")
    code, _, err = run(capsys, "status")
    assert (
        "flowgate.yml: registry: unknown registry backend 'consull'; did you mean 'consul'?" in err
    )


def test_progress_goes_to_stderr_and_quiet_silences_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "deploy", "--no-color")
    assert code == 0
    assert [line.split()[1] for line in err.splitlines()] == [
        "pick_color",
        "deploy",
        "reconfigure_proxy",
    ]
    assert err.splitlines()[0].startswith("  ✓ pick_color")


def test_path_plugins_run_as_verbs(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "flowgate-hello"
    script.write_text('#!/bin/sh\necho "hello $*"\nexit 3\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from flowgate.cli.app import main; sys.exit(main())",
            "hello",
            "a",
            "--b",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (3, "hello a --b\n")


def test_plugins_lists_builtins_and_backends(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plugins", "-o", "json")
    data = json.loads(out)
    assert code == 0
    names = {p["name"] for p in data["plugins"]}
    assert {"flowgate.engine.steps", "flowgate.gate", "flowgate.testing.fakes"} <= names
    assert {(b["kind"], b["name"]) for b in data["backends"]} >= {
        ("runtime", "docker"),
        ("proxy", "haproxy"),
        ("proxy", "none"),
        ("registry", "file"),
    }


def test_help_lists_every_verb_without_importing_them() -> None:
    from flowgate.cli.app import SUMMARIES, VERBS

    assert list(SUMMARIES) == list(VERBS)
    code = (
        "import sys; from flowgate.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'flowgate.cli.release' not in sys.modules, 'verbs imported'\n"
        "assert 'docker' not in sys.modules and 'requests' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "  stop-old    Stop the color that is not live.\n" in result.stdout


def test_compose_keys_flowgate_does_not_use_are_reported_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "docker-compose.yml").write_text(COMPOSE + "    profiles: [debug]\n")
    code, out, err = run(capsys, "status", "-o", "json")
    assert code == 0
    assert json.loads(out)["target"] == "app"
    assert err == (
        "flowgate: warning: docker-compose.yml: not used by flowgate: services.app.profiles\n"
    )


def test_a_failed_release_still_prints_its_record_for_o_json(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipeline reading `-o json` gets the closed gate's record with the exit code 7."""
    (project / "gate").mkdir()
    (project / "gate" / "test_no.py").write_text("def test_no():\n    assert False\n")
    code, out, err = run(capsys, "release", "--tests", "gate", "-q", "-o", "json")
    assert code == 7
    assert err.startswith("flowgate: error: test gate failed")
    data = json.loads(out)
    assert data["release"]["outcome"] == "gate-failed"
    assert data["release"]["tests"]["failed_ids"] == ["gate/test_no.py::test_no"]
    code, out, _ = run(capsys, "release", "--tests", "gate", "-q")
    assert (code, out) == (7, "")  # the table format prints no data for a failure
