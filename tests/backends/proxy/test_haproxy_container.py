"""HAProxy run as a container on `proxy_docker_host`: the same routing, switches and reloads.

Nothing can be pulled here, so the image is built from this machine's own haproxy binary
and libraries (flowgate.testing.haproxy_image). Tiny HTTP backends on loopback answer with
their name; a recording client counts every request through the container's listener.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from proxy_checks import Backend, get

from flowgate.backends.base import Route
from flowgate.backends.proxy import haproxy as haproxy_module
from flowgate.backends.proxy import haproxy_container
from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy import HAProxyProxy, stop_haproxy
from flowgate.backends.proxy.haproxy_container import LABEL_STATE_DIR, HAProxyContainer
from flowgate.backends.proxy.haproxy_process import HAProxyProcess
from flowgate.config.settings import load_settings
from flowgate.errors import ConfigError, ReleaseFailed
from flowgate.models import Color
from flowgate.testing.haproxy_image import build_haproxy_image
from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]
IMAGE = "flowgate-test-haproxy:2.6"
DOCKER_HOST = "unix:///var/run/docker.sock"
SERVICE = "shop-app"


@pytest.fixture(scope="module")
def image(docker_client: Any) -> str:
    return build_haproxy_image(docker_client, IMAGE)


@pytest.fixture
def backends() -> Iterator[dict[str, Backend]]:
    made = {name: Backend(name) for name in ("blue1", "green1", "green2")}
    yield made
    for backend in made.values():
        backend.close()


def ours(docker_client: Any, project_dir: Path) -> list[Any]:
    """Containers serving a shared HAProxy under the project's `haproxy_dir`."""
    found = docker_client.containers.list(all=True, filters={"label": LABEL_STATE_DIR})
    base = str((project_dir / "hap").resolve())
    return [c for c in found if c.labels[LABEL_STATE_DIR].startswith(base + "/")]


def stop_all(project_dir: Path) -> bool:
    folder = project_dir / "hap"
    roots = list(folder.iterdir()) if folder.exists() else []
    return any([stop_haproxy(root) for root in roots])


@pytest.fixture
def project(tmp_path: Path, docker_client: Any) -> Iterator[Path]:
    yield tmp_path
    stop_all(tmp_path)
    for container in ours(docker_client, tmp_path):  # even when stop_haproxy failed
        container.remove(force=True)


def make_proxy(project_dir: Path, image: str, **flags: object) -> HAProxyProxy:
    flags = {
        "proxy_docker_host": DOCKER_HOST,
        "haproxy_image": image,
        "proxy_port": free_port(),
        "preview_port": free_port(),
        "health_timeout": 20,
        "haproxy_dir": str(project_dir / "hap"),
        **flags,
    }
    settings = load_settings(project_dir, flags=flags, env={}, extra_keys=HAProxyProxy.config_keys)
    return HAProxyProxy(settings)


def route(live: list[Backend], preview: list[Backend], **kw: Any) -> Route:
    return Route(
        service=kw.get("service", SERVICE),
        paths=kw.get("paths", ("/",)),
        live_color=Color.BLUE if live[0].instance.name.startswith("blue") else Color.GREEN,
        live=tuple(b.instance for b in live),
        preview_color=Color.GREEN if preview else None,
        preview=tuple(b.instance for b in preview),
    )


