"""The built-in test gate: real pytest runs of tiny suites in a temporary project.

The project uses the fake runtime and proxy (flowgate.testing.fakes: no Docker needed to
test how the gate runs pytest) and the real file registry.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowgate.engine.context import ReleaseContext
from flowgate.engine.runner import Engine, gate_message
from flowgate.engine.workspace import open_context
from flowgate.errors import GateFailed
from flowgate.gate import TIMED_OUT, flow_color, gate_env, pytest_argv, run_gate
from flowgate.models import Color, Release
from flowgate.testing.network import free_port

COMPOSE = "services:\n  app:\n    image: x\n    ports: ['8080']\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "flowgate.yml").write_text(
        "target: app\nruntime: fake\nproxy: fake\nproject: gatetest\ndrain_timeout: 0\n"
    )
    return tmp_path


def context_of(project: Path, **flags: object) -> ReleaseContext:
    context = open_context(project, flags)
    context.release = Release(id="r1", service=context.service_name, target="app")
    return context


def suite(project: Path, name: str, body: str) -> str:
    folder = project / "tests" / name
    folder.mkdir(parents=True)
    (folder / f"test_{name}.py").write_text(body)
    return f"tests/{name}"


PASSING = """
import pytest

def test_one():
    assert 1 + 1 == 2

def test_two():
    pass

@pytest.mark.skipif(True, reason="not today")
def test_skipped():
    pass
"""

FAILING = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_ok():
    pass

def test_fails():
    assert False

def test_errors(broken):
    pass
"""


def test_passing_suite_opens_the_gate_and_keeps_the_report(project: Path) -> None:
    result = run_gate(context_of(project), [suite(project, "ok", PASSING)], Color.BLUE, "gate")
    assert (result.exit_code, result.passed, result.failed, result.errors, result.skipped) == (
        0,
        2,
        0,
        0,
        1,
    )
    assert result.ok and result.failed_ids == []
    report = project / ".flowgate" / "reports" / "r1" / "gate.xml"
    assert result.report == str(report.resolve())
    assert "<testsuite" in report.read_text()
    assert (result.suites, result.kind) == (["tests/ok"], "gate")


def test_failures_and_errors_are_counted_with_their_node_ids(project: Path) -> None:
    result = run_gate(context_of(project), [suite(project, "bad", FAILING)], Color.BLUE, "post")
    assert (result.exit_code, result.passed, result.failed, result.errors) == (1, 1, 1, 1)
    assert result.failed_ids == [
        "tests/bad/test_bad.py::test_fails",
        "tests/bad/test_bad.py::test_errors",
    ]
    assert result.report and result.report.endswith("reports/r1/post.xml")
    assert gate_message(result) == (
        "test gate failed (2 failed, 1 passed): tests/bad/test_bad.py::test_fails, "
        "tests/bad/test_bad.py::test_errors"
    )


def test_an_empty_suite_closes_the_gate(project: Path) -> None:
    empty = project / "tests" / "empty"
    empty.mkdir(parents=True)
    result = run_gate(context_of(project), ["tests/empty"], Color.BLUE, "gate")
    assert result.exit_code == 5 and not result.ok
    assert gate_message(result) == "test gate failed: no tests were collected"


def test_a_missing_suite_path_closes_the_gate_with_a_clear_message(project: Path) -> None:
    result = run_gate(context_of(project), ["tests/nowhere"], Color.BLUE, "gate")
    assert result.exit_code == 4 and not result.ok
    assert "a suite path does not exist" in gate_message(result)


def test_a_collection_error_closes_the_gate_naming_the_module(project: Path) -> None:
    path = suite(project, "syntax", "def test_x(:\n    pass\n")
    result = run_gate(context_of(project), [path], Color.BLUE, "gate")
    assert result.exit_code == 2
    assert result.failed_ids == ["tests/syntax/test_syntax.py"]
    assert result.errors == 1
    assert "could not collect" in gate_message(result)


