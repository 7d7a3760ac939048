"""End-to-end tests of the docker runtime against the real Docker engine.

Every test uses its own project name and removes every container, network and image
labelled or named after it, even when it fails. The service image is static busybox on
scratch, built here (no registry is reachable from the build machines).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from runtime_checks import IMAGE, SpecMaker, http_get, ids

from flowgate import hookspecs
from flowgate.backends.base import DeploySpec
from flowgate.backends.runtime import docker as docker_module
from flowgate.backends.runtime.docker import DockerRuntime
from flowgate.config.compose import Build, Healthcheck, ServiceSpec, load_compose
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ReleaseFailed
from flowgate.models import Color, Instance
from flowgate.plugins import BackendCatalog
from flowgate.testing.projects import remove_project
from flowgate.testing.runtime_contract import RuntimeContract

BLUE, GREEN = Color.BLUE, Color.GREEN

pytestmark = pytest.mark.docker


@pytest.fixture
def project(docker_client: Any) -> Iterator[str]:
    """A unique project name; everything labelled or named after it is removed afterwards."""
    name = "fgrt" + uuid.uuid4().hex[:10]
    yield name
    remove_project(name)
    for image in docker_client.images.list():
        if any(tag.startswith(name + "_") for tag in image.tags):
            docker_client.images.remove(image.id, force=True)


@pytest.fixture
def runtime(tmp_path: Path, project: str) -> DockerRuntime:
    settings = load_settings(
        tmp_path,
        flags={"project": project, "stop_timeout": 1},
        env={},
        extra_keys=DockerRuntime.config_keys,
    )
    return DockerRuntime(settings)


class TestDockerRuntimeContract(RuntimeContract):
    """The runtime contract every runtime keeps (flowgate.testing.runtime_contract)."""

    @pytest.fixture
    def failing_spec(self, make_spec: SpecMaker) -> SpecMaker:
        return lambda color, count: make_spec(color, count, command=["sh", "-c", "exit 3"])

    def reachable(self, instance: Instance) -> bool:
        return bool(http_get(instance.address))


def labelled(client: Any, project: str, **labels: str) -> list[Any]:
    wanted = [f"io.flowgate.project={project}"] + [
        f"io.flowgate.{key}={value}" for key, value in labels.items()
    ]
    return list(client.containers.list(all=True, filters={"label": wanted}))


# -- registration and reachability ---------------------------------------------------------


def test_the_module_registers_the_runtime_through_the_backends_hook() -> None:
    """Registered alone, like plugins.py registers each built-in module."""
    pm = pluggy.PluginManager("flowgate")
    pm.add_hookspecs(hookspecs)
    pm.register(docker_module, name="flowgate.backends.runtime.docker")
    pm.check_pending()
    catalog = BackendCatalog.collect(pm)
    assert catalog.get("runtime", "docker") is DockerRuntime
    assert "stop_timeout" in {key.name for key in catalog.config_keys()}


def test_check_passes_on_the_running_engine(runtime: DockerRuntime) -> None:
    runtime.check()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "host", ["unix:///nonexistent.sock", "tcp://127.0.0.1:{port}"], ids=["unix", "tcp"]
)
def test_check_reports_an_unreachable_engine(tmp_path: Path, host: str) -> None:
    url = host.format(port=closed_port())
    runtime = DockerRuntime(load_settings(tmp_path, flags={"host": url}, env={}))
    started = time.monotonic()
    with pytest.raises(BackendUnreachable, match=r"cannot reach the Docker engine at ") as err:
        runtime.check()
    assert url in str(err.value)
    assert time.monotonic() - started < 10


def test_every_operation_reports_an_unreachable_engine(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, flags={"host": "unix:///nonexistent.sock"}, env={})
    with pytest.raises(BackendUnreachable, match=r"unix:///nonexistent\.sock"):
        DockerRuntime(settings).instances("fgrtnone", "app", BLUE)


# -- deploy ----------------------------------------------------------------------------------


def test_deploy_one_instance(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    [instance] = runtime.deploy(make_spec(BLUE, 1))
    assert instance.name == f"{project}_app-blue_1"
    assert (instance.state, instance.healthy, instance.color) == ("running", True, BLUE)
    assert instance.address.startswith("127.0.0.1:")
    container = docker_client.containers.get(instance.id)
    assert http_get(instance.address) == container.attrs["Config"]["Hostname"]
    labels = container.labels
    assert labels["io.flowgate.project"] == project
    assert labels["io.flowgate.target"] == "app"
    assert labels["io.flowgate.color"] == "blue"
    assert labels["io.flowgate.release"] == "r-blue"
    assert labels["io.flowgate.index"] == "1"
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert "app" in networks[f"{project}_default"]["Aliases"]


def test_deploy_three_instances_answer_on_their_own_ports(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str
) -> None:
    instances = runtime.deploy(make_spec(BLUE, 3))
    assert [i.name for i in instances] == [f"{project}_app-blue_{n}" for n in (1, 2, 3)]
    assert all(i.healthy and i.running for i in instances)
    assert len({i.address for i in instances}) == 3
    assert len({http_get(i.address) for i in instances}) == 3  # three distinct hostnames
    assert runtime.instances(project, "app", BLUE) == instances


def test_deploy_waits_for_the_docker_healthcheck(
    runtime: DockerRuntime, make_spec: SpecMaker, docker_client: Any
) -> None:
    check = Healthcheck(
        test=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval=0.3,
        timeout=2,
        retries=3,
    )
    command = ["sh", "-c", "sleep 1; hostname > /www/index.html; exec httpd -f -p 8080 -h /www"]
    [instance] = runtime.deploy(make_spec(BLUE, 1, healthcheck=check, command=command))
    container = docker_client.containers.get(instance.id)
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    assert container.attrs["Config"]["Healthcheck"]["Interval"] == 300_000_000
    assert http_get(instance.address)


def test_a_volume_relative_to_the_project_dir_is_mounted(
    runtime: DockerRuntime, make_spec: SpecMaker, tmp_path: Path
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("from the project dir\n")
    spec = make_spec(
        BLUE,
        1,
        command=["httpd", "-f", "-p", "8080", "-h", "/site"],
        volumes=["./site:/site:ro"],
        environment={"GREETING": "hi"},
    )
    [instance] = runtime.deploy(spec)
    assert http_get(instance.address) == "from the project dir"


# -- failures --------------------------------------------------------------------------------


def test_a_healthcheck_that_never_passes_removes_that_color_only(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    blue = runtime.deploy(make_spec(BLUE, 1))
    failing = Healthcheck(test=["CMD", "false"], interval=0.2, timeout=1, retries=1000)
    with pytest.raises(ReleaseFailed, match=r"app-green_\d did not become healthy within 3s"):
        runtime.deploy(make_spec(GREEN, 2, timeout=3, healthcheck=failing))
    assert labelled(docker_client, project, color="green") == []
    assert ids(runtime.instances(project, "app", BLUE)) == ids(blue)
    assert http_get(blue[0].address)


def test_an_unhealthy_container_fails_at_once(runtime: DockerRuntime, make_spec: SpecMaker) -> None:
    failing = Healthcheck(test=["CMD-SHELL", "echo nope; exit 1"], interval=0.2, retries=2)
    started = time.monotonic()
    with pytest.raises(ReleaseFailed, match=r"is unhealthy \(last health log: exit 1: nope\)"):
        runtime.deploy(make_spec(BLUE, 1, timeout=30, healthcheck=failing))
    assert time.monotonic() - started < 15


def test_a_port_that_never_answers_times_out(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    """Docker's proxy accepts on the host port even with nothing listening behind it."""
    spec = make_spec(BLUE, 1, timeout=2, command=["sleep", "60"])
    with pytest.raises(ReleaseFailed, match=r"app-blue_1 did not become healthy within 2s"):
        runtime.deploy(spec)
    assert labelled(docker_client, project) == []


