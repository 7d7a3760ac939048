"""A stand-in for Docker Flow Proxy's HTTP API, for tests only. It is NOT the proxy.

No Docker Flow Proxy image can be pulled on the build machines, so flowgate's
`docker-flow-proxy` backend is tested against this small threaded HTTP server. It follows
the proxy's documented API (docs/usage.md of vfarcic/docker-flow-proxy, and the answers
of its Consul-mode server), not flowgate's code:

- `/v1/docker-flow-proxy/reconfigure`: `serviceName` and `servicePath` (or both
  `consulTemplateFePath` and `consulTemplateBePath` instead) are mandatory; a
  missing (or empty) one is a 400 with `{"Status": "NOK", "Message": "The following
  queries are mandatory: serviceName and servicePath"}`. Otherwise 200 with
  `{"Status": "OK", "Message": "", "ServiceName": ..., ...}` echoing the parsed query
  (`servicePath` and `serviceDomain` split on commas, as the proxy does).
- `/v1/docker-flow-proxy/remove`: `serviceName` is mandatory (400 "The serviceName query
  is mandatory"), else 200 `{"Status": "OK", "ServiceName": ...}`.
- Any other path: 404 "404 page not found" (the proxy's router answers so).

It routes nothing: it only records every request (path and parsed query) for assertions.
`fail(status, message)` makes every later API call answer that status with a NOK body,
as the proxy does when HAProxy's reload fails; `recover()` undoes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["DockerFlowProxyTestServer", "RecordedRequest", "dfp_test_server"]

API = "/v1/docker-flow-proxy"
MANDATORY_RECONFIGURE = "The following queries are mandatory: serviceName and servicePath"
MANDATORY_REMOVE = "The serviceName query is mandatory"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str  # the raw query string, still URL-encoded
    params: dict[str, str] = field(default_factory=dict)  # decoded, first value of each


def _split(value: str) -> list[str]:
    return [item for item in value.split(",") if item] if value else []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read their own output, not an access log."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(RecordedRequest("GET", parts.path, parts.query, params))
            failure = owner.failure
        path = parts.path.rstrip("/")
        if path == f"{API}/reconfigure":
            status, body = self._reconfigure(params)
        elif path == f"{API}/remove":
            status, body = self._remove(params)
        else:
            self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        if failure is not None and status == 200:
            status, body = failure[0], {**body, "Status": "NOK", "Message": failure[1]}
        self._send(status, json.dumps(body).encode(), "application/json")

    def _reconfigure(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {
            "Status": "OK",
            "Message": "",
            "ServiceName": params.get("serviceName", ""),
            "ServiceColor": params.get("serviceColor", ""),
            "ServicePath": _split(params.get("servicePath", "")),
            "ServiceDomain": _split(params.get("serviceDomain", "")),
            "PathType": params.get("pathType", ""),
            "SkipCheck": params.get("skipCheck", "").lower() == "true",
            "Port": params.get("port", ""),
        }
        # The proxy takes Consul Template snippets in place of a path (its server.go:
        # "servicePath or (consulTemplateFePath and consulTemplateBePath)").
        templates = {
            f"ConsulTemplate{kind}Path": params[f"consulTemplate{kind}Path"]
            for kind in ("Fe", "Be")
            if params.get(f"consulTemplate{kind}Path")
        }
        body.update(templates)
        templated = len(templates) == 2
        if not body["ServiceName"] or not (body["ServicePath"] or templated):
            return 400, {**body, "Status": "NOK", "Message": MANDATORY_RECONFIGURE}
        return 200, body

    def _remove(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body = {"Status": "OK", "Message": "", "ServiceName": params.get("serviceName", "")}
        if not body["ServiceName"]:
            return 400, {**body, "Status": "NOK", "Message": MANDATORY_REMOVE}
        return 200, body

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: DockerFlowProxyTestServer


class DockerFlowProxyTestServer:
    """Serves the stand-in API on 127.0.0.1 (a free port unless one is given)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.failure: tuple[int, str] | None = None
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> DockerFlowProxyTestServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def fail(self, status: int = 500, message: str = "HAProxy reload failed") -> None:
        """Answer every later reconfigure/remove with `status` and a NOK `message`."""
        with self.lock:
            self.failure = (status, message)

    def recover(self) -> None:
        with self.lock:
            self.failure = None

    def calls(self, action: str) -> list[RecordedRequest]:
        """Recorded requests to one API action ("reconfigure" or "remove")."""
        with self.lock:
            return [r for r in self.requests if r.path.rstrip("/") == f"{API}/{action}"]


@contextmanager
def dfp_test_server() -> Iterator[DockerFlowProxyTestServer]:
    server = DockerFlowProxyTestServer().start()
    try:
        yield server
    finally:
        server.stop()
