"""The Consul API test double, checked through py-consul against Consul's documented
semantics (KV check-and-set, locks, sessions, catalog), independently of flowgate's code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import consul
import pytest
import requests

from flowgate.testing.consul_server import ConsulTestServer, consul_test_server


@pytest.fixture
def server() -> Iterator[ConsulTestServer]:
    with consul_test_server(min_session_ttl=0.1) as running:
        yield running


@pytest.fixture
def client(server: ConsulTestServer) -> Any:
    host, port = server.address.split(":")
    return consul.Consul(host=host, port=int(port), connections_timeout=5)


def session(client: Any, ttl: str = "30s", behavior: str = "release", delay: str = "0s") -> str:
    reply = requests.put(
        f"http://{client.http.host}:{client.http.port}/v1/session/create",
        json={"TTL": ttl, "Behavior": behavior, "LockDelay": delay},
        timeout=5,
    )
    reply.raise_for_status()
    sid: str = reply.json()["ID"]
    return sid


def test_missing_key_is_404_and_none(client: Any, server: ConsulTestServer) -> None:
    assert client.kv.get("nope") == (str(server.state.index), None)
    reply = requests.get(f"http://{server.address}/v1/kv/nope", timeout=5)
    assert reply.status_code == 404
    assert "X-Consul-Index" in reply.headers


def test_cas_zero_creates_only(client: Any) -> None:
    assert client.kv.put("k", "one", cas=0) is True
    assert client.kv.put("k", "two", cas=0) is False
    assert client.kv.get("k")[1]["Value"] == b"one"


def test_cas_must_match_modify_index(client: Any) -> None:
    client.kv.put("k", "one")
    _, entry = client.kv.get("k")
    assert client.kv.put("k", "stale", cas=entry["ModifyIndex"] - 1) is False
    assert client.kv.put("k", "two", cas=entry["ModifyIndex"]) is True
    _, after = client.kv.get("k")
    assert after["Value"] == b"two"
    assert after["ModifyIndex"] > entry["ModifyIndex"]
    assert after["CreateIndex"] == entry["CreateIndex"]
    assert client.kv.put("k", "three", cas=entry["ModifyIndex"]) is False


def test_every_write_raises_the_index(client: Any) -> None:
    client.kv.put("a", "1")
    first = client.kv.get("a")[1]["ModifyIndex"]
    client.kv.put("b", "1")
    client.kv.put("a", "2")
    index, entry = client.kv.get("a")
    assert entry["ModifyIndex"] > first + 1
    assert int(index) == entry["ModifyIndex"]


def test_recurse_keys_and_delete(client: Any) -> None:
    for key in ("app/x", "app/y/z", "other"):
        client.kv.put(key, key)
    _, entries = client.kv.get("app/", recurse=True)
    assert [e["Key"] for e in entries] == ["app/x", "app/y/z"]
    assert client.kv.get("app/", keys=True, separator="/")[1] == ["app/x", "app/y/"]
    _, entry = client.kv.get("app/x")
    assert client.kv.delete("app/x", cas=entry["ModifyIndex"] + 100) is False
    assert client.kv.delete("app/x", cas=entry["ModifyIndex"]) is True
    assert client.kv.delete("app/", recurse=True) is True
    assert client.kv.get("app/", recurse=True)[1] is None
    assert client.kv.get("other")[1]["Value"] == b"other"


def test_acquire_and_release(client: Any) -> None:
    one, two = session(client), session(client)
    assert client.kv.put("lock", "one", acquire=one) is True
    _, entry = client.kv.get("lock")
    assert (entry["Session"], entry["LockIndex"]) == (one, 1)
    assert client.kv.put("lock", "two", acquire=two) is False
    assert client.kv.put("lock", "again", acquire=one) is True  # re-acquire: same lock
    assert client.kv.get("lock")[1]["LockIndex"] == 1
    assert client.kv.put("lock", "x", release=two) is False
    assert client.kv.put("lock", "free", release=one) is True
    _, entry = client.kv.get("lock")
    assert "Session" not in entry and entry["Value"] == b"free"
    assert client.kv.put("lock", "two", acquire=two) is True
    assert client.kv.get("lock")[1]["LockIndex"] == 2


def test_acquire_with_unknown_session_is_a_500(client: Any) -> None:
    with pytest.raises(consul.ConsulException, match="500"):
        client.kv.put("lock", "x", acquire="00000000-0000-0000-0000-000000000000")


def test_session_expiry_releases_or_deletes_held_keys(client: Any) -> None:
    keeps, drops = session(client, "0.3s", "release"), session(client, "0.3s", "delete")
    client.kv.put("kept", "v", acquire=keeps)
    client.kv.put("dropped", "v", acquire=drops)
    time.sleep(0.6)
    _, kept = client.kv.get("kept")
    assert kept["Value"] == b"v" and "Session" not in kept
    assert client.kv.get("dropped")[1] is None
    assert client.session.info(keeps)[1] is None
    with pytest.raises(consul.NotFound):
        client.session.renew(keeps)


def test_renew_keeps_a_session_alive(client: Any) -> None:
    sid = session(client, "0.4s", "delete")
    client.kv.put("lock", "v", acquire=sid)
    for _ in range(5):
        time.sleep(0.15)
        assert client.session.renew(sid)["ID"] == sid
    assert client.kv.get("lock")[1]["Session"] == sid


def test_destroy_applies_lock_delay(client: Any) -> None:
    sid = session(client, "30s", "release", delay="0.5s")
    client.kv.put("lock", "v", acquire=sid)
    assert client.session.destroy(sid) is True
    other = session(client)
    assert client.kv.put("lock", "v", acquire=other) is False  # still in the lock-delay
    time.sleep(0.6)
    assert client.kv.put("lock", "v", acquire=other) is True


def test_consul_ttl_minimum_is_enforced_by_default() -> None:
    with consul_test_server() as strict:
        host, port = strict.address.split(":")
        c = consul.Consul(host=host, port=int(port))
        reply = requests.put(
            f"http://{strict.address}/v1/session/create", json={"TTL": "1s"}, timeout=5
        )
        assert reply.status_code == 500 and "TTL" in reply.text
        sid = c.session.create(ttl=10, behavior="delete", lock_delay=0)
        assert c.session.info(sid)[1]["TTL"] == "10s"


def test_agent_services_catalog_and_health(client: Any) -> None:
    check = consul.Check.tcp("127.0.0.1", 8080, "10s")
    client.agent.service.register(
        "web",
        service_id="web-1",
        address="127.0.0.1",
        port=8080,
        check={**check, "status": "passing"},
    )
    client.agent.service.register(
        "web",
        service_id="web-2",
        address="127.0.0.1",
        port=8081,
        check=consul.Check.tcp("127.0.0.1", 8081, "10s"),
    )
    _, nodes = client.catalog.service("web")
    assert sorted((n["ServiceID"], n["ServicePort"]) for n in nodes) == [
        ("web-1", 8080),
        ("web-2", 8081),
    ]
    _, healthy = client.health.service("web", passing=True)
    assert [h["Service"]["ID"] for h in healthy] == ["web-1"]  # unset status is critical
    assert set(client.agent.services()) == {"web-1", "web-2"}
    assert client.agent.service.deregister("web-1") is True
    assert [n["ServiceID"] for n in client.catalog.service("web")[1]] == ["web-2"]
    assert client.agent.service.deregister("web-1") is False  # 404: unknown service id


def test_status_and_self(client: Any, server: ConsulTestServer) -> None:
    assert client.status.leader()
    assert client.agent.self()["Config"]["NodeName"] == "flowgate-test"


def test_stop_closes_the_port() -> None:
    server = ConsulTestServer()
    address = server.start()
    assert requests.get(f"http://{address}/v1/status/leader", timeout=5).ok
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}/v1/status/leader", timeout=5)
