"""flowgate's pytest plugin, driven with pytester against a project on the fake backends.

The fake runtime and proxy (flowgate.testing.fakes) stand in for Docker and HAProxy,
which these tests do not need; the registry is the real file registry. `flow_http` is
tested against a real local HTTP server behind a fake proxy whose preview route points
at it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

import flowgate.testing.fakes  # noqa: F401  (imported once here, not per in-process run)
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.engine.workspace import open_context
from flowgate.pytest_plugin import DEFAULT_TIMEOUT, session_class

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _runs_in_a_subprocess(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every inner pytest runs in its own process. In process, CPython 3.11.7's AST
    recursion-depth bug (gh-106905, fixed in later 3.11 releases) made the inner run's
    traceback rendering fail now and then at pytest-in-pytest stack depths ("SystemError:
    AST constructor recursion depth mismatch", exit 3): a flaky gate is no gate."""
    monkeypatch.setattr(pytester, "runpytest", pytester.runpytest_subprocess)


COMPOSE = "services:\n  app:\n    image: x\n    ports: ['8080']\n"
ENV_VARS = ("FLOWGATE_TARGET", "FLOWGATE_COLOR", "FLOWGATE_PROJECT_DIR", "FLOWGATE_RELEASE_FILE")

PREVIEW_PROXY = '''
"""Test double: the fake proxy, with its preview and public routes on a real local server."""
import os

from flowgate import hookimpl
from flowgate.testing.fakes import FakeProxy


class PreviewProxy(FakeProxy):
    name = "previewtest"

    def preview_url(self, route):
        return os.environ["FLOWTEST_PREVIEW_URL"] if route.preview else None

    def preview_headers(self, route):
        return {"X-Flowgate-Preview": str(route.preview_color)}

    def public_url(self, route):
        return os.environ.get("FLOWTEST_PUBLIC_URL")


@hookimpl
def flowgate_backends():
    return [PreviewProxy]
'''


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A flowgate project (project name `plug`), outside pytester's own folder."""
    root = tmp_path_factory.mktemp("flowproject")
    (root / "docker-compose.yml").write_text(COMPOSE)
    (root / "flowgate.yml").write_text(
        "target: app\nruntime: fake\nproxy: fake\nproject: plug\ndrain_timeout: 0\n"
    )
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return root


def deploy(project: Path, count: int = 2) -> str:
    release = Engine(open_context(project)).deploy(parse_scale(str(count)))
    return release.id


def flags(project: Path, *extra: str) -> list[str]:
    return ["--flow-target=app", f"--flow-project-dir={project}", "-p", "no:cacheprovider", *extra]


# -- options, ini keys, environment and their precedence ------------------------------------

PROBE = """
from flowgate.pytest_plugin import flow_options

def test_probe(request):
    o = flow_options(request.config)
    print(f"\\nOPTIONS|{o.target}|{o.color}|{o.project_dir}|")
"""


