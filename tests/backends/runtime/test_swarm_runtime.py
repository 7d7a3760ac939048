"""End-to-end tests of the swarm runtime on the real engine, as a single-node swarm.

The module makes the engine a swarm manager if it is not one yet and leaves that swarm
afterwards (never a swarm it did not create). Every test uses its own project name and
removes its services, their containers and its overlay networks, even when it fails. The
service image is the busybox one the docker runtime tests use, built here.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest
from runtime_checks import IMAGE, SpecMaker, http_get, ids

from flowgate import hookspecs
from flowgate.backends.runtime import swarm as swarm_module
from flowgate.backends.runtime.swarm import SwarmRuntime
from flowgate.config.compose import Healthcheck, ServiceSpec
from flowgate.config.settings import load_settings
from flowgate.errors import BackendUnreachable, ExitCode, ReleaseFailed
from flowgate.models import Color, Instance
from flowgate.plugins import BackendCatalog
from flowgate.testing.projects import remove_project
from flowgate.testing.runtime_contract import RuntimeContract

BLUE, GREEN = Color.BLUE, Color.GREEN
SERVE = "hostname > /www/index.html; exec httpd -f -p 8080 -h /www"

pytestmark = pytest.mark.docker


@pytest.fixture
def project(docker_client: Any, swarm: bool) -> Iterator[str]:
    name = "fgsw" + uuid.uuid4().hex[:10]
    yield name
    remove_project(name)


@pytest.fixture
def runtime(tmp_path: Path, project: str) -> SwarmRuntime:
    settings = load_settings(
        tmp_path,
        flags={"project": project, "stop_timeout": 1},
        env={},
        extra_keys=SwarmRuntime.config_keys,
    )
    return SwarmRuntime(settings)


class TestSwarmRuntimeContract(RuntimeContract):
    """The runtime contract every runtime keeps (flowgate.testing.runtime_contract)."""

    @pytest.fixture
    def failing_spec(self, make_spec: SpecMaker) -> SpecMaker:
        return lambda color, count: make_spec(color, count, command=["sh", "-c", "exit 3"])

    def reachable(self, instance: Instance) -> bool:
        return bool(http_get(instance.address))


def services(client: Any, project: str) -> dict[str, Any]:
    found = client.services.list(filters={"label": f"io.flowgate.project={project}"})
    return {service.name: service for service in found}


def replicas(service: Any) -> int:
    service.reload()
    return int(service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"])


# -- registration and reachability ---------------------------------------------------------


def test_the_module_registers_the_runtime_through_the_backends_hook() -> None:
    pm = pluggy.PluginManager("flowgate")
    pm.add_hookspecs(hookspecs)
    pm.register(swarm_module, name="flowgate.backends.runtime.swarm")
    pm.check_pending()
    catalog = BackendCatalog.collect(pm)
    assert catalog.get("runtime", "swarm") is SwarmRuntime
    assert "stop_timeout" in {key.name for key in catalog.config_keys()}


def test_check_passes_on_a_swarm_manager(runtime: SwarmRuntime) -> None:
    runtime.check()


class FakeEngine(BaseHTTPRequestHandler):
    """Test double of the three Engine API calls `check` makes (version, _ping, info),
    reporting the swarm state the test sets; not the real engine, which here is a manager."""

    swarm: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            body, kind = b"OK", "text/plain"
        elif path.endswith("/version"):
            body, kind = json.dumps({"ApiVersion": "1.41", "Version": "20.10"}).encode(), "json"
        elif path.endswith("/info"):
            body, kind = json.dumps({"Swarm": self.swarm}).encode(), "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind if "/" in kind else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("swarm_info", "message"),
    [
        ({"LocalNodeState": "inactive"}, r"is not in a swarm \(swarm state: inactive\)"),
        ({"LocalNodeState": "active", "ControlAvailable": False}, r"is a swarm worker"),
    ],
    ids=["no-swarm", "worker"],
)
def test_check_requires_a_swarm_manager(
    tmp_path: Path, swarm_info: dict[str, Any], message: str
) -> None:
    handler = type("Engine", (FakeEngine,), {"swarm": swarm_info})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"tcp://127.0.0.1:{server.server_address[1]}"
        runtime = SwarmRuntime(load_settings(tmp_path, flags={"host": url}, env={}))
        with pytest.raises(BackendUnreachable, match=message) as err:
            runtime.check()
    finally:
        server.shutdown()
        server.server_close()
    assert "docker swarm init" in str(err.value)
    assert url in str(err.value)
    assert err.value.exit_code == ExitCode.BACKEND_UNREACHABLE


# -- deploy ----------------------------------------------------------------------------------


def test_deploy_two_replicas_on_their_own_host_ports(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    """Each instance is a one-task service `<color service>-<slot>`, called
    `<color service>.<slot>`, on its own published port; the service carries the labels,
    the color's environment and the Compose name on the overlay."""
    instances = runtime.deploy(make_spec(BLUE, 2, environment={"GREETING": "hi"}))
    assert [i.name for i in instances] == [f"{project}_app-blue.1", f"{project}_app-blue.2"]
    assert all((i.state, i.healthy, i.color) == ("running", True, BLUE) for i in instances)
    assert all(i.address.startswith("127.0.0.1:") for i in instances)
    assert len({i.address for i in instances}) == 2
    assert len({http_get(i.address) for i in instances}) == 2  # two distinct hostnames
    assert runtime.instances(project, "app", BLUE) == instances

    found = services(docker_client, project)
    assert sorted(found) == [f"{project}_app-blue-1", f"{project}_app-blue-2"]
    assert [replicas(s) for s in found.values()] == [1, 1]
    spec = found[f"{project}_app-blue-2"].attrs["Spec"]
    assert spec["Labels"]["io.flowgate.slot"] == "2"
    assert spec["Labels"]["io.flowgate.color"] == "blue"
    assert spec["Labels"]["io.flowgate.release"] == "r-blue"
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert {"FLOWGATE_COLOR=blue", "FLOWGATE_RELEASE=r-blue", "GREETING=hi"} <= set(
        container["Env"]
    )
    [network] = spec["TaskTemplate"]["Networks"]
    assert network["Aliases"] == ["app"]
    assert docker_client.networks.get(f"{project}_default").attrs["Driver"] == "overlay"
    task_container = docker_client.containers.get(instances[0].id)
    assert task_container.labels["io.flowgate.project"] == project


