"""The backend against a real nginx, with small local HTTP servers as the instances.

Each instance answers its own name, so every assertion reads what nginx really routed.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from flowgate_nginx import NginxProxy
from flowgate_nginx.process import NginxFiles, master_pid, workers

from flowgate import Color, ConfigError, Instance, ReleaseFailed, Route, load_settings
from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder

pytestmark = pytest.mark.nginx
PATH = "/api/v1/books"


class Named(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def instances() -> Iterator[dict[str, Instance]]:
    """Four running instances: blue1, blue2, green1, green2."""
    servers, made = [], {}
    for name in ("blue1", "blue2", "green1", "green2"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), Named)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        color = Color.BLUE if name.startswith("blue") else Color.GREEN
        address = f"127.0.0.1:{server.server_address[1]}"
        made[name] = Instance(name, address, "running", True, color)
    yield made
    for server in servers:
        server.shutdown()
        server.server_close()


def make_proxy(folder: Path, **flags: Any) -> NginxProxy:
    flags = {"proxy_port": free_port(), "preview_port": free_port(), **flags}
    return NginxProxy(load_settings(folder, flags=flags, env={}, extra_keys=NginxProxy.config_keys))


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[NginxProxy]:
    made = make_proxy(tmp_path)
    yield made
    made.shutdown()


def route(
    live: list[Instance], preview: list[Instance] | None = None, service: str = "shop-books"
) -> Route:
    preview = preview or []
    return Route(
        service=service,
        paths=(PATH,),
        port="8080/tcp",
        live_color=live[0].color if live else None,
        live=tuple(live),
        preview_color=preview[0].color if preview else None,
        preview=tuple(preview),
    )


def get(url: str) -> tuple[int, str]:
    response = requests.get(url, timeout=5)
    return response.status_code, response.text


def test_apply_starts_nginx_and_serves_live_and_preview(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    files = NginxFiles.for_project(proxy.settings.project_dir)
    assert master_pid(files) is None
    blue, green = instances["blue1"], instances["green1"]
    proxy.apply(route([blue], [green]))
    assert master_pid(files) is not None
    public = proxy.public_url(route([blue]))
    preview = proxy.preview_url(route([blue]))
    assert public == f"http://127.0.0.1:{proxy.settings.proxy_port}{PATH}"
    assert get(f"{public}/1") == (200, "blue1")
    assert get(f"{preview}/1") == (200, "green1")
    assert get(f"http://127.0.0.1:{proxy.settings.proxy_port}/elsewhere")[0] == 404
    # Everything nginx keeps is under the project's state dir.
    assert files.root == proxy.settings.project_dir.resolve() / ".flowgate" / "nginx"
    assert {"nginx.conf", "nginx.pid", "error.log", "routes.json"} <= {
        p.name for p in files.root.iterdir()
    }
    # Owner-only, like all of .flowgate/: the folders 0700, what flowgate writes 0600.
    for folder in (files.root.parent, files.root, files.root / "tmp" / "proxy"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for name in ("nginx.conf", "routes.json", "error.log", "lock"):
        assert (files.root / name).stat().st_mode & 0o777 == 0o600, name


def test_a_switch_is_a_confirmed_reload_with_new_workers(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    files = NginxFiles.for_project(proxy.settings.project_dir)
    proxy.apply(route([instances["blue1"]]))
    master = master_pid(files)
    assert master is not None
    before, _ = workers(master)
    proxy.apply(route([instances["green1"], instances["green2"]]))
    serving, _ = workers(master)
    assert serving and not serving & before  # apply returned after the new workers took over
    answers = {get(proxy.public_url(route([])) or "")[1] for _ in range(8)}
    assert answers == {"green1", "green2"}
    assert master_pid(files) == master  # reloaded, not restarted


def test_an_unchanged_route_does_not_reload(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    files = NginxFiles.for_project(proxy.settings.project_dir)
    proxy.apply(route([instances["blue1"]]))
    master = master_pid(files)
    assert master is not None
    before, _ = workers(master)
    proxy.apply(route([instances["blue1"]]))
    assert workers(master)[0] == before


def test_switching_back_and_forth_under_load_loses_no_request(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    """The zero-loss check of the e2e tests, in small: a keep-alive and a fresh-connection
    client never retry, while the live color switches ten times by reload."""
    blue = [instances["blue1"], instances["blue2"]]
    green = [instances["green1"], instances["green2"]]
    proxy.apply(route(blue))
    with TrafficRecorder(proxy.public_url(route(blue)) or "") as traffic:
        traffic.wait_for("blue1")
        for turn in range(10):
            live, preview = (green, blue) if turn % 2 == 0 else (blue, green)
            proxy.apply(route(live, preview))
        traffic.wait_answers(0.0, count=200)
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {"blue1", "blue2", "green1", "green2"}


def test_an_invalid_config_is_refused_by_nginx_t_and_nothing_changes(
    tmp_path: Path, instances: dict[str, Instance]
) -> None:
    port = free_port()
    proxy = make_proxy(tmp_path, proxy_port=port, preview_port=port)  # two default servers
    try:
        with pytest.raises(ReleaseFailed, match=r"^nginx: rendered config is invalid.*duplicate"):
            proxy.apply(route([instances["blue1"]]))
        files = NginxFiles.for_project(tmp_path)
        assert master_pid(files) is None
        assert not files.config.exists() and not files.candidate.exists()
    finally:
        proxy.shutdown()


def test_a_reload_nginx_refuses_keeps_the_previous_routing(
    tmp_path: Path, instances: dict[str, Instance]
) -> None:
    """`nginx -t` cannot know a port is taken; the reload fails, nginx keeps its old
    workers, and the backend says so and puts the previous file back."""
    proxy = make_proxy(tmp_path)
    try:
        proxy.apply(route([instances["blue1"]]))
        files = NginxFiles.for_project(tmp_path)
        before = files.config.read_text()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            moved = make_proxy(
                tmp_path,
                proxy_port=proxy.settings.proxy_port,
                preview_port=taken.getsockname()[1],
            )
            with pytest.raises(ReleaseFailed, match=r"reload refused.*still serves.*bind"):
                moved.apply(route([instances["green1"]]))
        assert files.config.read_text() == before
        assert get(proxy.public_url(route([])) or "") == (200, "blue1")
    finally:
        proxy.shutdown()


def test_a_port_in_use_at_start_fails_cleanly(
    tmp_path: Path, instances: dict[str, Instance]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proxy = make_proxy(tmp_path, proxy_port=taken.getsockname()[1])
        with pytest.raises(ReleaseFailed, match=r"^nginx: could not start: .*Address already"):
            proxy.apply(route([instances["blue1"]]))
    assert not NginxFiles.for_project(tmp_path).config.exists()
    assert master_pid(NginxFiles.for_project(tmp_path)) is None


def test_targets_share_one_nginx_and_a_path_claimed_twice_is_refused(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    proxy.apply(route([instances["blue1"]]))
    other = Route(
        service="shop-users",
        paths=("/api/v1/users",),
        live_color=Color.BLUE,
        live=(instances["blue2"],),
    )
    proxy.apply(other)
    base = f"http://127.0.0.1:{proxy.settings.proxy_port}"
    assert get(f"{base}{PATH}") == (200, "blue1")
    assert get(f"{base}/api/v1/users") == (200, "blue2")
    with pytest.raises(ConfigError, match=r"/api/v1/books \(already routed to shop-books\)"):
        proxy.apply(route([instances["green1"]], service="shop-other"))
    proxy.remove("shop-users")
    assert get(f"{base}/api/v1/users")[0] == 404
    assert get(f"{base}{PATH}") == (200, "blue1")
    proxy.remove("shop-books")  # the last service leaves: nginx stops
    files = NginxFiles.for_project(proxy.settings.project_dir)
    assert master_pid(files) is None and not files.config.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}{PATH}", timeout=5)


def test_wait_drained_waits_for_old_workers_only(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    proxy.apply(route([instances["blue1"]]))
    proxy.apply(route([instances["green1"]]))
    proxy.wait_drained("shop-books", [instances["blue1"]], timeout=5)
    master = master_pid(NginxFiles.for_project(proxy.settings.project_dir))
    assert master is not None and workers(master)[1] == set()


def test_check_refuses_a_missing_binary_and_a_bad_bind(tmp_path: Path) -> None:
    from flowgate import BackendUnreachable

    with pytest.raises(BackendUnreachable, match="no `nginx-missing` binary"):
        make_proxy(tmp_path, nginx_binary="nginx-missing").check()
    with pytest.raises(ConfigError, match="proxy_bind: expected an IP address"):
        make_proxy(tmp_path, proxy_bind="localhost").check()
    make_proxy(tmp_path).check()
    assert master_pid(NginxFiles.for_project(tmp_path)) is None  # check starts nothing


def test_a_stale_pid_file_is_not_taken_for_a_running_nginx(
    proxy: NginxProxy, instances: dict[str, Instance]
) -> None:
    """A pid file left by a killed nginx may name any process later: this test's own."""
    files = NginxFiles.for_project(proxy.settings.project_dir)
    files.ensure()
    files.pid.write_text(f"{os.getpid()}\n")
    assert master_pid(files) is None
    proxy.apply(route([instances["blue1"]]))  # started, not "reloaded"
    assert master_pid(files) not in (None, os.getpid())
    assert get(proxy.public_url(route([])) or "") == (200, "blue1")
