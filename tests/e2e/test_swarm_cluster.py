"""books-ms on a real 3-node swarm (this engine as manager, two worker engines in their own
network namespaces: conftest.py's `swarm_cluster`), through real HAProxy, by the CLI.

The story under constant traffic: a release with a passing gate, scale +2 / -1 (exactly the
instances the proxy dropped are removed), a release whose gate fails (held, nothing left on
any node), a new color inheriting the scale, rollback (the old color's spec back at its
scale), `status` naming each instance's node, a release whose post-promotion test fails
(switched back, the new color removed from every node). Then a worker's link is taken down (a real
node failure): the live color keeps answering once HAProxy noticed, and the next release
completes on the surviving nodes.

Every test here touches machine-global swarm membership: run under
`flock /work/coord/swarm.lock` where others share the machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from books_project import BLUE_1_0, BOOKS_PATH, GREEN_1_1, BooksProject, clean_env

from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]

NOTICE = 3.0  # seconds HAProxy's checks (inter 500ms, fall 2) get to mark a lost server down
# (1-1.5 s measured), with margin for the 1 s connect timeout of a request sent just before


def with_deploy(project: BooksProject, deploy: dict[str, Any]) -> None:
    """Give the example's `app` a Compose `deploy` section."""
    path = project.folder / "docker-compose.yml"
    data = yaml.safe_load(path.read_text())
    data["services"]["app"]["deploy"] = deploy
    path.write_text(yaml.safe_dump(data))


#: The example's gate minus its pytest-testinfra test: `flow_hosts` reaches containers
#: through the manager's engine only, and on a cluster most tasks run on other nodes.
CLUSTER_GATE = "pytest_args: \"-k 'not test_containers_hold_the_version_they_serve'\"\n"


@pytest.fixture
def cluster_project(tmp_path: Path, swarm_cluster: Any) -> Iterator[BooksProject]:
    with clean_env():
        made = BooksProject.create(
            tmp_path / "books", "fgcl", settings="runtime: swarm\n" + CLUSTER_GATE
        )
        yield made
        made.remove()


