"""Helpers for the tests of `flowgate flow`: a Docker Flow user's project (docker-compose.yml
and docker-flow.yml as in Docker Flow's walkthrough, FLOW_* variables pointing at the
Consul and Docker Flow Proxy test servers, a flowgate.yml that selects the fake runtime)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flowgate.cli.app import main
from flowgate.testing.consul_server import ConsulTestServer
from flowgate.testing.dfp_server import DockerFlowProxyTestServer
from flowgate.testing.fakes import fake_state

COMPOSE = """
version: '2'
services:
  app:
    image: vfarcic/go-demo
    ports:
      - 8080
  db:
    image: mongo
"""
DOCKER_FLOW_YML = """
target: app
side_targets:
  - db
blue_green: true
service_path:
  - /demo
"""


@dataclass
class Flow:
    """Runs `flowgate flow ...` in-process and reads what the backends hold."""

    folder: Path
    consul: ConsulTestServer
    proxy: DockerFlowProxyTestServer
    capsys: pytest.CaptureFixture[str]

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["flow", "-q", *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def kv(self, key: str) -> str | None:
        url = f"http://{self.consul.address}/v1/kv/{key}?raw"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return str(answer.read().decode())
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise

    def put(self, key: str, value: str) -> None:
        request = urllib.request.Request(
            f"http://{self.consul.address}/v1/kv/{key}", data=value.encode(), method="PUT"
        )
        urllib.request.urlopen(request, timeout=5).close()

    def containers(self) -> dict[str, list[str]]:
        """`{"<project>_app-blue": ["running", ...]}` from the fake runtime."""
        data: dict[str, Any] = fake_state(self.folder, "runtime").load()
        return {
            key: [r["state"] for r in records]
            for key, records in data.get("containers", {}).items()
            if records
        }

    def sent(self) -> list[dict[str, str]]:
        """Every reconfigure request Docker Flow Proxy received, decoded."""
        return [dict(r.params) for r in self.proxy.calls("reconfigure")]

    def flowgate_state(self, service: str) -> dict[str, Any] | None:
        raw = self.kv(f"flowgate/{service}/state")
        return None if raw is None else dict(json.loads(raw))