def test_pytest_args_from_the_settings_reach_pytest(project: Path) -> None:
    path = suite(project, "ok", PASSING)
    context = context_of(project, pytest_args="-k 'one or skipped'")
    result = run_gate(context, [path], Color.BLUE, "gate")
    assert (result.passed, result.skipped) == (1, 1)


def test_output_streams_to_stderr_not_stdout(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run_gate(context_of(project), [suite(project, "ok", PASSING)], Color.BLUE, "gate")
    out, err = capfd.readouterr()
    assert "2 passed, 1 skipped" in err
    assert out == ""


def test_quiet_keeps_pytest_output_off_the_terminal_but_counts_and_reports(
    project: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    context = context_of(project)
    context.echo_test_output = False  # what -q sets
    result = run_gate(context, [suite(project, "ok", PASSING)], Color.BLUE, "gate")
    assert capfd.readouterr() == ("", "")
    assert (result.passed, result.skipped, result.exit_code) == (2, 1, 0)
    assert result.report is not None and Path(result.report).is_file()


def test_a_gate_past_the_release_deadline_is_killed(project: Path) -> None:
    pid_file = project / "pid"
    body = (
        "import os, time\n"
        "def test_slow():\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
    )
    context = context_of(project)
    context.deadline = time.monotonic() + 3
    started = time.monotonic()
    result = run_gate(context, [suite(project, "slow", body)], Color.BLUE, "gate")
    assert time.monotonic() - started < 15
    assert result.exit_code == TIMED_OUT and not result.ok
    assert "did not finish before the release timed out" in gate_message(result)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):  # give the kernel a moment to reap it
            os.kill(pid, 0)
            time.sleep(0.1)


def test_gate_tests_the_new_color_and_post_tests_the_live_route(project: Path) -> None:
    context = context_of(project)
    Engine(context).deploy()
    assert flow_color(context, Color.BLUE, "gate") == "new"
    assert flow_color(context, Color.GREEN, "gate") == "green"
    assert flow_color(context, Color.BLUE, "post") == "live"
    report = project / "r.xml"
    argv = pytest_argv(context, ["tests/a"], report)
    assert argv[1:] == ["-m", "pytest", "tests/a", f"--junitxml={report}"]


def test_the_child_gets_one_variable_naming_the_release_document(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWGATE_TARGET", "other")  # the plugin's own, must not leak in
    env = gate_env(project / "gate.release.json")
    assert env["FLOWGATE_RELEASE_FILE"] == str(project / "gate.release.json")
    assert "FLOWGATE_TARGET" not in env
    assert "FLOWGATE_RESULT_FILE" not in env
    assert env["FLOWGATE_PLUGINS"] == "flowgate.testing.fakes"


def test_a_service_path_with_a_comma_reaches_the_fixtures_as_one_path(project: Path) -> None:
    """`--service-path /a,b` is one path (commas are legal in URL paths); the old env-var
    hand-over split it in two."""
    context = context_of(project, service_path=["/a,b"])
    Engine(context).deploy()
    path = suite(
        project,
        "paths",
        "def test_paths(flow_context, flow_release):\n"
        "    assert flow_context.settings.service_path == ['/a,b']\n"
        "    assert flow_context.settings.sources['service_path'] == 'flag'\n"
        "    assert flow_release.color == 'blue'\n",
    )
    context = context_of(project, service_path=["/a,b"])
    result = run_gate(context=context, suites=[path], color=Color.BLUE, kind="gate")
    assert (result.exit_code, result.passed) == (0, 1)
    document = json.loads(
        (project / ".flowgate" / "reports" / "r1" / "gate.release.json").read_text()
    )
    assert document["settings"]["service_path"] == ["/a,b"]
    assert document["release"]["color"] == "blue"
    assert document["flow_color"] == "new"


def test_everything_the_gate_writes_is_owner_only(project: Path) -> None:
    Engine(open_context(project)).deploy()
    path = suite(project, "ok", PASSING)
    run_gate(context=context_of(project), suites=[path], color=Color.BLUE, kind="gate")
    state_dir = project / ".flowgate"
    found = list(state_dir.rglob("*"))
    assert any(p.name == "gate.xml" for p in found)
    assert any(p.name == "gate.release.json" for p in found)
    for item in [state_dir, *found]:
        mode = item.stat().st_mode & 0o777
        assert mode == (0o700 if item.is_dir() else 0o600), (item, oct(mode))


FLOW_SUITE = """
def test_the_plugin_sees_the_new_color(flow_release, flow_endpoints, flow_url):
    assert (flow_release.target, flow_release.color) == ("app", "blue")
    assert flow_release.project == "gatetest"
    assert flow_endpoints == ["127.0.0.1:20001", "127.0.0.1:20002"]
    assert flow_url == "http://127.0.0.1:20001"
"""


def test_engine_test_runs_the_suite_against_the_deployed_color(project: Path) -> None:
    """The whole path: Engine.test -> run_gate hook -> pytest process -> flowgate plugin
    opening the same project and finding the deployed color."""
    from flowgate.config.scale import parse_scale

    Engine(open_context(project)).deploy(parse_scale("2"))
    path = suite(project, "flow", FLOW_SUITE)
    result = Engine(open_context(project)).test([path])
    assert (result.exit_code, result.passed) == (0, 1)
    release = open_context(project).registry.releases("gatetest-app")[0]
    assert release.tests is not None and release.tests.passed == 1
    assert release.tests.report == str(
        (project / ".flowgate" / "reports" / release.id / "gate.xml").resolve()
    )


def test_engine_test_raises_gate_failed_on_a_failing_suite(project: Path) -> None:
    Engine(open_context(project)).deploy()
    path = suite(project, "bad", FAILING)
    with pytest.raises(GateFailed, match=r"test gate failed \(2 failed, 1 passed\)"):
        Engine(open_context(project)).test([path])


# -- the books-ms example's smoke suite, on a real Docker engine and a real HAProxy ----------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "books-ms"


@pytest.fixture
def books(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of examples/books-ms under its own project name and free proxy ports;
    its containers, network and HAProxy are removed afterwards, whatever happened."""
    import secrets
    import shutil
    import subprocess

    from flowgate.testing.projects import remove_project

    monkeypatch.delenv("FLOWGATE_PLUGINS", raising=False)
    subprocess.run(["bash", str(EXAMPLE.parents[1] / "scripts" / "build-images.sh")], check=True)
    project = tmp_path / "books"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".flowgate", "images"))
    name = f"gatebooks{secrets.token_hex(3)}"
    (project / "flowgate.yml").write_text(
        f"target: app\nside_targets: [db]\nproject: {name}\nservice_path: [/api/v1/books]\n"
        f"proxy: haproxy\nproxy_port: {free_port()}\npreview_port: {free_port()}\n"
        "tests: [tests/smoke]\nhealth_timeout: 30\ndrain_timeout: 0\n"
    )
    try:
        yield project
    finally:
        remove_project(name, project)


def books_engine(project: Path, version: str) -> Engine:
    return Engine(open_context(project, env={**os.environ, "BOOKS_VERSION": version}))


@pytest.mark.docker
@pytest.mark.haproxy
def test_books_smoke_suite_opens_the_gate_for_1_1_and_closes_it_for_1_2(books: Path) -> None:
    from flowgate.config.scale import parse_scale

    first = books_engine(books, "1.1").release(["tests/smoke"], [], parse_scale("2"))
    assert first is not None and first.tests is not None
    assert (first.tests.exit_code, first.tests.failed) == (0, 0), first.tests
    assert first.tests.passed >= 7  # every test, the per-instance one twice
    live = open_context(books).state.live_color
    with pytest.raises(GateFailed, match="test gate failed"):
        books_engine(books, "1.2").release(["tests/smoke"], [])
    context = open_context(books)
    assert context.state.live_color == live and context.state.new_color is None
    broken = context.registry.releases(context.service_name)[0]
    assert broken.tests is not None and broken.tests.exit_code == 1
    assert "tests/smoke/test_books_smoke.py::test_books_api_answers_json" in (
        broken.tests.failed_ids
    )
    assert broken.tests.report and Path(broken.tests.report).is_file()
