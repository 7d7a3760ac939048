"""One HAProxy per host and port, shared by projects: real HAProxy, loopback backends.

Two project folders name the same `proxy_port` and `haproxy_dir`: they share one master,
each owns its routes, a conflicting claim is refused naming both owners, a port another
process holds is refused, and one project's changes never cost the other a request.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from proxy_checks import Backend, get

from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy import HAProxyProxy
from flowgate.backends.proxy.haproxy_process import master_pid, pid_alive
from flowgate.config.settings import load_settings
from flowgate.errors import ConfigError
from flowgate.models import Color, Route
from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder

pytestmark = pytest.mark.haproxy


@pytest.fixture
def backends() -> Iterator[dict[str, Backend]]:
    made = {name: Backend(name) for name in ("books1", "books2", "users1", "users2")}
    yield made
    for backend in made.values():
        backend.close()


@pytest.fixture
def ports() -> dict[str, object]:
    return {"proxy_port": free_port(), "preview_port": free_port(), "health_timeout": 10}


def project(tmp_path: Path, name: str, **flags: object) -> HAProxyProxy:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    merged = {"project": name, "haproxy_dir": str(tmp_path / "hosts"), **flags}
    settings = load_settings(folder, flags=merged, env={}, extra_keys=HAProxyProxy.config_keys)
    return HAProxyProxy(settings)


@pytest.fixture
def pair(tmp_path: Path, ports: dict[str, object]) -> Iterator[tuple[HAProxyProxy, HAProxyProxy]]:
    books, users = project(tmp_path, "books", **ports), project(tmp_path, "users", **ports)
    yield books, users
    books.shutdown()


def live(service: str, path: str, *instances: Backend, domains: tuple[str, ...] = ()) -> Route:
    return Route(
        service,
        (path,),
        domains,
        live_color=Color.BLUE,
        live=tuple(backend.instance for backend in instances),
    )


def test_two_projects_share_one_haproxy_each_with_its_own_routes(
    pair: tuple[HAProxyProxy, HAProxyProxy], backends: dict[str, Backend]
) -> None:
    books, users = pair
    assert books.files == users.files
    books.apply(live("books-app", "/api/v1/books", backends["books1"]))
    pid = master_pid(books.files)
    users.apply(live("users-app", "/api/v1/users", backends["users1"]))
    assert master_pid(users.files) == pid  # joined the running HAProxy, no second one
    public = int(books.settings.proxy_port)
    assert get(public, "/api/v1/books") == (200, "books1")
    assert get(public, "/api/v1/users") == (200, "users1")
    assert get(public, "/elsewhere")[0] == 404
    owners = {e["service"]: e["project"] for e in _routes(books)}
    assert owners == {"books-app": "books", "users-app": "users"}


def test_a_route_claimed_twice_is_refused_naming_both_owners(
    pair: tuple[HAProxyProxy, HAProxyProxy], backends: dict[str, Backend]
) -> None:
    books, users = pair
    books.apply(live("books-app", "/api/v1/books", backends["books1"]))
    before = books.files.config.read_bytes(), books.files.routes.read_bytes()
    with pytest.raises(ConfigError) as refused:
        users.apply(live("users-app", "/api/v1/books", backends["users1"]))
    message = str(refused.value)
    assert message.startswith("service_path: route /api/v1/books is already claimed by ")
    assert "books-app (project books in " in message and "users-app (project users in " in message
    with pytest.raises(ConfigError, match="service books-app is already routed"):
        users.apply(live("books-app", "/other", backends["users1"]))  # someone else's name
    assert (books.files.config.read_bytes(), books.files.routes.read_bytes()) == before
    # Same path on different domains is no conflict; the same domain is.
    books.apply(live("books-app", "/", backends["books1"], domains=("books.test",)))
    users.apply(live("users-app", "/", backends["users1"], domains=("users.test",)))
    public = int(books.settings.proxy_port)
    assert get(public, "/", headers={"Host": "users.test"}) == (200, "users1")
    assert get(public, "/", headers={"Host": "books.test:80"}) == (200, "books1")
    with pytest.raises(ConfigError, match=r"^service_domain: route / on books.test is already"):
        users.apply(live("users-app", "/", backends["users1"], domains=("BOOKS.test",)))


def test_other_settings_for_a_shared_haproxy_are_refused(
    tmp_path: Path, pair: tuple[HAProxyProxy, HAProxyProxy], backends: dict[str, Backend]
) -> None:
    books, _ = pair
    books.apply(live("books-app", "/api/v1/books", backends["books1"]))
    ports = {"proxy_port": books.settings.proxy_port, "preview_port": free_port()}
    other = project(tmp_path, "users", **ports)
    with pytest.raises(ConfigError, match=r"shared with books-app .*preview_port: \d+ vs \d+"):
        other.apply(live("users-app", "/api/v1/users", backends["users1"]))
    assert "users-app" not in books.files.routes.read_text()


def test_a_port_held_by_another_process_is_an_error_not_a_second_listener(
    tmp_path: Path, backends: dict[str, Backend]
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proxy = project(tmp_path, "books", proxy_port=port, preview_port=free_port())
        with pytest.raises(ConfigError) as refused:
            proxy.apply(live("books-app", "/", backends["books1"]))
        assert str(refused.value).startswith(f"proxy_port: 127.0.0.1:{port} is already in use by ")
        assert "choose another proxy_port" in str(refused.value)
        assert master_pid(proxy.files) is None
        assert not proxy.files.routes.exists()


def test_one_projects_changes_and_departure_cost_the_other_no_request(
    pair: tuple[HAProxyProxy, HAProxyProxy], backends: dict[str, Backend]
) -> None:
    books, users = pair
    users.apply(live("users-app", "/api/v1/users", backends["users1"]))
    books.apply(live("books-app", "/api/v1/books", backends["books1"]))
    public = int(books.settings.proxy_port)
    pid = master_pid(books.files)
    with TrafficRecorder(f"http://127.0.0.1:{public}/api/v1/users") as traffic:
        books.apply(live("books-app", "/api/v1/books", backends["books2"]))  # runtime switch
        books.apply(live("books-app", "/api/v2/books", backends["books2"]))  # a reload
        assert get(public, "/api/v2/books") == (200, "books2")
        assert books.leave() is False  # users still there: HAProxy keeps running
        traffic.wait_answers(0.0, count=50)
    assert traffic.failures == [], traffic.summary()
    assert set(traffic.answers()) == {"users1"}
    assert master_pid(users.files) == pid
    assert get(public, "/api/v2/books")[0] == 404
    assert users.leave() is True  # the last one stops it
    assert pid is not None and not pid_alive(pid)
    assert not users.files.routes.exists()


def test_concurrent_releases_of_different_projects_both_land(
    pair: tuple[HAProxyProxy, HAProxyProxy], backends: dict[str, Backend]
) -> None:
    books, users = pair
    errors: list[BaseException] = []

    def run(proxy: HAProxyProxy, route: Route) -> None:
        try:
            proxy.apply(route)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [
        threading.Thread(target=run, args=(books, live("books-app", "/b", backends["books1"]))),
        threading.Thread(target=run, args=(users, live("users-app", "/u", backends["users1"]))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    public = int(books.settings.proxy_port)
    assert (get(public, "/b"), get(public, "/u")) == ((200, "books1"), (200, "users1"))
    assert control.show_proc(books.files).failed == 0


def _routes(proxy: HAProxyProxy) -> list[dict[str, object]]:
    import json

    data = json.loads(proxy.files.routes.read_text())
    services: list[dict[str, object]] = data["services"]
    return services
