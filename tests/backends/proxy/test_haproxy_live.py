"""Real HAProxy end to end: tiny HTTP backends on loopback, real switches, real reloads.

A recording client hammers the public port with fresh and keep-alive connections during
every change and keeps every status it saw; a single failed request fails the test.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_checks import Backend, get

from flowgate.backends.base import Route
from flowgate.backends.proxy import haproxy as haproxy_module
from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy import HAProxyProxy, stop_haproxy
from flowgate.backends.proxy.haproxy_process import master_pid, pid_alive
from flowgate.config.settings import load_settings
from flowgate.errors import ConfigError, ReleaseFailed
from flowgate.models import Color, Instance
from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder

pytestmark = pytest.mark.haproxy
SERVICE = "shop-app"


@pytest.fixture
def backends() -> Iterator[dict[str, Backend]]:
    made = {name: Backend(name) for name in ("blue1", "green1", "green2", "green3", "green4")}
    yield made
    for backend in made.values():
        backend.close()


def make_proxy(project_dir: Path, **flags: object) -> HAProxyProxy:
    """A project's HAProxy backend; its shared HAProxies live in the test's own folder."""
    base = {
        "proxy_port": free_port(),
        "preview_port": free_port(),
        "haproxy_dir": str(project_dir / ".haproxy"),
    }
    settings = load_settings(
        project_dir, flags={**base, **flags}, env={}, extra_keys=HAProxyProxy.config_keys
    )
    return HAProxyProxy(settings)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[HAProxyProxy]:
    project = tmp_path / "shop"
    project.mkdir()
    backend = make_proxy(project, health_timeout=10)
    yield backend
    backend.shutdown()


def route(backends: dict[str, Backend], live: list[str], preview: list[str], **kw: object) -> Route:
    return Route(
        service=str(kw.get("service", SERVICE)),
        paths=tuple(kw.get("paths", ("/",))),  # type: ignore[arg-type]
        live_color=Color.BLUE if live and live[0].startswith("blue") else Color.GREEN,
        live=tuple(backends[name].instance for name in live),
        preview_color=Color.GREEN if preview else None,
        preview=tuple(backends[name].instance for name in preview),
    )


def ports(proxy: HAProxyProxy) -> tuple[int, int]:
    return int(proxy.settings.proxy_port), int(proxy.settings.preview_port)


def test_public_preview_switch_and_scale_lose_no_request(
    proxy: HAProxyProxy, backends: dict[str, Backend]
) -> None:
    public, preview = ports(proxy)
    proxy.apply(route(backends, ["blue1"], ["green1"]))
    assert get(public) == (200, "blue1")
    assert get(preview) == (200, "green1")
    # Header preview is off by default: the guessable service name gets the live color.
    assert get(public, headers={"X-Flowgate-Preview": SERVICE}) == (200, "blue1")
    assert proxy.preview_headers(route(backends, ["blue1"], ["green1"])) == {}
    started = control.show_proc(proxy.files)

    with TrafficRecorder(f"http://127.0.0.1:{public}/") as recorder:
        time.sleep(0.3)
        proxy.apply(route(backends, ["green1"], []))  # promote: a runtime switch
        assert get(public) == (200, "green1")
        proxy.apply(route(backends, ["green1", "green2", "green3"], []))  # scale 1 -> 3
        seen = {get(public)[1] for _ in range(12)}
        assert seen == {"green1", "green2", "green3"}
        time.sleep(0.3)
        proxy.apply(route(backends, ["green1"], []))  # scale back to 1
        assert {get(public)[1] for _ in range(6)} == {"green1"}
        proxy.apply(route(backends, ["blue1"], []))  # roll back to blue
        assert get(public) == (200, "blue1")
        time.sleep(0.3)

    assert recorder.failures == [], recorder.summary()
    assert len(recorder.samples) > 100
    assert {"blue1", "green1", "green2", "green3"} <= set(recorder.answers())
    after = control.show_proc(proxy.files)
    assert (after.reloads, after.workers) == (started.reloads, started.workers)
    assert "127.0.0.1:0" not in proxy.files.config.read_text().split("backend shop-app.live")[1]
    assert backends["blue1"].instance.address in proxy.files.config.read_text()


def test_header_preview_needs_this_releases_secret(
    tmp_path: Path, backends: dict[str, Backend]
) -> None:
    """With `preview_header: true` only the current preview's secret reaches the untested
    color; a new preview gets a new secret (through the Runtime API, no reload) and the
    old one stops working; no preview, no secret."""
    proxy = make_proxy(tmp_path, preview_header=True)
    try:
        public, _ = ports(proxy)
        first = route(backends, ["blue1"], ["green1"])
        proxy.apply(first)
        secret = proxy.preview_headers(first)["X-Flowgate-Preview"]
        assert len(secret) >= 32 and SERVICE not in secret
        assert get(public, headers={"X-Flowgate-Preview": secret}) == (200, "green1")
        for guess in (SERVICE, f"{SERVICE}-green", secret[:-1], ""):
            assert get(public, headers={"X-Flowgate-Preview": guess}) == (200, "blue1")
        started = control.show_proc(proxy.files)

        proxy.apply(route(backends, ["blue1"], ["green1"]))  # same preview: same secret
        assert proxy.preview_headers(first)["X-Flowgate-Preview"] == secret
        second = route(backends, ["blue1"], ["green2"])  # the next release's preview
        proxy.apply(second)
        renewed = proxy.preview_headers(second)["X-Flowgate-Preview"]
        assert renewed != secret
        assert get(public, headers={"X-Flowgate-Preview": renewed}) == (200, "green2")
        assert get(public, headers={"X-Flowgate-Preview": secret}) == (200, "blue1")
        assert control.show_proc(proxy.files).reloads == started.reloads

        proxy.apply(route(backends, ["green2"], []))  # promoted: no preview, no secret
        assert proxy.preview_headers(second) == {}
        assert get(public, headers={"X-Flowgate-Preview": renewed}) == (200, "green2")
        assert proxy.files.preview_map.read_text() == ""
        assert oct(proxy.files.routes.stat().st_mode & 0o777) == "0o600"
    finally:
        proxy.shutdown()


def test_structural_change_reloads_without_losing_requests(
    proxy: HAProxyProxy, backends: dict[str, Backend]
) -> None:
    public, _ = ports(proxy)
    proxy.apply(route(backends, ["blue1"], []))
    before = control.show_proc(proxy.files)
    with TrafficRecorder(f"http://127.0.0.1:{public}/") as recorder:
        time.sleep(0.3)
        proxy.apply(route(backends, ["green1"], [], service="shop-api", paths=("/api",)))
        time.sleep(0.3)
        # Four new servers do not fit the three free slots: capacity grows, a reload too.
        live = ["blue1", "green1", "green2", "green3", "green4"]
        proxy.apply(route(backends, live, []))
        time.sleep(0.3)
    after = control.show_proc(proxy.files)
    assert recorder.failures == [], recorder.summary()
    assert after.reloads == before.reloads + 2
    assert after.failed == before.failed
    assert set(after.workers).isdisjoint(before.workers)
    assert get(public, "/api/items") == (200, "green1")
    assert {get(public)[1] for _ in range(10)} == {f"green{i}" for i in range(1, 5)} | {"blue1"}
    assert "server s16 " in proxy.files.config.read_text()


def test_broken_config_is_refused_and_old_routing_keeps_serving(
    proxy: HAProxyProxy, backends: dict[str, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    public, _ = ports(proxy)
    proxy.apply(route(backends, ["blue1"], []))
    config = proxy.files.config.read_bytes()
    routes = proxy.files.routes.read_bytes()
    broken = haproxy_module.render
    monkeypatch.setattr(haproxy_module, "render", lambda *a: broken(*a) + "\nbogus-keyword x\n")
    with pytest.raises(ReleaseFailed, match=r"invalid, nothing applied: \[ALERT\].*bogus-keyword"):
        proxy.apply(route(backends, ["green1"], [], service="shop-api", paths=("/api",)))
    assert proxy.files.config.read_bytes() == config
    assert proxy.files.routes.read_bytes() == routes
    assert get(public) == (200, "blue1")
    assert not (proxy.files.root / "haproxy.cfg.new").exists()


def test_failed_reload_restores_previous_config(
    proxy: HAProxyProxy, backends: dict[str, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`haproxy -c` is skipped here so the master itself meets a config it cannot load."""
    public, _ = ports(proxy)
    proxy.apply(route(backends, ["blue1"], []))
    config = proxy.files.config.read_bytes()
    before = control.show_proc(proxy.files)
    monkeypatch.setattr(control, "validate_config", lambda path: None)
    broken = haproxy_module.render
    monkeypatch.setattr(haproxy_module, "render", lambda *a: broken(*a) + "\nbogus-keyword x\n")
    with pytest.raises(ReleaseFailed, match="reload failed"):
        proxy.apply(route(backends, ["green1"], [], service="shop-api", paths=("/api",)))
    assert proxy.files.config.read_bytes() == config
    assert control.show_proc(proxy.files).workers == before.workers
    assert get(public) == (200, "blue1")


