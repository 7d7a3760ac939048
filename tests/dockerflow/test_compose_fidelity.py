"""Compose keys that change how a container runs are honoured by the docker runtime or
refused with an error naming them: never dropped with a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flowgate.backends.runtime.docker import DockerRuntime
from flowgate.backends.runtime.docker_options import SUPPORTED, create_options
from flowgate.backends.runtime.swarm import SwarmRuntime
from flowgate.config.compose import RUNTIME_KEYS, load_compose
from flowgate.config.settings import load_settings
from flowgate.errors import ConfigError

COMPOSE = """
services:
  app:
    image: books-ms:1.0
    init: false
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    user: "1000:1000"
    working_dir: /srv
    extra_hosts: ["db.example:10.0.0.5", "cache.example=10.0.0.6"]
    restart: on-failure:3
    cpus: 0.5
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    tmpfs: [/run, "/tmp:size=64m"]
    volumes:
      - type: bind
        source: ./data
        target: /data
        read_only: true
      - cache:/cache
    network_mode: host
    profiles: [debug]
"""


def compose(tmp_path: Path, text: str = COMPOSE) -> Any:
    (tmp_path / "docker-compose.yml").write_text(text)
    return load_compose(tmp_path / "docker-compose.yml", {})


def test_runtime_keys_are_kept_not_reported_as_ignored(tmp_path: Path) -> None:
    loaded = compose(tmp_path)
    app = loaded.service("app")
    assert set(app.options) == {
        "init", "stop_signal", "stop_grace_period", "user", "working_dir", "extra_hosts",
        "restart", "cpus", "ulimits", "tmpfs", "network_mode",
    }  # fmt: skip
    assert loaded.ignored == ["services.app.profiles"]  # runs the same without it
    assert app.volumes == ["./data:/data:ro", "cache:/cache"]


def test_the_docker_runtime_turns_them_into_engine_options(tmp_path: Path) -> None:
    options = create_options("app", compose(tmp_path).service("app").options)
    ulimits = options.pop("ulimits")
    assert [(u.name, u.soft, u.hard) for u in ulimits] == [
        ("nofile", 1024, 2048),
        ("nproc", 64, 64),
    ]
    assert options == {
        "init": False,
        "stop_signal": "SIGINT",
        "stop_timeout": 90,
        "user": "1000:1000",
        "working_dir": "/srv",
        "extra_hosts": {"db.example": "10.0.0.5", "cache.example": "10.0.0.6"},
        "restart_policy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "nano_cpus": 500_000_000,
        "tmpfs": {"/run": "", "/tmp": "size=64m"},
    }


def runtime(cls: type, tmp_path: Path) -> Any:
    return cls(load_settings(tmp_path, flags={}, env={}, extra_keys=cls.config_keys))


def test_a_key_the_runtime_cannot_honour_is_refused_by_name(tmp_path: Path) -> None:
    app = compose(tmp_path).service("app")
    with pytest.raises(ConfigError, match="not supported by the docker runtime: network_mode"):
        runtime(DockerRuntime, tmp_path).check_service(app)


def test_the_swarm_runtime_refuses_what_it_does_not_honour(tmp_path: Path) -> None:
    app = compose(tmp_path, "services:\n  app:\n    image: a\n    user: '1000'\n").service("app")
    with pytest.raises(ConfigError, match="not supported by the swarm runtime: user"):
        runtime(SwarmRuntime, tmp_path).check_service(app)


def test_every_runtime_key_is_either_honoured_or_refused_by_docker() -> None:
    refused = RUNTIME_KEYS - set(SUPPORTED)
    assert set(SUPPORTED) <= RUNTIME_KEYS
    assert {"network_mode", "secrets", "links", "volumes_from", "platform"} <= refused


def test_a_bad_value_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="restart"):
        create_options("app", {"restart": "sometimes"})


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ("{front: {aliases: [books]}}", "networks.front"),
        ("{front: {ipv4_address: 1.2.3.4}}", "ipv4"),
    ],
)
def test_per_network_options_are_refused(tmp_path: Path, networks: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compose(tmp_path, f"services:\n  app:\n    image: a\n    networks: {networks}\n")


def test_an_unsupported_volume_is_refused(tmp_path: Path) -> None:
    text = "services:\n  app:\n    image: a\n    volumes: [{type: tmpfs, target: /x}]\n"
    with pytest.raises(ConfigError, match="type tmpfs"):
        compose(tmp_path, text)


def test_the_project_refuses_before_anything_changes(tmp_path: Path) -> None:
    from flowgate.engine.workspace import open_context

    compose(tmp_path)
    with pytest.raises(ConfigError, match="network_mode"):
        open_context(tmp_path, {"target": "app"}, env={})
