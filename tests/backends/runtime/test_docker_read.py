"""The SDK-free reads of a local engine: same answers as the SDK, and no SDK import."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowgate.backends.runtime.docker import DockerRuntime
from flowgate.backends.runtime.docker_read import EngineReader
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable
from flowgate.models import Color
from flowgate.testing.projects import remove_project


@pytest.mark.parametrize(
    ("url", "env", "path"),
    [
        ("unix:///var/run/docker.sock", {}, "/var/run/docker.sock"),
        ("unix:///tmp/other.sock", {}, "/tmp/other.sock"),
        ("tcp://10.0.0.1:2376", {}, None),
        ("ssh://user@host", {}, None),
        ("unix:///var/run/docker.sock", {"DOCKER_TLS_VERIFY": "1"}, None),
    ],
)
def test_only_a_plain_unix_socket_is_read_without_the_sdk(
    monkeypatch: pytest.MonkeyPatch, url: str, env: dict[str, str], path: str | None
) -> None:
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reader = EngineReader.for_url(url)
    assert (reader.path if reader else None) == path


def test_an_engine_that_does_not_answer_is_unreachable(tmp_path: Path) -> None:
    socket_path = tmp_path / "docker.sock"
    settings = load_settings(tmp_path, flags={"host": f"unix://{socket_path}"}, env={})
    with pytest.raises(BackendUnreachable) as caught:
        DockerRuntime(settings).check()
    assert str(caught.value).startswith(f"cannot reach the Docker engine at unix://{socket_path}")
    with pytest.raises(BackendUnreachable):
        DockerRuntime(settings).instances("p", "app", Color.BLUE)


@pytest.fixture
def labelled(docker_client: Any) -> Iterator[tuple[str, Any]]:
    project = "fgread" + uuid.uuid4().hex[:8]
    labels = {"io.flowgate.project": project, "io.flowgate.target": "app"}
    labels |= {"io.flowgate.color": "blue", "io.flowgate.index": "1"}
    images = docker_client.images.list(name="books-ms")
    if not images:
        pytest.fail("books-ms image missing: run scripts/build-images.sh")
    container = docker_client.containers.create(
        images[0].id, name=f"{project}_app-blue_1", labels=labels
    )
    try:
        yield project, container
    finally:
        remove_project(project)


@pytest.mark.docker
def test_reader_sees_what_the_sdk_sees(labelled: tuple[str, Any]) -> None:
    project, container = labelled
    reader = EngineReader.for_url("unix:///var/run/docker.sock")
    assert reader is not None
    reader.ping()
    (view,) = reader.containers([f"io.flowgate.project={project}"])
    container.reload()
    assert (view.id, view.name, view.status, view.labels) == (
        container.id,
        container.name,
        container.status,
        container.labels,
    )
    assert reader.containers([f"io.flowgate.project={project}-none"]) == []


@pytest.mark.docker
def test_status_reads_the_engine_without_importing_the_sdk(
    labelled: tuple[str, Any], tmp_path: Path
) -> None:
    project, _ = labelled
    (tmp_path / "docker-compose.yml").write_text("services:\n  app:\n    image: books-ms:1.0\n")
    (tmp_path / "flowgate.yml").write_text(f"project: {project}\ntarget: app\nproxy: none\n")
    code = (
        "import sys\nfrom flowgate.cli.app import main\n"
        "code = main(['-C', sys.argv[1], 'status', '-o', 'json'])\n"
        "heavy = [m for m in ('docker', 'requests', 'urllib3', 'consul') if m in sys.modules]\n"
        "assert not heavy, heavy\nsys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert '"state": "created"' in done.stdout


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 3 seconds (healthy)", "healthy"),
        ("Up About a minute (unhealthy)", "unhealthy"),
        ("Up 1 second (health: starting)", "starting"),
        ("Up 2 hours", None),
        ("Exited (0) 5 seconds ago", None),
        ("Created", None),
    ],
)
def test_health_from_the_list_status(status: str, health: str | None) -> None:
    from flowgate.backends.runtime.docker_read import health_of

    assert health_of(status) == health


def test_a_summary_reads_like_an_inspect() -> None:
    from flowgate.backends.runtime import docker_health
    from flowgate.backends.runtime.docker_read import ContainerView, from_summary

    summary = {
        "Id": "abc",
        "Names": ["/books_app-blue_1"],
        "State": "running",
        "Status": "Up 4 seconds (healthy)",
        "Labels": {"io.flowgate.color": "blue"},
        "Ports": [
            {"PrivatePort": 8080, "Type": "tcp", "IP": "127.0.0.1", "PublicPort": 32768},
            {"PrivatePort": 9000, "Type": "tcp"},  # exposed, not published
        ],
    }
    view = ContainerView(from_summary(summary))
    instance = docker_health.to_instance(view, "8080/tcp", "127.0.0.1")  # type: ignore[arg-type]
    assert (instance.name, instance.address, instance.state, instance.healthy) == (
        "books_app-blue_1",
        "127.0.0.1:32768",
        "running",
        True,
    )
    assert str(instance.color) == "blue" and instance.id == "abc"
