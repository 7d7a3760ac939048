"""Like Docker Flow, the backend starts the proxy container on `proxy_docker_host`.

No Docker Flow Proxy image can be pulled here, so `proxy_image` points at a stand-in built
locally: static busybox on scratch whose httpd just serves on the proxy's API port (8080),
enough to prove the container was started with the proxy's ports and answers there.
Each test uses its own container name and free host ports and removes the container.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowgate.backends.base import Route
from flowgate.backends.proxy.docker_flow_proxy import DockerFlowProxy
from flowgate.config.settings import Settings, load_settings
from flowgate.errors import ReleaseFailed
from flowgate.testing.images import build_busybox_image
from flowgate.testing.network import free_port

IMAGE = "flowgate-test-dfp:1"
DOCKER_HOST = "unix:///var/run/docker.sock"
DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "/www"]
EXPOSE 80 443 8080
CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
"""

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def stand_in_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_busybox_image(docker_client, IMAGE, DOCKERFILE)


@pytest.fixture
def container_name(docker_client: Any) -> Iterator[str]:
    import docker.errors

    name = f"flowgate-test-dfp-{uuid.uuid4().hex[:10]}"
    yield name
    with contextlib.suppress(docker.errors.NotFound):
        docker_client.containers.get(name).remove(force=True)


def proxy_settings(tmp_path: Path, name: str, image: str) -> Settings:
    flags = {
        "proxy_host": "127.0.0.1",
        "proxy_docker_host": DOCKER_HOST,
        "proxy_container": name,
        "proxy_image": image,
        "proxy_port": free_port(),
        "proxy_https_port": free_port(),
        "proxy_reconf_port": free_port(),
        "registry": "consul",
        "consul_address": "127.0.0.1:8500",
    }
    return load_settings(tmp_path, flags=flags, env={}, extra_keys=DockerFlowProxy.config_keys)


def named(docker_client: Any, name: str) -> list[Any]:
    return [c for c in docker_client.containers.list(all=True) if c.name == name]


def test_check_starts_exactly_one_proxy_container(
    tmp_path: Path, docker_client: Any, stand_in_image: str, container_name: str
) -> None:
    settings = proxy_settings(tmp_path, container_name, stand_in_image)
    DockerFlowProxy(settings).check()  # starts it and waits until the API port answers

    [container] = named(docker_client, container_name)
    assert container.status == "running"
    assert container.attrs["Config"]["Image"] == stand_in_image
    assert "CONSUL_ADDRESS=127.0.0.1:8500" in container.attrs["Config"]["Env"]
    bindings = container.attrs["HostConfig"]["PortBindings"]
    assert {port: b[0]["HostPort"] for port, b in bindings.items()} == {
        "80/tcp": str(settings.proxy_port),
        "443/tcp": str(settings.proxy_https_port),
        "8080/tcp": str(settings.proxy_reconf_port),
    }

    # A second backend (a later command) finds it running and starts nothing.
    again = DockerFlowProxy(settings)
    again.check()
    again.apply(Route(service="books-ms", paths=("/api",)))  # nothing live: no request
    assert [c.id for c in named(docker_client, container_name)] == [container.id]
    container.reload()
    assert container.attrs["RestartCount"] == 0


def test_a_stopped_proxy_container_is_started_again(
    tmp_path: Path, docker_client: Any, stand_in_image: str, container_name: str
) -> None:
    settings = proxy_settings(tmp_path, container_name, stand_in_image)
    DockerFlowProxy(settings).check()
    [container] = named(docker_client, container_name)
    container.kill()

    DockerFlowProxy(settings).check()
    [again] = named(docker_client, container_name)
    assert (again.id, again.status) == (container.id, "running")


def test_an_image_that_cannot_be_had_fails_the_release(
    tmp_path: Path, docker_client: Any, container_name: str
) -> None:
    missing = f"flowgate-test-dfp-missing-{uuid.uuid4().hex[:8]}:1"
    settings = proxy_settings(tmp_path, container_name, missing)
    with pytest.raises(ReleaseFailed, match=f"cannot start {container_name} on {DOCKER_HOST}"):
        DockerFlowProxy(settings).check()
    assert named(docker_client, container_name) == []
