"""Reading a local Docker engine without the Docker SDK: a ping, a filtered container
list and an inspect, over the unix socket with the standard library.

Importing the SDK (docker, requests, urllib3) costs ~160 ms of every command's start;
`status`, `history` and the reads before a switch need none of it. Only the engine's
plain unix socket is read this way; a TCP, TLS or SSH `host` goes through the SDK.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any
from urllib.parse import quote, urlsplit

from flowgate.errors import ReleaseFailed

TIMEOUT = 5.0


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
        """The decoded JSON answer; None for a 404; ReleaseFailed for other errors.

        HTTP/1.0 without keep-alive: the engine answers with a plain body that ends when
        it closes the connection, so no chunked decoding (and no http.client) is needed."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            raise ReleaseFailed(f"docker: GET {path}: not an HTTP answer") from None
        if status == 404:
            return None
        if status >= 400:
            try:
                message = json.loads(body).get("message", "")
            except (ValueError, AttributeError):
                message = body.decode(errors="replace")
            raise ReleaseFailed(f"docker: GET {path} failed: {message or status}")
        return json.loads(body) if body[:1] in (b"[", b"{") else body.decode()

    def ping(self) -> None:
        self.get("/_ping")

    def containers(self, labels: list[str]) -> list[ContainerView]:
        """Every container (running or not) with all of `labels` (`key=value`), from one
        list request: its summaries carry what an instance needs (see `from_summary`)."""
        filters = quote(json.dumps({"label": labels}))
        summaries = self.get(f"/containers/json?all=1&filters={filters}") or []
        return [ContainerView(from_summary(summary)) for summary in summaries]


def health_of(status: str) -> str | None:
    """Docker's health from a summary's Status text: "Up 3 seconds (healthy)",
    "(unhealthy)", "(health: starting)"; None without a healthcheck."""
    if status.endswith("(healthy)"):
        return "healthy"
    if status.endswith("(unhealthy)"):
        return "unhealthy"
    if status.endswith("(health: starting)"):
        return "starting"
    return None


def from_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The inspect-shaped attributes flowgate reads, from a `GET /containers/json` entry
    (state, health, labels, name, published ports), so no inspect per container."""
    state: dict[str, Any] = {"Status": summary.get("State", "")}
    health = health_of(str(summary.get("Status", "")))
    if health is not None:
        state["Health"] = {"Status": health}
    ports: dict[str, list[dict[str, str]]] = {}
    for port in summary.get("Ports") or []:
        if port.get("PublicPort"):
            key = f"{port['PrivatePort']}/{port.get('Type', 'tcp')}"
            binding = {"HostIp": port.get("IP", ""), "HostPort": str(port["PublicPort"])}
            ports.setdefault(key, []).append(binding)
    names = summary.get("Names") or [""]
    return {
        "Id": summary.get("Id", ""),
        "Name": names[0],
        "State": state,
        "Config": {"Labels": summary.get("Labels") or {}},
        "NetworkSettings": {"Ports": ports},
    }
