"""The `flow` fixture: a Docker Flow user's project (see flow_project)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_project import COMPOSE, DOCKER_FLOW_YML, Flow

from flowgate.testing.consul_server import consul_test_server
from flowgate.testing.dfp_server import dfp_test_server


@pytest.fixture
def flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Flow]:
    folder = tmp_path / "books-ms"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(COMPOSE)
    (folder / "docker-flow.yml").write_text(DOCKER_FLOW_YML)
    (folder / "flowgate.yml").write_text("runtime: fake\ndrain_timeout: 0\n")
    for name in list(os.environ):
        if name.startswith(("FLOW", "DOCKER_", "CONSUL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    monkeypatch.chdir(folder)
    with consul_test_server() as consul, dfp_test_server() as proxy:
        monkeypatch.setenv("FLOW_CONSUL_ADDRESS", f"http://{consul.address}")
        monkeypatch.setenv("FLOW_PROXY_HOST", proxy.host)
        monkeypatch.setenv("FLOW_PROXY_RECONF_PORT", str(proxy.port))
        yield Flow(folder, consul, proxy, capsys)
