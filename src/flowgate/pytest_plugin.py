"""flowgate's pytest plugin: point a test suite at one color of a target.

`pytest --flow-target=app [--flow-color=new|live|blue|green] [--flow-project-dir=DIR]`
(or the `flow_target`, `flow_color`, `flow_project_dir` ini keys, or the
`FLOWGATE_TARGET`, `FLOWGATE_COLOR`, `FLOWGATE_PROJECT_DIR` variables; option > env > ini)
gives tests the fixtures `flow_release`, `flow_endpoints`, `flow_url`, `flow_http`,
`flow_hosts`, `flow_context` and the per-instance `flow_instance`.

Under `flowgate release` / `test` the suite's pytest gets the release as one JSON document
named by FLOWGATE_RELEASE_FILE (see flowgate.release_doc) instead: it wins over the
options, and the process is tied to flowgate's so that it dies with it, even when
flowgate is killed with SIGKILL.

pytest loads this plugin into every test run on the machine (entry point `pytest11`), so
it must cost nothing when unused: only pytest and the standard library are imported here,
and the project is opened (flowgate, Docker SDK, requests, testinfra) only when a
collected test asks for a flow fixture. There are no autouse fixtures.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import requests

    from flowgate.engine.context import ReleaseContext
    from flowgate.models import Color, Instance

COLORS = ("new", "live", "blue", "green")
FLOW_FIXTURES = frozenset(
    {
        "flow_context",
        "flow_release",
        "flow_endpoints",
        "flow_url",
        "flow_http",
        "flow_hosts",
        "flow_instance",
    }
)
#: (connect, read) seconds for `flow_http` requests that name no timeout.
DEFAULT_TIMEOUT = (3.05, 10.0)
#: Names the release document a gate's pytest receives (flowgate.release_doc).
RELEASE_FILE_ENV = "FLOWGATE_RELEASE_FILE"
PR_SET_PDEATHSIG = 1


class FlowUsageError(Exception):
    """The suite asked for a color flowgate cannot give it; the message says what to do."""


@dataclass(frozen=True)
class FlowOptions:
    target: str | None
    color: str
    project_dir: Path


@dataclass(frozen=True)
class FlowRelease:
    """The color under test. `color` is always blue or green, whatever `--flow-color`."""

    project: str
    target: str
    color: Color
    live_color: Color | None
    new_color: Color | None
    release_id: str | None
    instances: tuple[Instance, ...]  # the color's running instances, by index
    url: str  # what `flow_url` returns
    headers: dict[str, str] = field(default_factory=dict)  # the proxy's preview headers

    @property
    def endpoints(self) -> list[str]:
        return [instance.address for instance in self.instances]


# -- options --------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flowgate", "flowgate: test one color of a target")
    group.addoption(
        "--flow-target", dest="flow_target", help="Compose service to test (env FLOWGATE_TARGET)"
    )
    group.addoption(
        "--flow-color",
        dest="flow_color",
        choices=COLORS,
        help="color to test: new (default), live, blue or green (env FLOWGATE_COLOR)",
    )
    group.addoption(
        "--flow-project-dir",
        dest="flow_project_dir",
        help="flowgate project folder (default: current folder; env FLOWGATE_PROJECT_DIR)",
    )
    parser.addini("flow_target", "flowgate: Compose service to test", default="")
    parser.addini("flow_color", "flowgate: new, live, blue or green", default="")
    parser.addini(
        "flow_project_dir", "flowgate: project folder (relative to the ini file)", default=""
    )


def flow_options(config: pytest.Config) -> FlowOptions:
    """Option > environment variable > ini key > default, for each of the three."""
    here = config.invocation_params.dir
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    found: dict[str, tuple[str, str, Path]] = {}
    for name, env in (
        ("target", "FLOWGATE_TARGET"),
        ("color", "FLOWGATE_COLOR"),
        ("project_dir", "FLOWGATE_PROJECT_DIR"),
    ):
        option = config.getoption(f"flow_{name}")
        ini = str(config.getini(f"flow_{name}") or "")
        if option:
            found[name] = (str(option), f"--flow-{name.replace('_', '-')}", here)
        elif os.environ.get(env):
            found[name] = (os.environ[env], env, here)
        elif ini:
            found[name] = (ini, f"ini key flow_{name}", ini_dir)
    color, source, _ = found.get("color", ("new", "default", here))
    if color not in COLORS:
        raise FlowUsageError(f"{source}: expected new, live, blue or green, got {color!r}")
    target = found["target"][0] if "target" in found else None
    raw_dir, _, base = found.get("project_dir", (".", "default", here))
    return FlowOptions(target, color, (base / raw_dir).resolve())


_DOCUMENT = pytest.StashKey["dict[str, Any]"]()


def release_document(config: pytest.Config) -> dict[str, Any] | None:
    """The release document of a gate run, None when pytest was started by hand."""
    return config.stash.get(_DOCUMENT, None)


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RELEASE_FILE_ENV)
    if not path:
        return
    from flowgate.release_doc import read_document

    try:
        document = read_document(path)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None
    config.stash[_DOCUMENT] = document
    die_with_parent(document.get("parent_pid"))
    if document.get("result_file"):
        config.pluginmanager.register(
            FailedIds(Path(document["result_file"])), "flowgate-failed-ids"
        )


def die_with_parent(parent_pid: Any) -> None:
    """End this pytest and everything in its process group when flowgate ends, however
    it ends: the kernel sends SIGTERM when the parent dies (PR_SET_PDEATHSIG, which a
    SIGKILL of the parent triggers too), and SIGTERM kills the whole group at once.
    (The kernel ties this to the parent *thread* that started pytest: the gate waits for
    pytest in that thread, so it outlives the run.)"""
    import ctypes

    if not isinstance(parent_pid, int) or isinstance(parent_pid, bool):
        return

    def on_term(signum: int, frame: Any) -> None:
        if os.getpgrp() == os.getpid():  # the gate starts pytest as a group leader
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the check below still covers a dead parent
        pass
    if os.getppid() != parent_pid:  # the parent died before the prctl above
        on_term(signal.SIGTERM, None)


def pytest_report_header(config: pytest.Config) -> str | None:
    document = release_document(config)
    if document is not None:
        release = document["release"]
        return (
            f"flowgate: target {release.get('target')}, color {release.get('color')} "
            f"({document.get('flow_color')}), project {document['project_dir']}"
        )
    try:
        options = flow_options(config)
    except FlowUsageError:
        return None  # reported when a test asks for a flow fixture
    if not options.target:
        return None
    return (
        f"flowgate: target {options.target}, color {options.color}, project {options.project_dir}"
    )


# -- opening the project, once per session, only when a test needs it ----------------------

_FLOW = pytest.StashKey["FlowRelease | FlowUsageError"]()
_CONTEXT = pytest.StashKey["ReleaseContext"]()


def open_flow(config: pytest.Config) -> FlowRelease:
    """Resolve the color under test once per session (a failure is remembered too)."""
    known = config.stash.get(_FLOW, None)
    if known is None:
        document = release_document(config)
        try:
            if document is not None:
                known = from_document(document)
            else:
                known = resolve(config, flow_options(config))
        except FlowUsageError as err:
            known = err
        config.stash[_FLOW] = known
    if isinstance(known, FlowUsageError):
        raise known
    return known


def resolve(config: pytest.Config, options: FlowOptions) -> FlowRelease:
    if not options.target:
        raise FlowUsageError(
            "a test uses flowgate fixtures but no target is set: pass --flow-target=NAME, "
            "set FLOWGATE_TARGET or the flow_target ini key"
        )
    from flowgate.engine.workspace import open_context
    from flowgate.errors import FlowgateError
    from flowgate.release_doc import DescribeError, describe

    try:
        context = open_context(options.project_dir, flags={"target": options.target})
        config.stash[_CONTEXT] = context
        return release_from_mapping(describe(context, options.color))
    except DescribeError as err:
        raise FlowUsageError(str(err)) from err
    except FlowgateError as err:
        raise FlowUsageError(f"flowgate: {err}") from err


def from_document(document: dict[str, Any]) -> FlowRelease:
    """The release a gate described; its own problem (no new color...) as a usage error."""
    if document.get("problem"):
        raise FlowUsageError(str(document["problem"]))
    try:
        return release_from_mapping(document["release"])
    except (KeyError, TypeError, ValueError) as err:
        raise FlowUsageError(f"{RELEASE_FILE_ENV}: damaged release document ({err})") from err


def release_from_mapping(data: dict[str, Any]) -> FlowRelease:
    """A FlowRelease from `flowgate.release_doc.describe`'s mapping."""
    from flowgate.models import Color, Instance

    def color(value: Any) -> Color | None:
        return Color(value) if value else None

    instances = tuple(
        Instance(
            name=str(item["name"]),
            address=str(item["address"]),
            state=str(item["state"]),
            healthy=bool(item["healthy"]),
            color=color(item.get("color")),
            id=str(item.get("id") or ""),
            node=str(item.get("node") or ""),
            image=str(item.get("image") or ""),
            release=str(item.get("release") or ""),
        )
        for item in data["instances"]
    )
    chosen = color(data["color"])
    assert chosen is not None
    return FlowRelease(
        project=str(data["project"]),
        target=str(data["target"]),
        color=chosen,
        live_color=color(data.get("live_color")),
        new_color=color(data.get("new_color")),
        release_id=data.get("release_id"),
        instances=instances,
        url=str(data["url"]),
        headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
    )


