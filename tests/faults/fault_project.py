"""A project on the fake runtime and proxy with the real file registry, driven through
the CLI in-process; helpers to damage its registry on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowgate.cli.app import main

COMPOSE = "services:\n  app:\n    image: books-ms:1.0\n    ports: ['8080']\n"
CONFIG = "target: app\nruntime: fake\nproxy: fake\nproject: faults\ndrain_timeout: 0\n"
SERVICE = "faults-app"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    for name in ("FLOW_TARGET", "FLOW_SCALE", "NO_COLOR", "FLOWGATE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "faults"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(COMPOSE)
    (folder / "flowgate.yml").write_text(CONFIG)
    monkeypatch.chdir(folder)
    return folder


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def state_file(project: Path) -> Path:
    return project / ".flowgate" / "registry" / SERVICE / "state.json"


def fake_containers(project: Path) -> dict[str, object]:
    path = project / ".flowgate" / "fakes" / "runtime.json"
    return json.loads(path.read_text()) if path.exists() else {}
