"""Choosing HAProxy as a container: its config keys, and the refusal of a remote engine.

No engine is contacted: these run without Docker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.backends.proxy.haproxy import HAProxyProxy
from flowgate.backends.proxy.haproxy_container import (
    DEFAULT_IMAGE,
    HAProxyContainer,
    local_docker_host,
)
from flowgate.backends.proxy.haproxy_process import HAProxyProcess
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ConfigError, ExitCode


def make(project: Path, env: dict[str, str] | None = None, **flags: object) -> HAProxyProxy:
    flags = {"proxy_port": 18080, "haproxy_dir": str(project / "hap"), **flags}
    keys = HAProxyProxy.config_keys
    settings = load_settings(project, flags=flags, env=env or {}, extra_keys=keys)
    return HAProxyProxy(settings)


@pytest.mark.parametrize(
    "docker_host",
    [
        "ssh://deploy@proxy.example.com",
        "tcp://192.0.2.10:2376",  # TEST-NET-1: never an address of this machine
        "tcp://proxy.invalid:2375",  # a name that cannot resolve
        "npipe:////./pipe/docker_engine",
        "http://",
    ],
)
def test_an_engine_on_another_machine_is_refused_in_one_line(
    tmp_path: Path, docker_host: str
) -> None:
    """Sockets and config are shared by a bind mount, so only a local engine can work."""
    with pytest.raises(ConfigError) as caught:
        make(tmp_path, proxy_docker_host=docker_host)
    message = str(caught.value)
    assert message.startswith("proxy_docker_host: haproxy runs as a container only on ")
    assert "this machine" in message and repr(docker_host) in message
    assert "\n" not in message
    assert caught.value.exit_code == ExitCode.CONFIG
    assert not (tmp_path / "hap").exists()


@pytest.mark.parametrize(
    "docker_host",
    [
        "unix:///var/run/docker.sock",
        "/var/run/docker.sock",
        "tcp://127.0.0.1:2375",
        "tcp://localhost:2375",
        "tcp://[::1]:2375",
    ],
)
def test_an_engine_on_this_machine_is_accepted(docker_host: str) -> None:
    assert local_docker_host(docker_host) == docker_host


def test_container_mode_only_with_proxy_docker_host(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    assert isinstance(make(project).runner, HAProxyProcess)
    proxy = make(project, proxy_docker_host="unix:///var/run/docker.sock")
    assert isinstance(proxy.runner, HAProxyContainer)
    assert proxy.runner.image == DEFAULT_IMAGE == "haproxy:2.6"
    assert proxy.runner.name.startswith("flowgate-haproxy-18080-")
    # Another haproxy_dir gets its own container.
    twin = make(project, proxy_docker_host="unix:///var/run/docker.sock", haproxy_dir="/x")
    assert isinstance(twin.runner, HAProxyContainer) and twin.runner.name != proxy.runner.name


def test_image_and_docker_host_come_from_file_and_environment(tmp_path: Path) -> None:
    (tmp_path / "flowgate.yml").write_text(
        "proxy: haproxy\nproxy_docker_host: unix:///var/run/docker.sock\n"
        "haproxy_image: registry.local/haproxy:2.8\n"
    )
    from_file = make(tmp_path).runner
    assert isinstance(from_file, HAProxyContainer)
    assert from_file.image == "registry.local/haproxy:2.8"
    from_env = make(tmp_path, env={"FLOWGATE_HAPROXY_IMAGE": "haproxy:2.9"}).runner
    assert isinstance(from_env, HAProxyContainer) and from_env.image == "haproxy:2.9"
    remote = {"FLOW_PROXY_DOCKER_HOST": "ssh://proxy.example.com"}
    with pytest.raises(ConfigError, match="this machine"):
        make(tmp_path, env=remote)


def test_haproxy_image_is_declared_through_the_config_keys_hook() -> None:
    from flowgate.plugins import BackendCatalog, make_plugin_manager

    catalog = BackendCatalog.collect(make_plugin_manager(load_entry_points=False))
    keys = {key.name: key for key in catalog.config_keys()}
    assert keys["haproxy_image"].default == DEFAULT_IMAGE
    assert keys["haproxy_image"].env_var == "FLOWGATE_HAPROXY_IMAGE"


def test_check_in_container_mode_needs_the_engine_not_a_local_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no haproxy binary
    proxy = make(tmp_path, proxy_docker_host=f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(BackendUnreachable, match=r"^haproxy: cannot reach the proxy's Docker host"):
        proxy.check()
