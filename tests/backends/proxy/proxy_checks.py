"""Loopback HTTP backends and a plain GET, for the HAProxy suites (process and container).

Imported by the test modules beside it.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from flowgate.models import Instance


class Backend:
    """An HTTP/1.1 keep-alive server on loopback that answers with its own name."""

    def __init__(self, name: str) -> None:
        # `/slow` requests are held until `release` is set: an in-flight request for as
        # long as a test needs one. `in_flight` counts them.
        self.release = threading.Event()
        self.in_flight = 0
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    backend.in_flight += 1
                    backend.release.wait(10)
                    backend.in_flight -= 1
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # HAProxy's TCP health checks connect and reset; that is no error

        self.name = name
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def instance(self) -> Instance:
        return Instance(self.name, f"127.0.0.1:{self.server.server_address[1]}", "running", True)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(port: int, path: str = "/", headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()
