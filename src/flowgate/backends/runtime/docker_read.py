"""Reading a local Docker engine without the Docker SDK: a ping, a filtered container
list and an inspect, over the unix socket with the standard library.

Importing the SDK (docker, requests, urllib3) costs ~160 ms of every command's start;
`status`, `history` and the reads before a switch need none of it. Only the engine's
plain unix socket is read this way; a TCP, TLS or SSH `host` goes through the SDK.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from typing import Any
from urllib.parse import quote, urlsplit

from flowgate.errors import ReleaseFailed

TIMEOUT = 5.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ContainerView:
    """The parts of the SDK's `Container` that flowgate reads, from an inspect answer."""

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.id: str = attrs.get("Id", "")
        self.name: str = str(attrs.get("Name", "")).lstrip("/")
        self.status: str = (attrs.get("State") or {}).get("Status", "")
        self.labels: dict[str, str] = (attrs.get("Config") or {}).get("Labels") or {}


class EngineReader:
    """GET requests to the Engine API on a unix socket; OSError when it does not answer."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout

    @classmethod
    def for_url(cls, url: str) -> EngineReader | None:
        """A reader for `unix://` engine URLs (without TLS settings), else None."""
        parts = urlsplit(url)
        if parts.scheme != "unix" or os.environ.get("DOCKER_TLS_VERIFY"):
            return None
        return cls(parts.path or "/var/run/docker.sock")

    def get(self, path: str) -> Any:
        """The decoded JSON answer; None for a 404; ReleaseFailed for other errors."""
        connection = _UnixConnection(self.path, self.timeout)
        try:
            connection.request("GET", path)
            answer = connection.getresponse()
            body = answer.read()
        finally:
            connection.close()
        if answer.status == 404:
            return None
        if answer.status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace")
            raise ReleaseFailed(f"docker: GET {path} failed: {message or answer.status}")
        return json.loads(body) if body and body[:1] in b"[{" else body.decode()

    def ping(self) -> None:
        self.get("/_ping")

    def containers(self, labels: list[str]) -> list[ContainerView]:
        """Every container (running or not) with all of `labels` (`key=value`), inspected."""
        filters = quote(json.dumps({"label": labels}))
        found = []
        for summary in self.get(f"/containers/json?all=1&filters={filters}") or []:
            attrs = self.get(f"/containers/{summary['Id']}/json")
            if attrs is not None:  # None: removed between the listing and the inspect
                found.append(ContainerView(attrs))
        return found
