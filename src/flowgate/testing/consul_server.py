"""A stand-in for a Consul agent's HTTP API, for tests only. It is NOT Consul.

No Consul server can be installed on the build machines, so flowgate's Consul registry is
tested against this small threaded HTTP server instead. It implements only the endpoints
flowgate uses, following Consul's HTTP API documentation (not flowgate's code):

- `/v1/kv/<key>`: GET (`?recurse`, `?keys` with `?separator`, `?raw`; 404 when nothing
  matches; entries carry `CreateIndex`, `ModifyIndex`, `LockIndex`, `Flags`, base64
  `Value` and `Session` while held; `X-Consul-Index` header), PUT (raw body; `?cas=0`
  creates only, `?cas=N` writes only if `ModifyIndex == N`; `?acquire=` / `?release=`
  with a session; `?flags=`; answers `true` / `false`; an unknown session on acquire is a
  500 "invalid session" as in Consul), DELETE (`?recurse`, `?cas`).
- `/v1/session/create|renew/<id>|destroy/<id>|info/<id>`: sessions with `TTL`, `Behavior`
  (`release` | `delete`) and `LockDelay` (default 15s). An invalidated session (destroyed
  or expired) releases or deletes the keys it holds, and those keys cannot be acquired
  again until the lock-delay has passed. Renewing an unknown session is a 404.
- `/v1/agent/service/register`, `/v1/agent/service/deregister/<id>`, `/v1/agent/services`,
  `/v1/catalog/service/<name>`, `/v1/health/service/<name>` (`?passing`),
  `/v1/status/leader`, `/v1/agent/self`.

Every write increments one global raft-like index. Known differences from Consul:
a session expires exactly at its TTL (Consul may take up to twice the TTL); the TTL
minimum is 10s like Consul's unless `min_session_ttl` is lowered so tests need not sleep;
health checks are never executed: a check keeps the `Status` it was registered with
(Consul's default for a new check, `critical`, when none was given); there is one node,
no blocking queries, no datacenters. ACLs are one token or none: given `acl_token`, the
server behaves as Consul with `default_policy = "deny"` and that one token allowed
everything (a request without it gets 403 "Permission denied").
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flowgate.testing.consul_state import ApiError, ConsulState

__all__ = ["ConsulTestServer", "consul_test_server"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real agent
    # Go sets TCP_NODELAY too; without it, headers and body in two writes wait ~40 ms
    # for a delayed ACK on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read their own output, not an access log."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        state.expire_sessions()
        if self.server.response_delay:
            time.sleep(self.server.response_delay)  # a slow (loaded) agent, for fault tests
        try:
            self._authorize(unquote(parts.path), params)
            status, payload, index = self._route(method, unquote(parts.path), params, body)
        except ApiError as err:
            status, payload, index = err.status, str(err), None
        except (ValueError, KeyError, TypeError) as err:
            status, payload, index = 400, f"Request decode failed: {err}", None
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif isinstance(payload, str) and status != 200:
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if index is not None:
            self.send_header("X-Consul-Index", str(index))
            self.send_header("X-Consul-KnownLeader", "true")
        self.end_headers()
        self.wfile.write(data)

    def _authorize(self, path: str, params: dict[str, str]) -> None:
        """ACLs with default policy `deny`, when the server has a token: a request without
        it (X-Consul-Token header, `Authorization: Bearer`, or `?token=`) gets 403
        "Permission denied", as Consul answers. `/v1/status/*` needs no token (as in Consul)."""
        wanted = self.server.acl_token
        if wanted is None or path.startswith("/v1/status/"):
            return
        bearer = self.headers.get("Authorization", "")
        given = (
            self.headers.get("X-Consul-Token")
            or (bearer[7:] if bearer.startswith("Bearer ") else None)
            or params.get("token")
        )
        if given != wanted:
            raise ApiError(403, "Permission denied")

    def _route(
        self, method: str, path: str, params: dict[str, str], body: bytes
    ) -> tuple[int, Any, int | None]:
        state = self.server.state
        if path.startswith("/v1/kv/"):
            key = path[len("/v1/kv/") :]
            if method == "GET":
                index, found = state.kv_get(key, params)
                if found is None:
                    return 404, b"", index
                if "raw" in params and "keys" not in params:
                    return 200, state.kv[key]["Value"] or b"", index
                return 200, found, index
            if method == "PUT":
                return 200, state.kv_put(key, body, params), None
            return 200, state.kv_delete(key, params), None
        if path == "/v1/session/create" and method == "PUT":
            return 200, {"ID": state.create_session(json.loads(body or b"{}"))}, None
        for prefix in ("/v1/session/renew/", "/v1/session/destroy/", "/v1/session/info/"):
            if path.startswith(prefix):
                sid = path[len(prefix) :]
                with state.lock:
                    if "renew" in prefix:
                        return 200, state.renew_session(sid), state.index
                    if "destroy" in prefix:
                        state.invalidate(sid)
                        return 200, True, None
                    return 200, state.session_view(sid), state.index
        if path == "/v1/agent/service/register" and method == "PUT":
            state.register_service(json.loads(body or b"{}"))
            return 200, b"", None
        if path.startswith("/v1/agent/service/deregister/") and method == "PUT":
            state.deregister_service(path.rsplit("/", 1)[1])
            return 200, b"", None
        if path == "/v1/agent/services":
            return 200, state.agent_services(), None
        if path.startswith("/v1/catalog/service/"):
            return 200, state.catalog_service(path.rsplit("/", 1)[1]), state.index
        if path.startswith("/v1/health/service/"):
            name = path.rsplit("/", 1)[1]
            return 200, state.health_service(name, "passing" in params), state.index
        if path == "/v1/status/leader":
            return 200, f"127.0.0.1:{self.server.server_port}", None
        if path == "/v1/agent/self":
            config = {
                "Datacenter": "dc1",
                "NodeName": state.node,
                "Server": True,
                "Version": "test-double",
            }
            return 200, {"Config": config, "Member": {"Name": state.node, "Status": 1}}, None
        return 404, f"no handler for {method} {path} in the Consul test double", None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: on a busy machine, with the serving thread
    # starved, a sixth client's SYN is dropped and it times out connecting, although the
    # server is alive. Consul (Go) listens with the system's maximum, like this.
    request_queue_size = socket.SOMAXCONN
    state: ConsulState
    acl_token: str | None = None
    response_delay: float = 0.0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout, its process killed) is not a server error:
        Consul drops such a connection silently; anything else is still printed."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ConsulTestServer:
    """A Consul agent HTTP API stand-in on 127.0.0.1 (see the module docstring).

    `start()` returns "127.0.0.1:<port>"; `stop()` shuts it down. `min_session_ttl`
    defaults to Consul's 10 seconds; lower it to test lock expiry without long sleeps.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        min_session_ttl: float = 10.0,
        node: str = "flowgate-test",
        acl_token: str | None = None,
        response_delay: float = 0.0,
    ) -> None:
        self.state = ConsulState(node, min_session_ttl)
        self.acl_token = acl_token
        #: Seconds every request waits before it is handled: a slow agent (fault tests).
        self.response_delay = response_delay
        self._port = port
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def address(self) -> str:
        if self._server is None:
            raise RuntimeError("the Consul test server is not running")
        return f"127.0.0.1:{self._server.server_port}"

    def start(self) -> str:
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.state = self.state
        server.acl_token = self.acl_token
        server.response_delay = self.response_delay
        self._server = server
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="consul-double",
                daemon=True,
            ),
            threading.Thread(target=self._reap, name="consul-double-ttl", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self.address

    def _reap(self) -> None:
        """Expire sessions in the background too, as Consul does, not only on requests."""
        while not self._stopping.wait(0.05):
            self.state.expire_sessions()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> ConsulTestServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def consul_test_server(
    *, min_session_ttl: float = 10.0, acl_token: str | None = None, response_delay: float = 0.0
) -> Iterator[ConsulTestServer]:
    """`with consul_test_server() as consul: ...` (or `yield from` it in a pytest fixture).
    With `acl_token`, every request without that token is refused with a 403; with
    `response_delay`, every request is answered that many seconds late."""
    server = ConsulTestServer(
        min_session_ttl=min_session_ttl, acl_token=acl_token, response_delay=response_delay
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