def open_document_context(config: pytest.Config, document: dict[str, Any]) -> ReleaseContext:
    """The project as the gate's flowgate saw it: its settings, every one, as flags."""
    from flowgate.engine.workspace import open_context
    from flowgate.errors import FlowgateError

    try:
        return open_context(Path(document["project_dir"]), flags=document["settings"])
    except FlowgateError as err:
        raise FlowUsageError(f"flowgate: {err}") from err


def base_url(url: str, service_paths: tuple[str, ...]) -> str:
    from flowgate.release_doc import base_url as strip

    return strip(url, service_paths)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for `flow_instance` runs once per running instance of the color."""
    if "flow_instance" not in metafunc.fixturenames:
        return
    try:
        flow = open_flow(metafunc.config)
    except FlowUsageError:
        return  # reported once, as a usage error, when collection finishes
    ids = [instance.name for instance in flow.instances]
    metafunc.parametrize("flow_instance", flow.instances, ids=ids, indirect=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail the whole run with one clear message, not one error per test."""
    wanted = (FLOW_FIXTURES.intersection(getattr(i, "fixturenames", ())) for i in session.items)
    if any(wanted):
        try:
            open_flow(session.config)
        except FlowUsageError as err:
            raise pytest.UsageError(str(err)) from None


# -- fixtures -------------------------------------------------------------------------------


