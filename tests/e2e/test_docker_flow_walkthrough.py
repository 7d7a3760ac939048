"""Docker Flow's walkthrough (its articles/article.md), command line by command line, with
`flowgate flow` in place of `docker-flow`, on the real Docker engine and real HAProxy.

The project is a Docker Flow user's: the folder's name is the project, `docker-flow.yml`
holds Docker Flow's keys, FLOW_CONSUL_ADDRESS points at Consul (the Consul HTTP API
stand-in: no Consul server can be installed here) and flowgate.yml only adds what Docker
Flow had no word for (HAProxy as the proxy, its ports, timings). One recording client
sends requests through the public port the whole time and must see no failure.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from books_project import BLUE_1_0, BOOKS_PATH, GREEN_1_1, BooksProject, clean_env

from flowgate.testing.consul_server import ConsulTestServer, consul_test_server
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]

DOCKER_FLOW_YML = (
    "target: app\nside_targets:\n  - db\nblue_green: true\nservice_path:\n  - /api/v1/books\n"
)


@pytest.fixture
def consul() -> Iterator[ConsulTestServer]:
    with consul_test_server() as server:
        yield server


@pytest.fixture
def books(
    tmp_path: Path, consul: ConsulTestServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BooksProject]:
    with clean_env():
        name = "fgdf" + secrets.token_hex(3)
        made = BooksProject.create(tmp_path / name, "unused", gate=False)
        made.name = name  # Docker Flow's project: the folder's name
        text = (made.folder / "flowgate.yml").read_text().splitlines()
        keep = ("proxy:", "proxy_port:", "preview_port:", "health_timeout:", "drain_timeout:")
        keep += ("stop_timeout:",)
        (made.folder / "flowgate.yml").write_text(
            "\n".join(line for line in text if line.startswith(keep)) + "\n"
        )
        monkeypatch.setenv("FLOW_CONSUL_ADDRESS", f"http://{consul.address}")
        yield made
        made.remove()


def kv(consul: ConsulTestServer, key: str) -> str:
    with urllib.request.urlopen(f"http://{consul.address}/v1/kv/{key}?raw", timeout=5) as r:
        return str(r.read().decode())


def containers(docker_client: Any, project: str) -> dict[str, str]:
    found = docker_client.containers.list(all=True, filters={"name": project + "_"})
    return {c.name: c.status for c in found}


def flow(books: BooksProject, *args: str, version: str) -> str:
    code, _, err = books.invoke("flow", *args, version=version)
    assert code == 0, err
    return err


def test_the_walkthrough_with_flowgate_flow(
    books: BooksProject, consul: ConsulTestServer, docker_client: Any
) -> None:
    service = f"{books.name}-app"
    # ./docker-flow --blue-green --target=app --service-path="/demo" --side-target=db
    #     --flow=deploy --flow=proxy
    err = flow(
        books,
        "--blue-green",
        "--target=app",
        f"--service-path={BOOKS_PATH}",
        "--side-target=db",
        "--flow=deploy",
        "--flow=proxy",
        version="1.0",
    )
    assert "could not pull books-ms:1.0" in err  # no registry here: the local image
    assert books.answer() == BLUE_1_0
    assert (
        kv(consul, f"docker-flow/{service}/color"),
        kv(consul, f"docker-flow/{service}/scale"),
    ) == ("blue", "1")
    assert containers(docker_client, books.name) == {
        f"{books.name}_app-blue_1": "running",
        f"{books.name}_db_1": "running",
    }

    # The proxy runs from here on: one client sends requests through it non-stop.
    with TrafficRecorder(books.url(), label=version_and_color, pause=0.01) as traffic:
        # docker-flow.yml from here on; ./docker-flow --flow=deploy --flow=proxy --flow=stop-old
        (books.folder / "docker-flow.yml").write_text(DOCKER_FLOW_YML)
        flow(books, "--flow=deploy", "--flow=proxy", "--flow=stop-old", version="1.1")
        switched = time.monotonic()  # the switch is complete when the command returns
        traffic.wait_answers(switched)
        assert set(traffic.answers(since=switched)) == {GREEN_1_1}
        assert containers(docker_client, books.name)[f"{books.name}_app-blue_1"] == "exited"
        assert kv(consul, f"docker-flow/{service}/color") == "green"

        # ./docker-flow --scale="+2" --flow=scale --flow=proxy
        flow(books, "--scale=+2", "--flow=scale", "--flow=proxy", version="1.1")
        running = [
            n
            for n, s in containers(docker_client, books.name).items()
            if "green" in n and s == "running"
        ]
        assert len(running) == 3
        assert kv(consul, f"docker-flow/{service}/scale") == "3"

        # ./docker-flow --scale="-1" --flow=scale --flow=proxy
        flow(books, "--scale=-1", "--flow=scale", "--flow=proxy", version="1.1")
        assert kv(consul, f"docker-flow/{service}/scale") == "2"

        # Testing deployments to production: ./docker-flow --flow=deploy, test it, then
        # ./docker-flow --flow=proxy --flow=stop-old
        flow(books, "--flow=deploy", version="1.0")
        assert books.answer() == GREEN_1_1  # the proxy still serves green
        state = json.loads(kv(consul, f"flowgate/{service}/state"))
        assert (state["live_color"], state["deployed_color"]) == ("green", "blue")
        flow(books, "--flow=proxy", "--flow=stop-old", version="1.0")
        back = time.monotonic()
        traffic.wait_answers(back)
        assert set(traffic.answers(since=back)) == {BLUE_1_0}
        names = containers(docker_client, books.name)
        assert [names[f"{books.name}_app-green_{i}"] for i in (1, 2)] == ["exited", "exited"]
        assert names[f"{books.name}_app-blue_1"] == "running"
        assert names[f"{books.name}_app-blue_2"] == "running"
    assert traffic.failures == [], traffic.summary()


COMPOSE_PLAIN = """
services:
  app:
    image: books-ms:${BOOKS_VERSION:-1.0}
    ports: ["8080"]
    environment:
      DB_HOST: db
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 30
    init: true
    stop_signal: SIGINT
    stop_grace_period: 7s
    working_dir: /tmp
    extra_hosts: ["books.example:10.9.8.7"]
  db:
    image: books-ms-db:1.0
    expose: ["27017"]