def test_deploy_converts_the_compose_healthcheck_and_waits_for_it(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    check = Healthcheck(
        test=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval=0.3,
        timeout=2,
        retries=3,
    )
    command = ["sh", "-c", f"sleep 1; {SERVE}"]
    [instance] = runtime.deploy(make_spec(BLUE, 1, healthcheck=check, command=command))
    container = docker_client.containers.get(instance.id)
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    spec = services(docker_client, project)[f"{project}_app-blue-1"].attrs["Spec"]
    health = spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]
    assert (health["Interval"], health["Timeout"], health["Retries"]) == (300_000_000, 2e9, 3)
    assert http_get(instance.address)


# -- failures --------------------------------------------------------------------------------


def test_a_missing_image_fails_at_once_with_the_task_error(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    """The rejected task ends the wait: a 120 s health timeout is never waited out."""
    blue = runtime.deploy(make_spec(BLUE, 1))
    missing = f"{project}-missing:1"
    started = time.monotonic()
    with pytest.raises(ReleaseFailed, match=rf"app-green: .*rejected: No such image: {missing}"):
        runtime.deploy(make_spec(GREEN, 1, timeout=120, image=missing))
    assert time.monotonic() - started < 60
    assert list(services(docker_client, project)) == [f"{project}_app-blue-1"]
    assert ids(runtime.instances(project, "app", BLUE)) == ids(blue)


def test_a_healthcheck_that_never_passes_times_out_and_removes_that_color(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    blue = runtime.deploy(make_spec(BLUE, 1))
    failing = Healthcheck(test=["CMD-SHELL", "echo not-yet; exit 1"], interval=0.3, retries=1000)
    with pytest.raises(
        ReleaseFailed,
        match=r"app-green: .*app-green\.\d did not become healthy within 4s "
        r"\(task starting: .*last health log: exit 1: not-yet\)",
    ):
        runtime.deploy(make_spec(GREEN, 2, timeout=4, healthcheck=failing))
    assert list(services(docker_client, project)) == [f"{project}_app-blue-1"]
    assert ids(runtime.instances(project, "app", BLUE)) == ids(blue)
    assert http_get(blue[0].address)


def test_a_task_that_exits_fails_the_deploy(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    spec = make_spec(BLUE, 1, timeout=60, command=["sh", "-c", "echo boom; exit 3"])
    with pytest.raises(ReleaseFailed, match=r"app-blue: .*app-blue\.1 failed: .*exit \(3\)"):
        runtime.deploy(spec)
    assert services(docker_client, project) == {}


# -- scale, stop, start, remove ------------------------------------------------------------


def test_scale_up_and_down_keeps_the_lowest_slots(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str
) -> None:
    """The engine keeps the first `count` instances in the proxy when scaling down, so
    the runtime must remove exactly the highest slots (each slot is its own service, so
    it is flowgate, not swarm, that picks them). New slots run the live release, not
    what the Compose file names now."""
    [first] = runtime.deploy(make_spec(BLUE, 1))
    up = runtime.scale(make_spec(BLUE, 3, image=f"{project}-newer:2"))
    assert [i.name for i in up] == [f"{project}_app-blue.{n}" for n in (1, 2, 3)]
    assert up[0].id == first.id
    assert all(i.healthy for i in up)
    middle = runtime.scale(make_spec(BLUE, 2))
    assert ids(middle) == ids(up)[:2]
    down = runtime.scale(make_spec(BLUE, 1))
    assert ids(down) == [first.id]
    assert runtime.instances(project, "app", GREEN) == []


def test_stop_keeps_the_service_and_start_brings_that_release_back(
    runtime: SwarmRuntime,
    make_spec: SpecMaker,
    project: str,
    docker_client: Any,
    test_image: str,
) -> None:
    deployed = runtime.deploy(make_spec(BLUE, 2))
    runtime.stop(project, "app", BLUE)
    kept = services(docker_client, project)
    assert [replicas(s) for s in kept.values()] == [0, 0]
    stopped = runtime.instances(project, "app", BLUE)
    assert [(i.name, i.state, i.healthy, i.address) for i in stopped] == [
        (f"{project}_app-blue.{n}", "shutdown", False, "") for n in (1, 2)
    ]
    running = docker_client.containers.list(filters={"label": f"io.flowgate.project={project}"})
    assert running == []
    # The Compose file may name another image by now; the stopped release comes back.
    back = runtime.start(make_spec(BLUE, 2, image=f"{project}-newer:2"))
    assert len(back) == 2 and all(i.healthy for i in back)
    assert not set(ids(back)) & set(ids(deployed))
    assert all(http_get(i.address) for i in back)
    for service in kept.values():
        service.reload()
        assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == test_image


def test_start_or_scale_without_a_service_fails(
    runtime: SwarmRuntime, make_spec: SpecMaker
) -> None:
    with pytest.raises(ReleaseFailed, match="no green instances of app to start"):
        runtime.start(make_spec(GREEN, 1))
    with pytest.raises(ReleaseFailed, match="no green instances of app to scale"):
        runtime.scale(make_spec(GREEN, 2))


# -- side targets ----------------------------------------------------------------------------


def test_side_target_is_a_service_reachable_by_its_compose_name(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    db = ServiceSpec(
        name="db",
        image=IMAGE,
        command=["sh", "-c", "echo db-here > /www/index.html; exec httpd -f -p 8080 -h /www"],
    )
    runtime.ensure_side_target(project, db, pull=False)
    runtime.ensure_side_target(project, db, pull=False)  # already there: nothing new
    side = [s for s in services(docker_client, project).values() if s.name == f"{project}_db"]
    assert len(side) == 1
    [app] = runtime.deploy(make_spec(BLUE, 1))
    container = docker_client.containers.get(app.id)
    deadline = time.monotonic() + 30
    while True:  # the db task may still be starting; its name resolves once it runs
        code, output = container.exec_run(["wget", "-q", "-O", "-", "http://db:8080/"])
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (code, output.decode().strip()) == (0, "db-here")


def test_teardown_removes_side_targets_then_the_projects_network(
    runtime: SwarmRuntime, make_spec: SpecMaker, project: str, docker_client: Any
) -> None:
    """`flowgate down` on swarm: with the colors removed, teardown takes the side-target
    services flowgate started and then the project's overlay network."""
    db = ServiceSpec(name="db", image=IMAGE, command=["sh", "-c", SERVE])
    runtime.ensure_side_target(project, db, pull=False)
    runtime.deploy(make_spec(BLUE, 1))
    label = {"label": f"io.flowgate.project={project}"}
    assert docker_client.networks.list(filters=label)

    runtime.teardown(project, ["db"])  # blue still runs: the network stays
    assert set(services(docker_client, project)) == {f"{project}_app-blue-1"}
    assert docker_client.networks.list(filters=label)

    runtime.remove(project, "app", BLUE)
    runtime.teardown(project, ["db"])
    assert services(docker_client, project) == {}
    # The manager deletes a network whose tasks are still stopping once they are gone.
    deadline = time.monotonic() + 60
    while docker_client.networks.list(filters=label) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert docker_client.networks.list(filters=label) == []
