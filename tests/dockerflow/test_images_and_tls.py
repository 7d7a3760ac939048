"""Images as Docker Flow had them (pulled before each deploy) and the Docker hosts' TLS
material (--cert-path, --proxy-docker-cert-path, DOCKER_CERT_PATH / DOCKER_TLS_VERIFY)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from flowgate.backends.proxy.docker_flow_proxy import DockerFlowProxy
from flowgate.backends.runtime.docker import DockerRuntime
from flowgate.backends.runtime.docker_setup import ensure_image
from flowgate.config.compose import ServiceSpec
from flowgate.config.settings import load_settings
from flowgate.dockerflow.bridge import settings_flags
from flowgate.dockerflow.flags import parse_args
from flowgate.dockerflow.keys import DOCKER_FLOW_KEYS
from flowgate.dockerflow.options import resolve
from flowgate.errors import ReleaseFailed


class Images:
    """A stand-in for `client.images`: which images exist, whether a registry answers."""

    def __init__(self, present: set[str], registry: bool) -> None:
        self.present, self.registry = present, registry
        self.pulled: list[str] = []

    def get(self, name: str) -> object:
        if name not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return object()

    def pull(self, repository: str, tag: str) -> None:
        self.pulled.append(f"{repository}:{tag}")
        if not self.registry:
            raise docker.errors.APIError(
                "Get https://registry-1.docker.io/v2/: dial tcp: no such host"
            )
        self.present.add(f"{repository}:{tag}")


class Client:
    def __init__(self, images: Images) -> None:
        self.images = images


APP = ServiceSpec(name="app", image="vfarcic/go-demo:latest")


def test_the_image_is_pulled_even_when_a_local_copy_exists() -> None:
    images = Images({"vfarcic/go-demo:latest"}, registry=True)
    assert ensure_image(Client(images), "books", APP, pull=True) == "vfarcic/go-demo:latest"
    assert images.pulled == ["vfarcic/go-demo:latest"]


def test_no_registry_and_a_local_image_says_so_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    images = Images({"vfarcic/go-demo:latest"}, registry=False)
    with caplog.at_level(logging.WARNING, logger="flowgate"):
        ensure_image(Client(images), "books", APP, pull=True)
    assert images.pulled == ["vfarcic/go-demo:latest"]
    assert "could not pull vfarcic/go-demo:latest" in caplog.text
    assert "using the local image" in caplog.text


def test_no_registry_and_no_local_image_fails_before_anything_starts() -> None:
    with pytest.raises(ReleaseFailed, match="could not be pulled and is not here"):
        ensure_image(Client(Images(set(), registry=False)), "books", APP, pull=True)


def flow_settings(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    options = resolve(tmp_path, parse_args(["-t", "app", *args]), env or {})
    flags = settings_flags(options, tmp_path, env or {})
    keys = (*DOCKER_FLOW_KEYS, *DockerFlowProxy.config_keys, *DockerRuntime.config_keys)
    return load_settings(tmp_path, flags=flags, env={}, extra_keys=keys)


def test_flow_pulls_before_deploy_and_side_targets_with_S(tmp_path: Path) -> None:
    assert flow_settings(tmp_path).pull is True
    assert flow_settings(tmp_path).pull_side_targets is False
    assert flow_settings(tmp_path, "-S").pull_side_targets is True


def connect_environment(
    monkeypatch: pytest.MonkeyPatch, backend: Any, method: str = "_connect"
) -> dict[str, str]:
    """The environment a backend hands docker.from_env (Docker's own TLS variables)."""
    seen: dict[str, str] = {}

    def from_env(timeout: int = 0, environment: dict[str, str] | None = None) -> Any:
        seen.update(environment or {})
        raise docker.errors.DockerException("stop here")

    monkeypatch.setattr(docker, "from_env", from_env)
    with pytest.raises(Exception, match="stop here"):
        getattr(backend, method)(*([5] if method == "_connect" else ["unreachable"]))
    return seen


def test_cert_path_is_the_docker_hosts_tls_material(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/from/docker")
    settings = flow_settings(tmp_path, "-H", "tcp://swarm:2376", "--cert-path", "/certs/swarm")
    seen = connect_environment(monkeypatch, DockerRuntime(settings))
    assert seen["DOCKER_HOST"] == "tcp://swarm:2376"
    assert seen["DOCKER_CERT_PATH"] == "/certs/swarm"
    assert seen["DOCKER_TLS_VERIFY"] == "1"  # Docker's own switch, left as it is


def test_without_cert_path_docker_cert_path_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"DOCKER_CERT_PATH": "/from/docker"}
    settings = flow_settings(tmp_path, "-H", "tcp://swarm:2376", env=env)
    assert settings.cert_path == "/from/docker"
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    assert connect_environment(monkeypatch, DockerRuntime(settings))["DOCKER_CERT_PATH"] == (
        "/from/docker"
    )


def test_proxy_docker_cert_path_is_the_proxy_hosts_tls_material(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = flow_settings(
        tmp_path,
        "--proxy-host=proxy",
        "--proxy-docker-host=tcp://proxy:2376",
        "--proxy-docker-cert-path=/certs/proxy",
    )
    seen = connect_environment(monkeypatch, DockerFlowProxy(settings), "_docker_client")
    assert (seen["DOCKER_HOST"], seen["DOCKER_CERT_PATH"]) == ("tcp://proxy:2376", "/certs/proxy")
