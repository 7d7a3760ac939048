"""Names, paths and domains that could inject HAProxy configuration are refused up front.

Nothing is written under .flowgate/haproxy before the refusal, whichever proxy is chosen.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.backends.base import Route
from flowgate.backends.proxy.haproxy import HAProxyProxy
from flowgate.backends.proxy.haproxy_config import (
    check_domain,
    check_path,
    normalize_address,
)
from flowgate.backends.proxy.none import NoProxy
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ConfigError, ReleaseFailed, UsageError
from flowgate.models import Color, Instance

LIVE = (Instance("a", "127.0.0.1:9", "running", True),)


def make(tmp_path: Path, **flags: object) -> HAProxyProxy:
    settings = load_settings(
        tmp_path, flags={"proxy_port": 18080, **flags}, env={}, extra_keys=HAProxyProxy.config_keys
    )
    return HAProxyProxy(settings)


BAD_ROUTES = {
    "newline in path": ("shop-app", ("/api\n    server evil 1.2.3.4:80",), (), "service_path"),
    "hash in path": ("shop-app", ("/api#x",), (), "service_path"),
    "space in path": ("shop-app", ("/api v1",), (), "service_path"),
    "double quote": ("shop-app", ('/api"',), (), "service_path"),
    "single quote": ("shop-app", ("/api'",), (), "service_path"),
    "backslash": ("shop-app", ("/api\\",), (), "service_path"),
    "braces": ("shop-app", ("/api}",), (), "service_path"),
    "dollar": ("shop-app", ("/${HOME}",), (), "service_path"),
    "unicode": ("shop-app", ("/caf\u00e9",), (), "service_path"),
    "relative path": ("shop-app", ("api",), (), "service_path"),
    "empty path": ("shop-app", ("",), (), "service_path"),
    "bad domain": ("shop-app", ("/",), ("evil.com }",), "service_domain"),
    "domain newline": ("shop-app", ("/",), ("a.com\nbind :1",), "service_domain"),
    "unicode domain": ("shop-app", ("/",), ("b\u00fccher.de",), "service_domain"),
    "inner wildcard": ("shop-app", ("/",), ("a.*.com",), "service_domain"),
    "service with space": ("shop app", ("/",), (), "project"),
    "service uppercase": ("Shop-app", ("/",), (), "project"),
    "service with dot": ("shop.app", ("/",), (), "project"),
    "service newline": ("shop\napp", ("/",), (), "project"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROUTES))
def test_injection_is_refused_before_anything_is_written(case: str, tmp_path: Path) -> None:
    service, paths, domains, key = BAD_ROUTES[case]
    route = Route(service, paths, domains, live_color=Color.BLUE, live=LIVE)
    with pytest.raises(ConfigError) as raised:
        make(tmp_path).apply(route)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")
    assert not (tmp_path / ".flowgate").exists()


@pytest.mark.parametrize("case", sorted(BAD_ROUTES))
def test_the_none_proxy_refuses_the_same_routes(case: str, tmp_path: Path) -> None:
    service, paths, domains, key = BAD_ROUTES[case]
    with pytest.raises(ConfigError, match=key):
        NoProxy(make(tmp_path).settings).apply(Route(service, paths, domains))
    assert not (tmp_path / ".flowgate").exists()


@pytest.mark.parametrize(
    "path", ["/", "/api/v1/books", "/a-b_c.d~e", "/%7Euser", "/x;y=1", "/a:b@c", "/(x)+*,!&"]
)
def test_ordinary_paths_pass(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize("domain", ["example.com", "a-b.example.co.uk", "*.example.com", "LOCAL"])
def test_ordinary_domains_pass_lowercased(domain: str) -> None:
    assert check_domain(domain) == domain.lower()


def test_the_none_proxy_accepts_a_good_route_and_changes_nothing(tmp_path: Path) -> None:
    proxy = NoProxy(make(tmp_path).settings)
    route = Route("shop-app", ("/api",), ("shop.example.com",), preview=LIVE)
    proxy.check()
    proxy.apply(route)
    proxy.remove("shop-app")
    assert proxy.public_url(route) is None
    assert proxy.preview_url(route) == "http://127.0.0.1:9"
    assert not (tmp_path / ".flowgate").exists()


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:0", "1.2.3.4:99999", "ev il:80"])
def test_bad_instance_addresses_fail_the_apply(address: str) -> None:
    with pytest.raises(ReleaseFailed, match="instance"):
        normalize_address(address)


def test_instance_names_are_resolved_to_addresses() -> None:
    assert normalize_address("localhost:8080") == "127.0.0.1:8080"
    assert normalize_address("[::1]:8080") == "[::1]:8080"


def test_bad_bind_address_names_its_key(tmp_path: Path) -> None:
    # Refused while the settings load (a flag: exit 2), before any backend exists.
    with pytest.raises(UsageError, match=r"^--proxy-bind: "):
        make(tmp_path, proxy_bind="0.0.0.0\n  bind :22")
    assert not (tmp_path / ".flowgate").exists()


def test_urls_use_the_first_service_path(tmp_path: Path) -> None:
    proxy = make(tmp_path, preview_port=18081, proxy_bind="0.0.0.0")
    route = Route("shop-app", ("/api/v1/books", "/api"))
    assert proxy.public_url(route) == "http://127.0.0.1:18080/api/v1/books"
    assert proxy.preview_url(route) == "http://127.0.0.1:18081/api/v1/books"
    assert proxy.public_url(Route("shop-app", ("/",))) == "http://127.0.0.1:18080"
    assert proxy.preview_headers(route) == {"X-Flowgate-Preview": "shop-app"}


def test_check_needs_the_haproxy_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnreachable, match="haproxy"):
        make(tmp_path).check()


def test_both_backends_register_through_the_plugin_hook() -> None:
    from flowgate.plugins import BackendCatalog, make_plugin_manager

    catalog = BackendCatalog.collect(make_plugin_manager(load_entry_points=False))
    assert catalog.get("proxy", "haproxy") is HAProxyProxy
    assert catalog.get("proxy", "none") is NoProxy
    assert {key.name for key in catalog.config_keys()} >= {"proxy_bind", "haproxy_slots"}
