"""What only the Consul registry does: Docker Flow's keys, the catalog, addresses, errors.

Runs against flowgate.testing.consul_server, a stand-in for Consul's HTTP API (no Consul
server can be installed on the build machines).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import consul
import pytest

from flowgate.backends.registry.consul import ConsulRegistry
from flowgate.backends.registry.consul_client import ConsulEndpoint
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ConfigError, ConflictError
from flowgate.models import Color, Instance, Release, TargetState
from flowgate.testing.consul_server import ConsulTestServer, consul_test_server
from flowgate.testing.network import free_port

SERVICE = "books-app"


@pytest.fixture
def server() -> Iterator[ConsulTestServer]:
    with consul_test_server() as running:  # Consul's real 10s TTL minimum
        yield running


@pytest.fixture
def registry(server: ConsulTestServer, tmp_path: Path) -> ConsulRegistry:
    flags = {"registry": "consul", "consul_address": server.address}
    return ConsulRegistry(load_settings(tmp_path, flags=flags, env={}))


@pytest.fixture
def raw(server: ConsulTestServer) -> Any:
    host, port = server.address.split(":")
    return consul.Consul(host=host, port=int(port))


def test_state_version_is_the_modify_index(registry: ConsulRegistry, raw: Any) -> None:
    saved = registry.save_state(TargetState(SERVICE, scale=2))
    _, entry = raw.kv.get(f"flowgate/{SERVICE}/state")
    assert saved.version == entry["ModifyIndex"]
    raw.kv.put(f"flowgate/{SERVICE}/state", entry["Value"])  # someone else writes
    with pytest.raises(ConflictError, match="changed while this command ran"):
        registry.save_state(dataclasses.replace(saved, scale=3))


def test_docker_flow_keys_follow_the_state(registry: ConsulRegistry, raw: Any) -> None:
    state = registry.save_state(TargetState(SERVICE, deployed_color=Color.BLUE, scale=2))
    assert raw.kv.get(f"docker-flow/{SERVICE}/color")[1]["Value"] == b"blue"
    assert raw.kv.get(f"docker-flow/{SERVICE}/scale")[1]["Value"] == b"2"
    registry.save_state(dataclasses.replace(state, deployed_color=Color.GREEN, scale=5))
    assert raw.kv.get(f"docker-flow/{SERVICE}/color")[1]["Value"] == b"green"
    assert raw.kv.get(f"docker-flow/{SERVICE}/scale")[1]["Value"] == b"5"


def test_instances_registered_and_deregistered(registry: ConsulRegistry, raw: Any) -> None:
    instances = [
        Instance("books_app-blue-1", "127.0.0.1:32001", "running", True, Color.BLUE),
        Instance("books_app-blue-2", "127.0.0.1:32002", "running", False, Color.BLUE),
    ]
    registry.register_instances(SERVICE, Color.BLUE, instances)
    _, nodes = raw.catalog.service(f"{SERVICE}-blue")
    assert sorted((n["ServiceID"], n["ServiceAddress"], n["ServicePort"]) for n in nodes) == [
        ("books_app-blue-1", "127.0.0.1", 32001),
        ("books_app-blue-2", "127.0.0.1", 32002),
    ]
    _, passing = raw.health.service(f"{SERVICE}-blue", passing=True)
    assert [p["Service"]["ID"] for p in passing] == ["books_app-blue-1"]
    _, checks = raw.health.service(f"{SERVICE}-blue")
    assert checks[0]["Checks"][1]["ServiceID"].startswith("books_app-blue-")

    registry.register_instances(
        SERVICE,
        Color.GREEN,
        [Instance("books_app-green-1", "127.0.0.1:32003", "running", True, Color.GREEN)],
    )
    registry.register_instances(SERVICE, Color.BLUE, instances[:1])  # scaled down to 1
    assert [n["ServiceID"] for n in raw.catalog.service(f"{SERVICE}-blue")[1]] == [
        "books_app-blue-1"
    ]
    registry.deregister_instances(SERVICE, Color.BLUE)
    assert raw.catalog.service(f"{SERVICE}-blue")[1] == []
    assert [n["ServiceID"] for n in raw.catalog.service(f"{SERVICE}-green")[1]] == [
        "books_app-green-1"
    ]


def test_short_lock_ttl_is_raised_to_consuls_minimum(registry: ConsulRegistry, raw: Any) -> None:
    lock = registry.acquire_lock(SERVICE, {"pid": 1}, ttl=2)
    assert lock.extra["ttl"] == 10
    _, session = raw.session.info(lock.token)
    assert session["TTL"] == "10s" and session["Behavior"] == "delete"
    lock.release()
    assert raw.session.info(lock.token)[1] is None
    assert registry.lock_holder(SERVICE) is None


def test_expired_holder_session_deletes_the_lock_key(
    server: ConsulTestServer, tmp_path: Path, raw: Any
) -> None:
    server.state.min_session_ttl = 0.1
    flags = {"registry": "consul", "consul_address": server.address}
    registry = ConsulRegistry(load_settings(tmp_path, flags=flags, env={}))
    registry.min_session_ttl = 0.1
    registry.acquire_lock(SERVICE, {"pid": 1}, ttl=0.3)
    assert raw.kv.get(f"flowgate/{SERVICE}/lock")[1]["Session"]
    time.sleep(0.6)
    assert raw.kv.get(f"flowgate/{SERVICE}/lock")[1] is None


def test_unreachable_consul_fails_check_fast(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    registry = ConsulRegistry(load_settings(tmp_path, flags={"consul_address": address}, env={}))
    started = time.monotonic()
    with pytest.raises(BackendUnreachable, match=f"cannot reach Consul at http://{address}"):
        registry.check()
    assert time.monotonic() - started < 3
    with pytest.raises(BackendUnreachable, match="Connection refused"):
        registry.load_state(SERVICE)


def test_check_against_a_live_agent(registry: ConsulRegistry) -> None:
    registry.check()
    assert registry.lock_holder(SERVICE) is None


@pytest.mark.parametrize(
    ("address", "env", "url"),
    [
        ("10.0.0.5:8500", {}, "http://10.0.0.5:8500"),
        ("http://consul.local:9500", {}, "http://consul.local:9500"),
        ("https://consul.local", {}, "https://consul.local:443"),
        ("consul.local:8501", {"CONSUL_HTTP_SSL": "true"}, "https://consul.local:8501"),
        (None, {"CONSUL_HTTP_ADDR": "https://c:8501"}, "https://c:8501"),
        (None, {}, "http://127.0.0.1:8500"),
    ],
)
def test_address_with_or_without_scheme(address: str | None, env: dict[str, str], url: str) -> None:
    assert ConsulEndpoint.resolve(address, env).url == url


def test_token_and_tls_variables() -> None:
    endpoint = ConsulEndpoint.resolve(
        "https://c:8501",
        {
            "CONSUL_HTTP_TOKEN": "secret",
            "CONSUL_CACERT": "/ca.pem",
            "CONSUL_CLIENT_CERT": "/c.pem",
            "CONSUL_CLIENT_KEY": "/k.pem",
        },
    )
    assert (endpoint.token, endpoint.verify, endpoint.cert) == (
        "secret",
        "/ca.pem",
        ("/c.pem", "/k.pem"),
    )
    insecure = ConsulEndpoint.resolve("https://c:8501", {"CONSUL_HTTP_SSL_VERIFY": "false"})
    assert insecure.verify is False
    client = endpoint.client(timeout=1)
    assert (client.http.verify, client.http.cert, client.token) == (
        "/ca.pem",
        ("/c.pem", "/k.pem"),
        "secret",
    )


def test_bad_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="consul_address"):
        ConsulEndpoint.resolve("ftp://c:1", {})


def test_a_damaged_state_names_the_key(registry: ConsulRegistry, raw: Any) -> None:
    raw.kv.put(f"flowgate/{SERVICE}/state", b'{"service": "books-app", "live_color": "purple"}')
    with pytest.raises(ConfigError) as damaged:
        registry.load_state(SERVICE)
    assert str(damaged.value).startswith(
        f"Consul key flowgate/{SERVICE}/state: live_color: expected blue or green, got 'purple'"
    )
    assert damaged.value.exit_code == 4


def test_the_newest_releases_are_read_without_the_older_ones(
    registry: ConsulRegistry, raw: Any
) -> None:
    """Flat cost: the ids come from one `?keys` listing, then only the records returned
    are read; a damaged old record shows it is never fetched."""
    ids = [f"2026010{day}T000000-000{day}" for day in range(1, 6)]
    for rid in ids:
        registry.save_release(Release(id=rid, service=SERVICE, target="app"))
    raw.kv.put(f"flowgate/{SERVICE}/releases/{ids[0]}", b"{damaged")
    assert [r.id for r in registry.releases(SERVICE, limit=4)] == ids[:0:-1]
    assert registry.release(SERVICE, ids[2]) is not None
    assert next(registry.iter_releases(SERVICE)).id == ids[-1]
    with pytest.raises(ConfigError, match=r"not JSON; the registry.s record is damaged"):
        registry.releases(SERVICE)  # everything: the damaged one too


def test_the_recent_index_serves_the_newest_and_the_listing_the_rest(
    registry: ConsulRegistry, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History written before the index existed is listed once to build it; past the
    index's RECENT ids a reader goes on from a `?keys` listing, still newest first."""
    from flowgate.backends.registry import consul_history

    monkeypatch.setattr(consul_history, "RECENT", 3)
    ids = [f"2026010{day}T000000-000{day}" for day in range(1, 8)]
    for rid in ids[:2]:  # written by an older flowgate: records, no index
        raw.kv.put(
            f"flowgate/{SERVICE}/releases/{rid}", json.dumps(Release(rid, SERVICE, "app").to_dict())
        )
    assert [r.id for r in registry.iter_releases(SERVICE)] == ids[1::-1]
    for rid in ids[2:]:
        registry.save_release(Release(id=rid, service=SERVICE, target="app"))
    _, entry = raw.kv.get(f"flowgate/{SERVICE}/recent")
    assert json.loads(entry["Value"]) == {"ids": ids[:3:-1], "older": True}
    assert [r.id for r in registry.iter_releases(SERVICE)] == ids[::-1]
    assert [r.id for r in registry.releases(SERVICE, limit=2)] == ids[:4:-1]