def test_new_servers_that_never_come_up_leave_the_old_color(
    tmp_path: Path, backends: dict[str, Backend]
) -> None:
    proxy = make_proxy(tmp_path, health_timeout=1)
    try:
        proxy.apply(route(backends, ["blue1"], []))
        config = proxy.files.config.read_bytes()
        dead = Instance("dead", f"127.0.0.1:{free_port()}", "running", True)
        bad = Route(SERVICE, ("/",), live_color=Color.GREEN, live=(dead,))
        with pytest.raises(ReleaseFailed, match="not UP"):
            proxy.apply(bad)
        assert proxy.files.config.read_bytes() == config
        assert {get(ports(proxy)[0])[1] for _ in range(4)} == {"blue1"}
    finally:
        proxy.shutdown()


def test_haproxy_outlives_the_flowgate_process(
    tmp_path: Path, backends: dict[str, Backend]
) -> None:
    port, preview = free_port(), free_port()
    address = backends["blue1"].instance.address
    script = f"""
from pathlib import Path
from flowgate.backends.base import Route
from flowgate.backends.proxy.haproxy import HAProxyProxy
from flowgate.config.settings import load_settings
from flowgate.models import Color, Instance
from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder
hap = {str(tmp_path / "hap")!r}
flags = {{"proxy_port": {port}, "preview_port": {preview}, "haproxy_dir": hap}}
s = load_settings(Path({str(tmp_path)!r}), flags=flags, env={{}},
                  extra_keys=HAProxyProxy.config_keys)
live = (Instance("b", {address!r}, "running", True),)
HAProxyProxy(s).apply(Route("shop-app", ("/",), live_color=Color.BLUE, live=live))
"""
    files = control.HAProxyFiles.for_port(tmp_path / "hap", port)
    try:
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        assert get(port) == (200, "blue1")
        assert master_pid(files) is not None
    finally:
        assert stop_haproxy(files.root)
    with pytest.raises(OSError):
        get(port)


