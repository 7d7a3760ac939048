"""The webhook plugin, loaded through its entry point, posting to a real local server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flowgate.engine.runner import Engine
from flowgate.engine.workspace import open_context
from flowgate.plugins import make_plugin_manager


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_the_entry_point_is_loaded() -> None:
    assert make_plugin_manager().has_plugin("webhook")


def project(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "docker-compose.yml").write_text("services:\n  app:\n    image: a:1\n")
    (tmp_path / "flowgate.yml").write_text(
        f"target: app\nruntime: fake\nproxy: fake\nproject: hooked\n{extra}"
    )
    return tmp_path


def test_posts_the_release_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    folder = project(tmp_path, f"webhook_url: {url}\n")
    Engine(open_context(folder, env={})).deploy()
    release = Engine(open_context(folder, env={})).promote()
    assert release is not None
    assert received == [
        {
            "service": "hooked-app",
            "target": "app",
            "event": "release-finished",
            "release": release.id,
            "data": {"outcome": "succeeded", "error": None, "release": release.id},
        }
    ]


def test_a_dead_webhook_never_fails_a_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWGATE_PLUGINS", "flowgate.testing.fakes")
    folder = project(
        tmp_path,
        "webhook_url: http://127.0.0.1:9/nothing-listens\n"
        "webhook_events: [step-finished, release-finished]\n",
    )
    Engine(open_context(folder, env={})).deploy()
    assert Engine(open_context(folder, env={})).ctx.state.deployed_color is not None