def _flow(request: pytest.FixtureRequest) -> FlowRelease:
    try:
        return open_flow(request.config)
    except FlowUsageError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def flow_release(request: pytest.FixtureRequest) -> FlowRelease:
    """Target, color (blue/green), live and new color, release id and instances."""
    return _flow(request)


@pytest.fixture(scope="session")
def flow_context(request: pytest.FixtureRequest) -> ReleaseContext:
    """The opened flowgate project, for tests that need a backend directly."""
    _flow(request)
    context = request.config.stash.get(_CONTEXT, None)
    if context is None:
        document = release_document(request.config)
        assert document is not None  # otherwise _flow opened the project
        try:
            context = open_document_context(request.config, document)
        except FlowUsageError as err:
            pytest.fail(str(err), pytrace=False)
        request.config.stash[_CONTEXT] = context
    return context


@pytest.fixture(scope="session")
def flow_endpoints(flow_release: FlowRelease) -> list[str]:
    """`host:port` of every running instance of the color."""
    return flow_release.endpoints


@pytest.fixture(scope="session")
def flow_url(flow_release: FlowRelease) -> str:
    """Base URL of the color: the proxy's preview route for the new color, its public
    route for the live one, else the first instance directly. No trailing slash."""
    return flow_release.url


@pytest.fixture
def flow_http(flow_release: FlowRelease) -> Iterator[requests.Session]:
    """A requests session: relative URLs resolve against `flow_url`, requests time out
    after DEFAULT_TIMEOUT unless they say otherwise, and carry the preview headers."""
    with session_class()(flow_release.url, flow_release.headers) as session:
        yield session


@pytest.fixture(scope="session")
def flow_hosts(flow_release: FlowRelease) -> list[Any]:
    """pytest-testinfra hosts, one per running container of the color."""
    import testinfra

    return [testinfra.get_host(f"docker://{i.id}") for i in flow_release.instances]


@pytest.fixture
def flow_instance(request: pytest.FixtureRequest) -> Instance:
    """One running instance; a test using it runs once per instance (id: its name)."""
    if not hasattr(request, "param"):
        pytest.fail(str(FlowUsageError("flow_instance is not parametrized")), pytrace=False)
    instance: Instance = request.param
    return instance


# -- the HTTP session -----------------------------------------------------------------------


@cache
def session_class() -> Callable[..., requests.Session]:
    """`FlowSession`, built on first use so `requests` is imported only then."""
    import requests

    class FlowSession(requests.Session):
        """A Session whose relative URLs resolve against `base_url`, with a default
        timeout, so a hung color fails the test instead of hanging the gate."""

        def __init__(
            self,
            base_url: str,
            headers: dict[str, str] | None = None,
            timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        ) -> None:
            super().__init__()
            self.base_url = base_url.rstrip("/")
            self.timeout = timeout
            self.headers.update(headers or {})

        def url(self, path: str) -> str:
            if "://" in path:
                return path
            return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

        def request(
            self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
        ) -> requests.Response:
            kwargs.setdefault("timeout", self.timeout)
            text = url.decode() if isinstance(url, bytes) else url
            return super().request(method, self.url(text), *args, **kwargs)

    return FlowSession


def __getattr__(name: str) -> Any:
    """`from flowgate.pytest_plugin import FlowSession` works, importing requests then."""
    if name == "FlowSession":
        return session_class()
    raise AttributeError(name)


# -- failed node ids for the gate -------------------------------------------------------------


class FailedIds:
    """Records every node id that failed or errored in any phase (collection included)
    and writes them as JSON at session end, for flowgate's gate to keep with the release."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ids: dict[str, None] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.ids[report.nodeid] = None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.ids[report.nodeid] = None

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        data = {"failed_ids": list(self.ids), "exit_status": int(exitstatus)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=1), encoding="utf-8")