def test_container_routes_switches_and_reloads_without_losing_a_request(
    project: Path, image: str, docker_client: Any, backends: dict[str, Backend]
) -> None:
    """The master runs as PID 1 of a host-network container (no local HAProxy process),
    serves public and preview routes, takes a Runtime API switch without a reload and a
    structural change with a confirmed reload, losing no request; a later flowgate command
    finds the same container; the last service leaving removes it."""
    blue, green1, green2 = backends["blue1"], backends["green1"], backends["green2"]
    proxy = make_proxy(project, image)
    public, preview = int(proxy.settings.proxy_port), int(proxy.settings.preview_port)
    proxy.apply(route([blue], [green1]))

    [container] = ours(docker_client, project)
    assert container.status == "running"
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"
    assert container.labels[LABEL_STATE_DIR] == str(proxy.files.root)
    assert isinstance(proxy.runner, HAProxyContainer)
    assert not HAProxyProcess(proxy.files).running()  # no local master: it is the container's
    started = control.show_proc(proxy.files)
    assert get(public) == (200, "blue1")
    assert get(preview) == (200, "green1")

    with TrafficRecorder(f"http://127.0.0.1:{public}/") as recorder:
        recorder.wait_for("blue1")
        later = make_proxy(project, image, proxy_port=public, preview_port=preview)
        later.apply(route([green1], []))  # promote: a Runtime API switch
        switched = recorder.wait_for("green1")
        assert control.show_proc(proxy.files) == started  # no reload, same worker
        later.apply(route([green1, green2], [], service="shop-api", paths=("/api",)))  # reload
        reloaded = time.monotonic()
        later.apply(route([green1, green2, blue], []))  # scale out into free slots: runtime
        assert {get(public)[1] for _ in range(9)} == {"green1", "green2", "blue1"}
        time.sleep(0.3)
    after = control.show_proc(proxy.files)

    assert recorder.failures == [], recorder.summary()
    assert recorder.answers(switched)["green1"] > 0
    assert set(recorder.answers(reloaded)) == {"green1", "green2", "blue1"}
    assert (after.reloads, after.failed) == (started.reloads + 1, 0)
    assert set(after.workers).isdisjoint(started.workers)
    assert get(public, "/api/items")[1] in {"green1", "green2"}
    assert [c.id for c in ours(docker_client, project)] == [container.id]

    assert later.leave() is True
    assert ours(docker_client, project) == []
    assert not proxy.files.master_socket.exists()
    with pytest.raises(OSError):
        get(public)
    assert not stop_all(project)  # nothing left to stop


def test_haproxy_dir_with_spaces_colon_and_long_name_mounts_its_socket_dir(
    tmp_path: Path, image: str, docker_client: Any, backends: dict[str, Backend]
) -> None:
    """A path too long for a unix socket keeps its sockets in a private dir under the temp
    dir: the container gets that dir mounted too, at the same path."""
    project = tmp_path / "my: project" / ("x" * 80)
    project.mkdir(parents=True)
    try:
        proxy = make_proxy(project, image, haproxy_dir=str(project / "hap"))
        assert proxy.files.socket_dir != proxy.files.root
        proxy.apply(route([backends["blue1"]], []))
        proxy.apply(route([backends["green1"]], []))
        assert get(int(proxy.settings.proxy_port)) == (200, "green1")
        [container] = ours(docker_client, project)
        mounted = {m["Source"]: m["Destination"] for m in container.attrs["Mounts"]}
        for folder in (proxy.files.root, proxy.files.socket_dir):
            assert mounted[str(folder)] == str(folder)
        assert stop_all(project)
        assert ours(docker_client, project) == []
    finally:
        stop_all(project)
        for container in ours(docker_client, project):
            container.remove(force=True)


def test_config_is_checked_in_a_one_off_container_without_local_haproxy(
    project: Path, image: str, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a local binary, `haproxy -c` runs in the image; its ALERT is the message
    and the one-off container is gone afterwards."""
    monkeypatch.setattr(haproxy_container.shutil, "which", lambda name: None)
    proxy = make_proxy(project, image)
    container = proxy.runner
    assert isinstance(container, HAProxyContainer)
    proxy.files.ensure()
    good = proxy.files.root / "good.cfg"
    good.write_text("frontend web\n    mode http\n    bind 127.0.0.1:1\n")
    container.validate(good)
    bad = proxy.files.root / "bad.cfg"
    bad.write_text(good.read_text() + "bogus-keyword x\n")
    with pytest.raises(ReleaseFailed, match=r"invalid, nothing applied: \[ALERT\].*bogus-keyword"):
        container.validate(bad)
    leftovers = docker_client.containers.list(all=True, filters={"ancestor": image})
    assert [c for c in leftovers if "-c" in c.attrs["Args"]] == []


def test_container_that_cannot_bind_its_port_fails_with_haproxy_alert(
    project: Path,
    image: str,
    docker_client: Any,
    backends: dict[str, Backend],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A taken public port is refused before any container starts; and should HAProxy
    itself meet one (the check skipped here), the container exits, the error quotes
    HAProxy's ALERT, and neither the container nor a config is left behind."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proxy = make_proxy(project, image, proxy_port=taken.getsockname()[1])
        with pytest.raises(ConfigError, match="is already in use by"):
            proxy.apply(route([backends["blue1"]], []))
        assert ours(docker_client, project) == []
        monkeypatch.setattr(haproxy_module, "check_free", lambda listeners: None)
        with pytest.raises(ReleaseFailed, match=r"container could not start: \[ALERT\].*bind"):
            proxy.apply(route([backends["blue1"]], []))
    assert ours(docker_client, project) == []
    assert not proxy.files.config.exists()
    assert not (proxy.files.root / "container.json").exists()