def test_switch_keeps_in_flight_requests_and_wait_drained_waits_for_them(
    proxy: HAProxyProxy, backends: dict[str, Backend]
) -> None:
    """A request blue1 holds survives the switch to green1, and wait_drained returns only
    once it has been answered."""
    public, _ = ports(proxy)
    blue = backends["blue1"]
    proxy.apply(route(backends, ["blue1"], []))
    answers: list[tuple[int, str]] = []
    slow = threading.Thread(target=lambda: answers.append(get(public, "/slow")))
    slow.start()
    while blue.in_flight == 0:
        time.sleep(0.01)
    proxy.apply(route(backends, ["green1"], []))
    assert get(public) == (200, "green1")

    drained = threading.Event()
    waiter = threading.Thread(
        target=lambda: (proxy.wait_drained(SERVICE, [blue.instance], timeout=30), drained.set())
    )
    waiter.start()
    assert not drained.wait(1.0)  # blue1 still holds the request: no return yet
    blue.release.set()
    assert drained.wait(10)
    slow.join(5)
    assert answers == [(200, "blue1")]
    again = time.monotonic()
    proxy.wait_drained(SERVICE, [blue.instance], timeout=30)
    assert time.monotonic() - again < 10  # nothing left to drain: no waiting out the 30 s


def test_remove_stops_routing_the_service_and_the_last_one_stops_haproxy(
    proxy: HAProxyProxy, backends: dict[str, Backend]
) -> None:
    public, _ = ports(proxy)
    proxy.apply(route(backends, ["blue1"], [], service="shop-api", paths=("/api",)))
    proxy.apply(route(backends, ["green1"], []))
    proxy.remove("shop-api")
    proxy.remove("shop-api")  # idempotent
    assert get(public, "/api")[1] == "green1"  # `/` of shop-app now catches it
    assert "shop-api" not in proxy.files.config.read_text()
    assert "shop-api" not in proxy.files.routes.read_text()
    pid = master_pid(proxy.files)
    proxy.remove("shop-app")
    assert pid is not None and not pid_alive(pid)
    assert not proxy.files.routes.exists() and not proxy.files.config.exists()
    with pytest.raises(OSError):
        get(public)