def probe(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makepyfile(test_probe=PROBE)
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    line = next(x for x in result.stdout.lines if x.startswith("OPTIONS|"))
    return line.split("|")[1:4]


def test_defaults_are_no_target_the_new_color_and_the_current_folder(
    pytester: pytest.Pytester, project: Path
) -> None:
    assert probe(pytester) == ["None", "new", str(pytester.path)]


def test_each_setting_comes_from_its_option(pytester: pytest.Pytester, project: Path) -> None:
    args = ("--flow-target=opt", "--flow-color=live", "--flow-project-dir=sub")
    assert probe(pytester, *args) == ["opt", "live", str(pytester.path / "sub")]


def test_each_setting_comes_from_its_environment_variable(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWGATE_TARGET", "env")
    monkeypatch.setenv("FLOWGATE_COLOR", "green")
    monkeypatch.setenv("FLOWGATE_PROJECT_DIR", str(project))
    assert probe(pytester) == ["env", "green", str(project)]


def test_each_setting_comes_from_its_ini_key_relative_to_the_ini_file(
    pytester: pytest.Pytester, project: Path
) -> None:
    pytester.makeini("[pytest]\nflow_target = ini\nflow_color = blue\nflow_project_dir = deploy\n")
    (pytester.path / "tests").mkdir()
    assert probe(pytester) == ["ini", "blue", str(pytester.path / "deploy")]


def test_option_beats_environment_beats_ini(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nflow_target = ini\nflow_color = blue\nflow_project_dir = ini\n")
    monkeypatch.setenv("FLOWGATE_TARGET", "env")
    monkeypatch.setenv("FLOWGATE_COLOR", "green")
    assert probe(pytester, "--flow-target=opt") == ["opt", "green", str(pytester.path / "ini")]


def test_a_bad_color_names_its_source(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWGATE_COLOR", "purple")
    pytester.makepyfile("def test_x(flow_release):\n    pass\n")
    result = pytester.runpytest(*flags(project))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: FLOWGATE_COLOR: expected new, live, blue or green, got 'purple'"]
    )
    bad = pytester.runpytest(*flags(project, "--flow-color=purple"))
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--flow-color: invalid choice: 'purple'*"])


def test_the_header_names_target_color_and_project(
    pytester: pytest.Pytester, project: Path
) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(*flags(project, "--flow-color=live"))
    result.stdout.fnmatch_lines([f"flowgate: target app, color live, project {project}"])


# -- fixtures ---------------------------------------------------------------------------------


def test_fixtures_describe_the_new_color(pytester: pytest.Pytester, project: Path) -> None:
    release_id = deploy(project)
    pytester.makepyfile(
        f"""
        def test_release(flow_release, flow_endpoints, flow_url, flow_context):
            assert (flow_release.project, flow_release.target) == ("plug", "app")
            assert (flow_release.color, flow_release.new_color) == ("blue", "blue")
            assert flow_release.live_color is None
            assert flow_release.release_id == {release_id!r}
            assert [i.name for i in flow_release.instances] == [
                "plug_app-blue_1", "plug_app-blue_2"
            ]
            assert flow_endpoints == ["127.0.0.1:20001", "127.0.0.1:20002"]
            assert flow_url == "http://127.0.0.1:20001"  # the fake proxy's preview route
            assert flow_context.service_name == "plug-app"
        """
    )
    result = pytester.runpytest(*flags(project))
    result.assert_outcomes(passed=1)


def test_live_and_named_colors(pytester: pytest.Pytester, project: Path) -> None:
    """blue promoted and live, green deployed as the new color."""
    deploy(project)
    Engine(open_context(project)).promote()
    deploy(project, count=1)
    pytester.makepyfile(
        """
        def test_color(flow_release, flow_endpoints, request):
            wanted = request.config.getoption("flow_color")
            expected = {"live": "blue", "blue": "blue", "new": "green", "green": "green"}
            assert flow_release.color == expected[wanted]
            assert (flow_release.live_color, flow_release.new_color) == ("blue", "green")
            assert len(flow_endpoints) == (1 if flow_release.color == "green" else 2)
        """
    )
    for color in ("live", "blue", "new", "green"):
        pytester.runpytest(*flags(project, f"--flow-color={color}")).assert_outcomes(passed=1)


def test_flow_instance_runs_a_test_once_per_instance(
    pytester: pytest.Pytester, project: Path
) -> None:
    deploy(project, count=3)
    pytester.makepyfile(
        """
        def test_each(flow_instance, flow_endpoints):
            assert flow_instance.address in flow_endpoints
            assert flow_instance.color == "blue"

        def test_plain():
            pass
        """
    )
    result = pytester.runpytest(*flags(project, "-v"))
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*::test_each[[]plug_app-blue_1[]] PASSED*",
            "*::test_each[[]plug_app-blue_2[]] PASSED*",
            "*::test_each[[]plug_app-blue_3[]] PASSED*",
            "*::test_plain PASSED*",
        ]
    )


def test_flow_hosts_are_testinfra_docker_hosts_of_the_containers(
    pytester: pytest.Pytester, project: Path
) -> None:
    """Only the hosts' identity here: the fake containers cannot run commands. The
    books-ms smoke suite runs commands in real containers through them."""
    deploy(project)
    pytester.makepyfile(
        """
        def test_hosts(flow_hosts, flow_release):
            assert [h.backend.NAME for h in flow_hosts] == ["docker", "docker"]
            assert [h.backend.name for h in flow_hosts] == [
                i.id for i in flow_release.instances
            ]
        """
    )
    pytester.runpytest(*flags(project)).assert_outcomes(passed=1)


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("X-Flowgate-Preview")))
        if self.path == "/slow":
            time.sleep(2)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A real HTTP server on a free loopback port, recording what it was asked."""
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_flow_http_goes_through_the_preview_route_with_its_headers(
    pytester: pytest.Pytester,
    project: Path,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "flowtest_preview_proxy.py").write_text(PREVIEW_PROXY)
    monkeypatch.syspath_prepend(str(tmp_path))  # this test's engine imports the plugin
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # and so does the inner pytest
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes,flowtest_preview_proxy")
    monkeypatch.setenv("FLOWTEST_PREVIEW_URL", server + "/")
    (project / "flowgate.yml").write_text(
        "target: app\nruntime: fake\nproxy: previewtest\nproject: plug\n"
    )
    deploy(project)
    pytester.makepyfile(
        f"""
        def test_http(flow_http, flow_url):
            assert flow_url == {server!r}
            assert flow_http.timeout == {DEFAULT_TIMEOUT!r}
            response = flow_http.get("/api/v1/books?x=1")
            assert response.status_code == 200
            assert response.json() == {{"path": "/api/v1/books?x=1"}}
            assert flow_http.get("health").json() == {{"path": "/health"}}
            assert flow_http.get({server!r} + "/abs").json() == {{"path": "/abs"}}
        """
    )
    pytester.runpytest(*flags(project)).assert_outcomes(passed=1)
    assert Recorder.seen == [
        ("/api/v1/books?x=1", "blue"),
        ("/health", "blue"),
        ("/abs", "blue"),
    ]


def test_flow_session_applies_its_default_timeout(server: str) -> None:
    session = session_class()(server, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.get("/slow")
    assert time.monotonic() - started < 1.5
    assert session.get("/fast", timeout=5).json() == {"path": "/fast"}


# -- clear errors -----------------------------------------------------------------------------


def test_a_flow_fixture_without_a_target_is_a_usage_error(
    pytester: pytest.Pytester, project: Path
) -> None:
    pytester.makepyfile("def test_a(flow_url):\n    pass\n\ndef test_b(flow_http):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: a test uses flowgate fixtures but no target is set: pass --flow-target=NAME*"]
    )


def test_no_new_color_is_a_usage_error(pytester: pytest.Pytester, project: Path) -> None:
    pytester.makepyfile("def test_a(flow_instance):\n    pass\n")
    result = pytester.runpytest(*flags(project))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: no new color of app is deployed: run `flowgate deploy` first"]
    )


def test_a_broken_project_is_a_usage_error_naming_the_problem(
    pytester: pytest.Pytester, project: Path
) -> None:
    (project / "flowgate.yml").write_text("target: app\nbogus: 1\n")
    pytester.makepyfile("def test_a(flow_release):\n    pass\n")
    result = pytester.runpytest(*flags(project))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: flowgate: flowgate.yml: bogus: unknown key"])


def test_runs_without_flow_fixtures_need_no_target(
    pytester: pytest.Pytester, project: Path
) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, flowgate.pytest_plugin\n"
        "heavy = [m for m in ('docker', 'requests', 'testinfra', 'yaml', 'flowgate.engine')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_run_not_using_it_opens_no_project(pytester: pytest.Pytester, project: Path) -> None:
    """In a real pytest process (not in-process): nothing of flowgate's engine, Docker
    or requests is imported, even with a target configured."""
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy():
            heavy = [m for m in ("docker", "requests", "flowgate.engine") if m in sys.modules]
            assert heavy == []
        """
    )
    result = pytester.runpytest_subprocess(*flags(project))
    result.assert_outcomes(passed=1)


