"""A project on the fake runtime and proxy, driven through the CLI in-process: what the
CLI tests' `project` fixtures and their runner share."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.cli.app import main

#: Variables a developer's shell may set that would change what the CLI does.
UNSET = ("FLOW_TARGET", "FLOW_SCALE", "FLOW_COMPOSE_PATH", "NO_COLOR", "FLOWGATE_DEBUG")


def fake_project(folder: Path, monkeypatch: pytest.MonkeyPatch, compose: str, config: str) -> Path:
    """`folder` holding `compose` and `config` (flowgate.yml), the fakes loaded, the
    working directory in it."""
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    (folder / "docker-compose.yml").write_text(compose)
    (folder / "flowgate.yml").write_text(config)
    monkeypatch.chdir(folder)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`flowgate ARGV` in-process: its exit code, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
