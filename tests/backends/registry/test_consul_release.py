"""The engine on the Consul registry: a deploy and a promote leave Consul holding the state,
the history, Docker Flow's keys and the catalog, visible from a second project checkout.

Consul is flowgate.testing.consul_server, a stand-in for Consul's HTTP API (no Consul
server can be installed here); runtime and proxy are flowgate.testing.fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import consul
import pytest

from flowgate.engine.runner import Engine
from flowgate.engine.workspace import open_context
from flowgate.models import Color
from flowgate.testing.consul_server import ConsulTestServer, consul_test_server

COMPOSE = "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
CONFIG = "target: app\nruntime: fake\nproxy: fake\nproject: books\ndrain_timeout: 0\n"


@pytest.fixture
def server() -> Iterator[ConsulTestServer]:
    with consul_test_server() as running:
        yield running


def checkout(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(COMPOSE)
    (folder / "flowgate.yml").write_text(CONFIG)
    return folder


def test_deploy_and_promote_through_consul(
    server: ConsulTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = checkout(tmp_path / "books", monkeypatch)
    flags = {"registry": "consul", "consul_address": server.address}

    def engine() -> Engine:
        return Engine(open_context(project, flags, env={}))

    engine().deploy()
    engine().promote()

    raw = consul.Consul(*server.address.split(":"))
    state = engine().ctx.state
    assert (state.live_color, state.scale) == (Color.BLUE, 1)
    assert raw.kv.get("docker-flow/books-app/color")[1]["Value"] == b"blue"
    assert raw.kv.get("docker-flow/books-app/scale")[1]["Value"] == b"1"
    assert raw.kv.get("flowgate/books-app/lock")[1] is None or not raw.kv.get(
        "flowgate/books-app/lock"
    )[1].get("Session")
    assert [n["ServiceName"] for n in raw.catalog.service("books-app-blue")[1]] == [
        "books-app-blue"
    ]
    assert not (project / ".flowgate" / "registry").exists()  # nothing stored locally

    # A second machine with its own checkout, pointed at the same Consul.
    other = checkout(tmp_path / "elsewhere", monkeypatch)
    seen = open_context(other, flags, env={})
    assert seen.state.live_color is Color.BLUE
    history = seen.registry.releases("books-app")
    assert history and history[0].color is Color.BLUE