# -- the failed-ids file the gate reads ---------------------------------------------------------


def test_failed_node_ids_are_written_for_the_gate(
    pytester: pytest.Pytester, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "ids.json"
    document = {
        "format": 1,
        "project_dir": str(project),
        "release": {},
        "problem": "no flow fixture is used here",
        "settings": {},
        "result_file": str(out),
        "parent_pid": None,  # in-process runs: never tie this test process to its parent
    }
    (tmp_path / "release.json").write_text(json.dumps(document))
    monkeypatch.setenv("FLOWGATE_RELEASE_FILE", str(tmp_path / "release.json"))
    pytester.makepyfile(
        test_ids="""
        import pytest

        @pytest.fixture
        def bad_teardown():
            yield
            raise RuntimeError("teardown")

        def test_ok():
            pass

        @pytest.mark.parametrize("n", [1, 2])
        def test_fails(n):
            assert n == 1

        def test_teardown(bad_teardown):
            pass
        """,
        test_broken="import nowhere_to_be_found\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # the collection error
    pytester.runpytest("-p", "no:cacheprovider", "test_ids.py")
    data = json.loads(out.read_text())
    assert data == {
        "failed_ids": ["test_ids.py::test_fails[2]", "test_ids.py::test_teardown"],
        "exit_status": 1,
    }
    pytester.runpytest("-p", "no:cacheprovider", "test_broken.py")
    assert json.loads(out.read_text())["failed_ids"] == ["test_broken.py"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8001/api/v1/books", "http://127.0.0.1:8001"),  # HAProxy's style
        ("http://127.0.0.1:8001/api/v1/books/", "http://127.0.0.1:8001"),
        ("http://127.0.0.1:8001/", "http://127.0.0.1:8001"),
        ("http://proxy/prefix", "http://proxy/prefix"),  # not a service path: kept
    ],
)
def test_flow_url_drops_the_service_path_a_proxy_url_ends_in(url: str, expected: str) -> None:
    from flowgate.pytest_plugin import base_url

    assert base_url(url, ("/api/v1/books",)) == expected
