"""Names, paths and domains that could inject HAProxy configuration are refused up front.

They are refused when the `Route` is built, before any proxy (HAProxy, none, Docker Flow
Proxy) sees it, so nothing is written anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowgate.backends.base import Route
from flowgate.backends.proxy.haproxy import HAProxyProxy
from flowgate.backends.proxy.haproxy_config import normalize_address
from flowgate.backends.proxy.haproxy_keys import KEYS
from flowgate.backends.proxy.none import NoProxy
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ConfigError, ReleaseFailed, UsageError
from flowgate.models import Color, Instance
from flowgate.route_values import check_domain, check_path

LIVE = (Instance("a", "127.0.0.1:9", "running", True),)


def make(tmp_path: Path, **flags: object) -> HAProxyProxy:
    flags = {"proxy_port": 18080, "haproxy_dir": str(tmp_path / "hap"), **flags}
    settings = load_settings(tmp_path, flags=flags, env={}, extra_keys=HAProxyProxy.config_keys)
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
    "service with hash": ("shop#app", ("/",), (), "project"),
    "service starting with a dash": ("-shop", ("/",), (), "project"),
    "service newline": ("shop\napp", ("/",), (), "project"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROUTES))
def test_injection_is_refused_when_the_route_is_built(case: str) -> None:
    """One check for every proxy: no Route with such a value can exist."""
    service, paths, domains, key = BAD_ROUTES[case]
    with pytest.raises(ConfigError) as raised:
        Route(service, paths, domains, live_color=Color.BLUE, live=LIVE)
    assert raised.value.key == key
    assert str(raised.value).startswith(f"{key}: ")


def test_a_route_defaults_to_slash_and_lowercases_domains() -> None:
    route = Route("shop-app", (), ("Shop.Example.COM",))
    assert (route.paths, route.domains) == (("/",), ("shop.example.com",))


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


@pytest.mark.parametrize("key", ["proxy_bind", "preview_bind"])
@pytest.mark.parametrize("value", ["0.0.0.0\n  bind :22", "localhost", "*"])
def test_bad_bind_address_is_refused_when_the_settings_load(
    tmp_path: Path, key: str, value: str
) -> None:
    """A bind address goes into HAProxy's config: an IP or nothing (flag: exit 2)."""
    with pytest.raises(UsageError, match=rf"^--{key.replace('_', '-')}: expected "):
        make(tmp_path, **{key: value})
    (tmp_path / "flowgate.yml").write_text(f"{key}: {value!r}\n")
    with pytest.raises(ConfigError, match=rf"^flowgate.yml: {key}: expected "):
        load_settings(tmp_path, env={}, extra_keys=KEYS)
    assert not (tmp_path / "hap").exists()


def test_urls_use_the_first_service_path(tmp_path: Path) -> None:
    proxy = make(tmp_path, preview_port=18081, proxy_bind="0.0.0.0", preview_bind="10.1.2.3")
    route = Route("shop-app", ("/api/v1/books", "/api"))
    assert proxy.public_url(route) == "http://127.0.0.1:18080/api/v1/books"
    assert proxy.preview_url(route) == "http://10.1.2.3:18081/api/v1/books"
    assert proxy.public_url(Route("shop-app", ("/",))) == "http://127.0.0.1:18080"
    assert proxy.preview_headers(route) == {}  # header preview is opt-in


def test_check_needs_the_haproxy_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnreachable, match="haproxy"):
        make(tmp_path).check()


def test_both_backends_register_through_the_plugin_hook() -> None:
    from flowgate.plugins import BackendCatalog, make_plugin_manager

    catalog = BackendCatalog.collect(make_plugin_manager(load_entry_points=False))
    assert catalog.get("proxy", "haproxy") is HAProxyProxy
    assert catalog.get("proxy", "none") is NoProxy
    assert {key.name for key in catalog.config_keys()} >= {
        "proxy_bind",
        "preview_bind",
        "preview_header",
        "haproxy_slots",
        "haproxy_dir",
    }


def test_the_shared_haproxy_lives_in_a_per_host_folder_by_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowgate.backends.proxy.haproxy_control import default_haproxy_dir

    default = default_haproxy_dir()
    if os.geteuid() == 0:
        assert default == Path("/var/lib/flowgate/haproxy")
    else:
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        assert default_haproxy_dir() == tmp_path / "state" / "flowgate" / "haproxy"
    settings = load_settings(tmp_path, flags={"proxy_port": 8000}, env={}, extra_keys=KEYS)
    assert HAProxyProxy(settings).files.root == default_haproxy_dir() / "8000"
    assert make(tmp_path).files.root == (tmp_path / "hap" / "18080").resolve()
