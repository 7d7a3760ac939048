"""flowgate's pytest plugin: point a test suite at one color of a target.

`pytest --flow-target=app [--flow-color=new|live|blue|green] [--flow-project-dir=DIR]`
(or the `flow_target`, `flow_color`, `flow_project_dir` ini keys, or the
`FLOWGATE_TARGET`, `FLOWGATE_COLOR`, `FLOWGATE_PROJECT_DIR` variables; option > env > ini)
gives tests the fixtures `flow_release`, `flow_endpoints`, `flow_url`, `flow_http`,
`flow_hosts`, `flow_context` and the per-instance `flow_instance`.

pytest loads this plugin into every test run on the machine (entry point `pytest11`), so
it must cost nothing when unused: only pytest and the standard library are imported here,
and the project is opened (flowgate, Docker SDK, requests, testinfra) only when a
collected test asks for a flow fixture. There are no autouse fixtures.
"""

from __future__ import annotations

import json
import os
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
RESULT_FILE_ENV = "FLOWGATE_RESULT_FILE"


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


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(RESULT_FILE_ENV)
    if path:
        config.pluginmanager.register(FailedIds(Path(path)), "flowgate-failed-ids")


def pytest_report_header(config: pytest.Config) -> str | None:
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
        try:
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

    try:
        context = open_context(options.project_dir, flags={"target": options.target})
        config.stash[_CONTEXT] = context
        return describe(context, options.color)
    except FlowgateError as err:
        raise FlowUsageError(f"flowgate: {err}") from err


def describe(context: ReleaseContext, wanted: str) -> FlowRelease:
    """Which color `wanted` names now, its running instances and how to reach them."""
    from flowgate.engine.steps import build_route, running
    from flowgate.models import Color

    state, target = context.state, context.target
    live, new = state.live_color, state.new_color
    if wanted == "new":
        if new is None:
            raise FlowUsageError(
                f"no new color of {target} is deployed: run `flowgate deploy` first"
            )
        color = new
    elif wanted == "live":
        if live is None:
            raise FlowUsageError(f"no color of {target} is live yet: promote a release first")
        color = live
    else:
        color = Color(wanted)
    instances = running(context, color)
    if not instances:
        raise FlowUsageError(f"{context.service_name} has no running {color} instance")
    route = build_route(context, live, new if new and running(context, new) else None)
    url, headers = None, {}
    if color == new:
        url, headers = context.proxy.preview_url(route), context.proxy.preview_headers(route)
    elif color == live:
        url = context.proxy.public_url(route)
    releases = context.registry.iter_releases(context.service_name)
    return FlowRelease(
        project=context.project,
        target=target,
        color=color,
        live_color=live,
        new_color=new,
        release_id=next((r.id for r in releases if r.color == color), None),
        instances=instances,
        url=base_url(url, route.paths) if url else f"http://{instances[0].address}",
        headers=dict(headers) if url else {},
    )


def base_url(url: str, service_paths: tuple[str, ...]) -> str:
    """The proxy's URL without the service path it may end in (HAProxy's names the
    route's first path), so suites use the service's own absolute paths through any
    proxy and directly against an instance alike."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path and path in {p.rstrip("/") for p in service_paths}:
        return f"{parts.scheme}://{parts.netloc}"
    return url.rstrip("/")


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
    return request.config.stash[_CONTEXT]


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