"""


def test_without_blue_green_the_target_runs_under_its_own_name(
    books: BooksProject, docker_client: Any
) -> None:
    """Docker Flow without --blue-green: Compose's names, no color in them; each deploy
    still starts beside the old instances and goes live without losing a request. The
    Compose keys that change how a container runs reach the container."""
    (books.folder / "docker-compose.yml").write_text(COMPOSE_PLAIN)
    args = ["-T", "db", f"--service-path={BOOKS_PATH}", "-F", "deploy", "-F", "proxy"]
    flow(books, "-t", "app", *args, version="1.0")
    assert books.answer() == BLUE_1_0
    assert set(containers(docker_client, books.name)) == {
        f"{books.name}_app_1",
        f"{books.name}_db_1",
    }
    with TrafficRecorder(books.url(), label=version_and_color, pause=0.01) as traffic:
        flow(
            books,
            "-t=app",
            "-T=db",
            f"--service-path={BOOKS_PATH}",
            "-F",
            "deploy",
            "-F",
            "proxy",
            version="1.1",
        )
        switched = time.monotonic()
        traffic.wait_answers(switched)
        assert set(traffic.answers(since=switched)) == {GREEN_1_1}
    assert traffic.failures == [], traffic.summary()
    names = containers(docker_client, books.name)
    assert names == {
        f"{books.name}_app_1": "exited",
        f"{books.name}_app_2": "running",
        f"{books.name}_db_1": "running",
    }
    config = docker_client.containers.get(f"{books.name}_app_2").attrs
    assert config["HostConfig"]["Init"] is True
    assert config["Config"]["StopSignal"] == "SIGINT"
    assert config["Config"]["Labels"]["io.flowgate.stop-timeout"] == "7"  # stop_grace_period
    assert config["Config"]["WorkingDir"] == "/tmp"
    assert config["HostConfig"]["ExtraHosts"] == ["books.example:10.9.8.7"]


def compose_container(docker_client: Any, project: str, service: str, image: str, **kw: Any) -> Any:
    """A container as docker-compose started it for Docker Flow: Compose's name and
    labels, no flowgate label."""
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": "1",
    }
    return docker_client.containers.run(
        image, name=f"{project}_{service}_1", labels=labels, detach=True, init=True, **kw
    )


def test_takes_over_a_service_docker_flow_deployed(
    books: BooksProject, consul: ConsulTestServer, docker_client: Any
) -> None:
    """Docker Flow left blue running (docker-compose's containers) and its keys in
    Consul: flowgate's first run deploys green beside it, switches, and stops Docker
    Flow's blue; the side target it started is kept."""
    from flowgate.testing.projects import remove_labelled

    name, service = books.name, f"{books.name}-app"
    network = docker_client.networks.create(f"{name}_default", driver="bridge")
    try:
        db = compose_container(docker_client, name, "db", "books-ms-db:1.0", network=network.name)
        network.disconnect(db)
        network.connect(db, aliases=["db"])  # Compose's service name resolves
        blue = compose_container(
            docker_client,
            name,
            "app-blue",
            "books-ms:1.0",
            network=network.name,
            environment={"DB_HOST": "db", "FLOW_COLOR": "blue"},
            ports={"8080/tcp": ("127.0.0.1", None)},
        )
        request = urllib.request.Request
        for key, value in (("color", "blue"), ("scale", "1")):
            put = request(
                f"http://{consul.address}/v1/kv/docker-flow/{service}/{key}",
                data=value.encode(),
                method="PUT",
            )
            urllib.request.urlopen(put, timeout=5).close()
        (books.folder / "docker-flow.yml").write_text(DOCKER_FLOW_YML)

        flow(books, "-F", "deploy", "-F", "proxy", "-F", "stop-old", version="1.1")
        assert books.answer() == GREEN_1_1
        blue.reload()
        db.reload()
        assert (blue.status, db.status) == ("exited", "running")
        names = containers(docker_client, name)
        assert names[f"{name}_app-green_1"] == "running"
        assert kv(consul, f"docker-flow/{service}/color") == "green"
    finally:
        # docker-compose's containers (no network: flowgate's still use it), then flowgate's.
        remove_labelled(f"com.docker.compose.project={name}", f"{name}_no-such-network")
        books.remove()