@pytest.mark.parametrize("socket_path_length", [95, 96, 100])
def test_sockets_move_out_when_haproxys_temp_name_would_not_fit(
    tmp_path: Path, backends: dict[str, Backend], socket_path_length: int
) -> None:
    """HAProxy binds `<socket>.<pid>.tmp` before renaming it, so a socket path within the
    108-byte limit can still fail ("Cannot create the listener of the master CLI"): from
    96 bytes on, the sockets go to a short private dir and HAProxy starts."""
    port = free_port()
    base = len(str(tmp_path.resolve() / "h" / str(port) / "master.sock"))
    folder = tmp_path / ("h" + "x" * (socket_path_length - base))
    proxy = make_proxy(tmp_path, proxy_port=port, haproxy_dir=str(folder))
    assert len(str(proxy.files.root / "master.sock")) == socket_path_length
    try:
        proxy.apply(route(backends, ["blue1"], []))
        assert get(ports(proxy)[0]) == (200, "blue1")
        assert (proxy.files.socket_dir == proxy.files.root) is (socket_path_length <= 95)
    finally:
        assert proxy.shutdown()


def test_haproxy_dir_with_spaces_and_a_long_path(
    tmp_path: Path, backends: dict[str, Backend]
) -> None:
    """Unix socket paths hold 108 bytes and config args must not need quoting: such
    folders keep their sockets in a short private dir instead."""
    folder = tmp_path / "my haproxy" / ("x" * 80)
    proxy = make_proxy(tmp_path, haproxy_dir=str(folder))
    try:
        proxy.apply(route(backends, ["blue1"], []))
        proxy.apply(route(backends, ["green1"], []))
        assert get(ports(proxy)[0]) == (200, "green1")
        assert proxy.files.socket_dir != proxy.files.root
        assert (proxy.files.root / "haproxy.cfg").is_file()
    finally:
        assert proxy.shutdown()


def test_rejected_changes_drop_no_request(
    proxy: HAProxyProxy, backends: dict[str, Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12: a change HAProxy would reject never costs a request. Under constant
    traffic: a config `haproxy -c` refuses, a reload the master refuses (the check
    skipped), a new listener on a port another process holds, and new servers that do not
    answer: each is refused, the old worker keeps serving, and no request fails."""
    public, _ = ports(proxy)
    proxy.apply(route(backends, ["blue1"], []))
    before = control.show_proc(proxy.files)
    config = proxy.files.config.read_bytes()
    broken = haproxy_module.render
    with TrafficRecorder(f"http://127.0.0.1:{public}/") as recorder:
        recorder.wait_for("blue1")
        with monkeypatch.context() as patch:
            patch.setattr(haproxy_module, "render", lambda *a: broken(*a) + "\nbogus-keyword x\n")
            with pytest.raises(ReleaseFailed, match="invalid, nothing applied"):
                proxy.apply(route(backends, ["green1"], [], service="shop-api", paths=("/api",)))
            patch.setattr(control, "validate_config", lambda path: None)
            with pytest.raises(ReleaseFailed, match="reload failed"):
                proxy.apply(route(backends, ["green1"], [], service="shop-api", paths=("/api",)))
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            moved = make_proxy(
                proxy.settings.project_dir,
                proxy_port=public,
                preview_port=squatter.getsockname()[1],
                haproxy_dir=str(proxy.files.root.parent),
            )
            with pytest.raises(ConfigError, match="already in use"):
                moved.apply(route(backends, ["blue1"], []))
        dead = Instance("dead", f"127.0.0.1:{free_port()}", "running", True)
        with pytest.raises(ReleaseFailed, match="not UP"):
            proxy.apply(Route(SERVICE, ("/",), live_color=Color.GREEN, live=(dead,)))
        time.sleep(0.3)
    after = control.show_proc(proxy.files)
    assert recorder.failures == [], recorder.summary()
    assert set(recorder.answers()) == {"blue1"}
    assert after.workers == before.workers  # the old worker served throughout
    assert proxy.files.config.read_bytes() == config
