"""The renderer: what reaches nginx.conf, what is refused, and that nginx accepts it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flowgate_nginx.config import (
    Options,
    ServiceRoutes,
    check_address,
    check_domain,
    check_path,
    check_service,
    conflicts,
    render,
)
from flowgate_nginx.process import NginxFiles, check_config

from flowgate import ConfigError

BOOKS = ServiceRoutes(
    "shop-books",
    ("/api/v1/books",),
    live=("127.0.0.1:32001", "127.0.0.1:32002"),
    preview=("127.0.0.1:32003",),
)
USERS = ServiceRoutes("shop-users", ("/api/v1/users",), ("users.example.com",))


def options(root: Path) -> Options:
    return Options(root=root, bind="127.0.0.1", proxy_port=8000, preview_port=8001)


def test_live_and_preview_upstreams_and_their_locations(tmp_path: Path) -> None:
    text = render({"shop-books": BOOKS}, options(tmp_path))
    assert (
        "    upstream shop-books__live {\n"
        "        server 127.0.0.1:32001 max_fails=0;\n"
        "        server 127.0.0.1:32002 max_fails=0;\n"
        "    }\n"
    ) in text
    assert (
        "    upstream shop-books__preview {\n        server 127.0.0.1:32003 max_fails=0;\n" in text
    )
    public, preview = text.split("listen 127.0.0.1:8000 default_server;")[1].split(
        "listen 127.0.0.1:8001 default_server;"
    )
    assert "location /api/v1/books {\n            proxy_pass http://shop-books__live;" in public
    assert "preview" not in public
    assert "location /api/v1/books {\n            proxy_pass http://shop-books__preview;" in preview
    assert f"pid {tmp_path / 'nginx.pid'};" in text
    assert "keepalive_timeout 0;" in text
    assert "/etc/nginx" not in text and "/var/" not in text


def test_a_role_without_instances_answers_503_and_domains_get_their_own_server(
    tmp_path: Path,
) -> None:
    text = render({"shop-users": USERS}, options(tmp_path))
    assert "    upstream " not in text
    assert "server_name users.example.com;" in text
    assert "location /api/v1/users {\n            return 503;" in text
    # The default public server does not route a domain-bound service.
    default = text.split("listen 127.0.0.1:8000 default_server;")[1].split("server {")[0]
    assert "/api/v1/users" not in default


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first = render({"shop-books": BOOKS, "shop-users": USERS}, options(tmp_path))
    assert first == render({"shop-users": USERS, "shop-books": BOOKS}, options(tmp_path))


@pytest.mark.parametrize(
    "path",
    ["api", "/a;b", "/a b", "/a{", "/a}", "/$host", "/a'b", '/a"', "/a\nreturn 200;", "/a#b"],
)
def test_paths_that_could_inject_directives_are_refused(path: str) -> None:
    with pytest.raises(ConfigError, match=r"service_path: nginx: .* is not a path nginx can"):
        check_path(path)


@pytest.mark.parametrize("domain", ["a b.com", "a;b.com", "x.com{", "-a.com", "a..com", ""])
def test_bad_domains_are_refused(domain: str) -> None:
    with pytest.raises(ConfigError, match="service_domain"):
        check_domain(domain)


def test_bad_service_names_and_addresses_are_refused() -> None:
    with pytest.raises(ConfigError, match="not a valid service name"):
        check_service("shop;books")
    with pytest.raises(ConfigError, match="not a host:port address"):
        check_address("127.0.0.1:99999")
    with pytest.raises(ConfigError, match="not a host:port address"):
        check_address("127.0.0.1:80;")
    assert check_address("0.0.0.0:32768") == "127.0.0.1:32768"
    assert check_address("[::1]:80") == "[::1]:80"
    assert check_domain("Books.Example.COM") == "books.example.com"


def test_a_route_claimed_twice_is_named() -> None:
    other = ServiceRoutes("other-books", ("/api/v1/books", "/x"))
    assert conflicts({"shop-books": BOOKS}, other) == [
        "/api/v1/books (already routed to shop-books)"
    ]
    assert conflicts({"shop-books": BOOKS}, BOOKS) == []
    same_path_other_domain = ServiceRoutes("other-users", ("/api/v1/users",), ("a.example.com",))
    assert conflicts({"shop-users": USERS}, same_path_other_domain) == []


@pytest.mark.nginx
def test_nginx_accepts_every_rendered_shape(tmp_path: Path) -> None:
    files = NginxFiles(tmp_path)
    files.ensure()
    root_path = ServiceRoutes("shop-root", ("/",), live=("127.0.0.1:32009",))
    shapes = [{}, {"shop-books": BOOKS}, {"shop-books": BOOKS, "shop-users": USERS}]
    shapes.append({"shop-root": root_path, "shop-users": USERS})
    for services in shapes:
        files.candidate.write_text(render(services, options(tmp_path)))
        check_config(shutil.which("nginx") or "nginx", files, files.candidate)
