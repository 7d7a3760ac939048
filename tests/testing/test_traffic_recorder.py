"""The recording client counts every outcome and never hides a failure behind a retry."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from flowgate.testing.traffic import TrafficRecorder, version_and_color


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    """Answers the example's JSON; the status of each answer is taken from `plan`."""
    plan: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status = plan.pop(0) if plan else 200
            body = json.dumps({"version": "1.0", "color": "blue"}).encode()
            if self.path == "/garbled":
                body = b"not json"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", plan
    httpd.shutdown()
    httpd.server_close()


def test_counts_answers_and_each_failed_status(server: tuple[str, list[int]]) -> None:
    url, plan = server
    plan.extend([503, 200, 502])
    with TrafficRecorder(url + "/api", label=version_and_color, keep_alive=(True,)) as traffic:
        traffic.wait_for("1.0 (blue)")
        while len(traffic.samples) < 10:
            traffic.wait_for("1.0 (blue)")
    assert [s.status for s in traffic.failures] == [503, 502]
    assert traffic.answers()["1.0 (blue)"] == len(traffic.samples) - 2
    assert "2 failed" in traffic.summary()


def test_unreadable_body_and_refused_connection_are_failures(
    server: tuple[str, list[int]],
) -> None:
    url, _ = server
    with TrafficRecorder(url + "/garbled", label=version_and_color, keep_alive=(False,)) as t:
        while not t.samples:
            time.sleep(0.01)
    assert t.failures and t.failures[0].status == 200
    assert t.failures[0].answer.startswith("unreadable answer")

    refused = TrafficRecorder("http://127.0.0.1:9/", keep_alive=(False,), pause=0.01)
    with refused, pytest.raises(TimeoutError):
        refused.wait_for("anything", timeout=0.3)
    assert refused.samples and all(s.status == 0 for s in refused.samples)
    assert "ConnectionRefusedError" in refused.failures[0].answer