def instances(data: dict[str, Any], color: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["colors"][color]["instances"]
    return found


def direct(address: str) -> str:
    """What one instance answers at its node's address and published port."""
    response = requests.get(f"http://{address}{BOOKS_PATH}", timeout=5)
    assert response.status_code == 200, response.text
    return version_and_color(response.content)


def services_of(client: Any, project: str, color: str) -> list[Any]:
    labels = [f"io.flowgate.project={project}", f"io.flowgate.color={color}"]
    return list(client.services.list(filters={"label": labels}))


def containers_anywhere(cluster: Any, client: Any, project: str, color: str) -> list[str]:
    """Every container of that color on every node of the cluster."""
    labels = [f"io.flowgate.project={project}", f"io.flowgate.color={color}"]
    engines = [client] + [cluster.engine(n) for n in range(1, cluster.workers + 1)]
    names = []
    for engine in engines:
        names += [c.name for c in engine.containers.list(all=True, filters={"label": labels})]
    return names


def wait_until(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout:g}s: {what}"
        time.sleep(0.5)


def test_the_release_story_on_three_nodes_loses_no_request(
    cluster_project: BooksProject, swarm_cluster: Any, docker_client: Any
) -> None:
    project = cluster_project
    with_deploy(
        project,
        {
            "replicas": 2,
            # Worker 2 is off limits (the label local-cluster.sh gives each node).
            "placement": {"constraints": ["node.labels.io.flowgate.node != w2"]},
            "labels": {"io.example.team": "books"},
            "resources": {"limits": {"memory": "64M"}},
            "restart_policy": {"condition": "any", "delay": "1s"},
        },
    )
    project.cli("release", version="1.0")
    data = project.status()
    blue = instances(data, "blue")
    assert [i["name"] for i in blue] == [f"{project.name}_app-blue.{n}" for n in (1, 2)]
    assert all(i["address"].split(":")[0] == i["node"] for i in blue), blue
    [service, _] = services_of(docker_client, project.name, "blue")
    spec = service.attrs["Spec"]
    assert spec["Labels"]["io.example.team"] == "books"
    assert spec["TaskTemplate"]["Resources"]["Limits"]["MemoryBytes"] == 64 * 1024**2
    assert spec["TaskTemplate"]["RestartPolicy"]["Delay"] == 1_000_000_000
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == [
        "node.labels.io.flowgate.node != w2"
    ]

    with TrafficRecorder(project.url(), label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)

        project.cli("scale", "+2")
        four = instances(project.status(), "blue")
        assert [(i["state"], i["healthy"]) for i in four] == [("running", True)] * 4
        nodes = {i["node"] for i in four}
        assert nodes == {swarm_cluster.manager, swarm_cluster.address(1)}, four
        assert {direct(i["address"]) for i in four} == {BLUE_1_0}

        # Down by one: HAProxy drops slot 4 first, and exactly that service goes.
        project.cli("scale", "-1")
        three = instances(project.status(), "blue")
        assert [(i["name"], i["address"]) for i in three] == [
            (i["name"], i["address"]) for i in four[:3]
        ]
        assert len(services_of(docker_client, project.name, "blue")) == 3

        # 1.2 answers 500: the gate fails, the release is held, nothing is left anywhere.
        code, _, err = project.invoke("release", version="1.2")
        assert code == 7, err
        held = project.status()
        assert (held["live_color"], held["colors"]["green"]["state"]) == ("blue", "absent")
        assert services_of(docker_client, project.name, "green") == []
        wait_until(
            lambda: not containers_anywhere(swarm_cluster, docker_client, project.name, "green"),
            30,
            "the failed green's containers gone from every node",
        )

        # A new color starts at the live scale.
        project.cli("release", version="1.1")
        released = time.monotonic()
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("green", 3)
        green = instances(data, "green")
        assert [(i["state"], i["healthy"]) for i in green] == [("running", True)] * 3
        assert all(i["node"] for i in green)
        traffic.wait_answers(released)
        assert set(traffic.answers(since=released)) == {GREEN_1_1}

        # Rollback: blue's own services (1.0) come back at blue's scale.
        project.cli("rollback")
        rolled_back = time.monotonic()
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("blue", 3)
        assert [i["state"] for i in instances(data, "blue")] == ["running"] * 3
        assert [i["state"] for i in instances(data, "green")] == ["shutdown"] * 3
        images = {
            s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
            for s in services_of(docker_client, project.name, "blue")
        }
        assert images == {"books-ms:1.0"}
        traffic.wait_answers(rolled_back)
        assert set(traffic.answers(since=rolled_back)) == {BLUE_1_0}

        table = project.cli("status")
        for instance in instances(data, "blue"):
            assert instance["node"] in table

        # A post-promotion test fails: back to blue, and green goes from every node only
        # after HAProxy stopped sending it requests.
        post = project.folder / "tests" / "post"
        post.mkdir()
        (post / "test_after.py").write_text("def test_live_check():\n    assert False\n")
        code, _, err = project.invoke("release", "--post-tests", "tests/post", version="1.1")
        assert code == 1, err
        switched_back = time.monotonic()
        data = project.status()
        assert (data["live_color"], data["colors"]["green"]["state"]) == ("blue", "absent")
        traffic.wait_answers(switched_back)
        assert set(traffic.answers(since=switched_back)) == {BLUE_1_0}
        wait_until(
            lambda: not containers_anywhere(swarm_cluster, docker_client, project.name, "green"),
            30,
            "the switched-back green's containers gone from every node",
        )

    print(f"\ntraffic through HAProxy during the 3-node story: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]


def test_a_lost_worker_costs_no_request_once_the_proxy_noticed(
    tmp_path: Path, swarm_cluster: Any, docker_client: Any
) -> None:
    with clean_env():
        project = BooksProject.create(
            tmp_path / "lost", "fglost", gate=False, settings="runtime: swarm\n"
        )
        try:
            with_deploy(project, {"replicas": 3})
            project.cli("release", version="1.0")
            blue = instances(project.status(), "blue")
            on_workers = [swarm_cluster.worker_of(i["node"]) for i in blue]
            busiest = sorted({w for w in on_workers if w}, key=lambda w: -on_workers.count(w))
            assert busiest, f"no instance on a worker: {blue}"
            lost = busiest[0]
            lost_address = swarm_cluster.address(lost)
            _lose_a_worker(project, swarm_cluster, lost, lost_address)
        finally:
            project.remove()


def _lose_a_worker(project: BooksProject, cluster: Any, lost: int, address: str) -> None:
    with TrafficRecorder(project.url(), label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)
        before = time.monotonic()
        cluster.fail(lost)
        try:
            # The manager notices (~14 s), swarm replaces the lost tasks elsewhere, and
            # `status` says which node is down and which instances were on it.
            def lost_node() -> dict[str, Any] | None:
                data = project.status()
                nodes = {n["node"]: n for n in data.get("nodes", [])}
                node = nodes.get(address)
                return data if node and node["state"] == "down" else None

            data = wait_until(lost_node, 60, f"status shows {address} down")
            down = {n["node"]: n for n in data["nodes"]}[address]
            assert down["lost"], down
            noticed = time.monotonic()
            # The live color keeps answering meanwhile; the next release needs no lost node.
            project.cli("release", version="1.1")
            released = time.monotonic()
            green = instances(project.status(), "green")
            assert len(green) == 3 and all(i["healthy"] for i in green), green
            assert address not in {i["node"] for i in green}
            traffic.wait_answers(released)
            assert set(traffic.answers(since=released)) == {GREEN_1_1}
        finally:
            cluster.heal(lost)
    early = [s for s in traffic.failures if s.started < before + NOTICE]
    late = [s for s in traffic.failures if s.started >= before + NOTICE]
    print(
        f"\nworker {lost} ({address}) lost: {len(early)} failed requests in the first "
        f"{NOTICE:g}s, {len(late)} after; manager noticed after {noticed - before:.1f}s; "
        f"traffic: {traffic.summary()}"
    )
    # Once HAProxy noticed, nothing may fail. Before that, a request already on its way
    # to the node when its link went down can only time out (the measured figure is
    # printed above and published in docs/benchmarks.md); later ones are redispatched.
    assert late == [], late[:5]
    # HAProxy stopped sending to the lost servers: were one still in rotation, every third
    # request would wait out the 1 s connect timeout before being redispatched.
    window = [s for s in traffic.samples if before + NOTICE <= s.started < noticed]
    slow = [s for s in window if s.latency >= 0.9]
    assert window and len(slow) <= len(window) // 100, (len(slow), len(window))