def test_a_container_that_exits_fails_the_deploy(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    spec = make_spec(BLUE, 2, command=["sh", "-c", "echo boom; exit 3"])
    with pytest.raises(ReleaseFailed, match=r"app-blue_\d exited with code 3 \(last log: boom\)"):
        runtime.deploy(spec)
    assert labelled(docker_client, project) == []


def test_a_missing_image_fails_before_creating_anything(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    runtime.deploy(make_spec(BLUE, 1))
    missing = f"{project}-missing:1"
    with pytest.raises(ReleaseFailed, match=rf"image {missing} not found locally and could not"):
        runtime.deploy(make_spec(BLUE, 1, image=missing))
    # Nothing was created, and the color's existing instance was not even removed.
    assert len(labelled(docker_client, project, color="blue")) == 1
    assert runtime.instances(project, "app", BLUE)[0].healthy


# -- stop and start (scale, remove and the rest: the runtime contract above) -----------


def test_stop_keeps_the_containers_and_start_brings_them_back(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str
) -> None:
    deployed = runtime.deploy(make_spec(BLUE, 2))
    started = time.monotonic()
    runtime.stop(project, "app", BLUE)
    assert time.monotonic() - started < 8  # in parallel, and busybox httpd honours SIGTERM
    stopped = runtime.instances(project, "app", BLUE)
    assert ids(stopped) == ids(deployed)
    assert [(i.state, i.healthy, i.address) for i in stopped] == [("exited", False, "")] * 2
    back = runtime.start(make_spec(BLUE, 2))
    assert ids(back) == ids(deployed)
    assert all(i.healthy for i in back)
    assert all(http_get(i.address) for i in back)


# -- side targets and builds ---------------------------------------------------------------


def test_side_target_started_once_and_reachable_by_name(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    db = ServiceSpec(
        name="db",
        image=IMAGE,
        command=["sh", "-c", "echo db-here > /www/index.html; exec httpd -f -p 8080 -h /www"],
    )
    runtime.ensure_side_target(project, db, pull=False)
    [container] = labelled(docker_client, project, **{"side-target": "db"})
    assert container.name == f"{project}_db_1"
    first_start = container.attrs["State"]["StartedAt"]
    runtime.ensure_side_target(project, db, pull=True)  # pull fails here; the image is local
    container.reload()
    assert container.attrs["State"]["StartedAt"] == first_start
    [app] = runtime.deploy(make_spec(BLUE, 1))
    code, output = docker_client.containers.get(app.id).exec_run(
        ["wget", "-q", "-O", "-", "http://db:8080/"]
    )
    assert (code, output.decode().strip()) == (0, "db-here")
    container.stop(timeout=1)
    runtime.ensure_side_target(project, db, pull=False)
    container.reload()
    assert container.status == "running"
    assert len(labelled(docker_client, project, **{"side-target": "db"})) == 1


def test_builds_the_image_from_the_build_context(
    runtime: DockerRuntime, project: str, tmp_path: Path, test_image: str, docker_client: Any
) -> None:
    context = tmp_path / "app"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {test_image}\nARG GREETING\nRUN echo $GREETING > /www/built.txt\n"
    )
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n"
        "  app:\n"
        "    build:\n"
        "      context: ./app\n"
        "      args: {GREETING: built-by-flowgate}\n"
        "    ports: ['8080']\n"
    )
    service = load_compose(tmp_path / "docker-compose.yml", env={}).service("app")
    assert service.build == Build(context=context, args={"GREETING": "built-by-flowgate"})
    spec = DeploySpec(project, "app", service, BLUE, 1, "r1", 20.0)
    [instance] = runtime.deploy(spec)
    assert docker_client.images.get(f"{project}_app").tags == [f"{project}_app:latest"]
    assert http_get(instance.address, "/built.txt") == "built-by-flowgate"


def test_a_broken_build_fails_before_creating_anything(
    runtime: DockerRuntime, project: str, tmp_path: Path, test_image: str, docker_client: Any
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nRUN exit 7\n")
    service = ServiceSpec(name="app", build=Build(context=tmp_path), ports=["8080/tcp"])
    before = {c.id for c in docker_client.containers.list(all=True)}
    with pytest.raises(ReleaseFailed, match=rf"building image {project}_app from .* failed"):
        runtime.deploy(DeploySpec(project, "app", service, BLUE, 1, "r1", 20.0))
    assert labelled(docker_client, project) == []
    # nor the failed build step's own container
    left = [c for c in docker_client.containers.list(all=True) if c.id not in before]
    assert [c.name for c in left if "exit 7" in " ".join(c.attrs["Config"]["Cmd"] or [])] == []


def test_an_existing_side_container_of_that_name_is_adopted(
    runtime: DockerRuntime, project: str, test_image: str, docker_client: Any
) -> None:
    """Like one docker-compose (Docker Flow) started: no flowgate labels, Compose's name."""
    existing = docker_client.containers.create(
        test_image,
        name=f"{project}_db_1",
        labels={"io.flowgate.project": project},  # only so the fixture cleans it up
    )
    runtime.ensure_side_target(project, ServiceSpec(name="db", image=test_image), pull=False)
    existing.reload()
    assert existing.status == "running"
    assert len(labelled(docker_client, project)) == 1


def test_listed_networks_are_created_and_joined(
    runtime: DockerRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    [instance] = runtime.deploy(make_spec(BLUE, 1, networks=["backend"]))
    networks = docker_client.containers.get(instance.id).attrs["NetworkSettings"]["Networks"]
    assert set(networks) == {f"{project}_default", f"{project}_backend"}
    assert "app" in networks[f"{project}_backend"]["Aliases"]
    created = docker_client.networks.get(f"{project}_backend")
    assert created.attrs["Labels"] == {"io.flowgate.project": project}


def test_ports_are_published_on_the_configured_address(
    tmp_path: Path, project: str, make_spec: SpecMaker, docker_client: Any
) -> None:
    settings = load_settings(
        tmp_path,
        flags={"project": project, "publish_address": "127.0.0.2"},
        env={},
        extra_keys=DockerRuntime.config_keys,
    )
    [instance] = DockerRuntime(settings).deploy(make_spec(BLUE, 1))
    assert instance.address.startswith("127.0.0.2:")
    ports = docker_client.containers.get(instance.id).attrs["NetworkSettings"]["Ports"]
    assert [binding["HostIp"] for binding in ports["8080/tcp"]] == ["127.0.0.2"]
    assert http_get(instance.address)
