from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flowgate.engine.runner import Engine
from flowgate.engine.workspace import open_context
from flowgate.testing.fakes import fake_state

COMPOSE = """
services:
  app:
    image: books-ms:1.0
    ports: ["8080"]
  db:
    image: books-ms-db:1.0
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project on the fake runtime and proxy and the real file registry."""
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "flowgate.yml").write_text(
        "target: app\nside_targets: [db]\nruntime: fake\nproxy: fake\nproject: books\n"
        "service_path: [/api/v1/books]\ndrain_timeout: 0\n"
    )
    return tmp_path


@pytest.fixture
def engine(project: Path) -> Callable[..., Engine]:
    def make(**flags: Any) -> Engine:
        return Engine(open_context(project, flags, env={}))

    return make


@pytest.fixture
def fakes(project: Path) -> Callable[[str], dict[str, Any]]:
    def read(kind: str) -> dict[str, Any]:
        return fake_state(project, kind).load()

    return read
