"""books-ms released on a Docker Swarm (`runtime: swarm`) through real HAProxy, by the CLI.

deploy 1.0, test, promote -> blue serves; `release` 1.1 runs the example's smoke suite against
green on the preview port and promotes it; rollback -> blue (1.0) again, from its stopped
service; scale +2 -> three blue tasks in HAProxy, -2 -> one. A recording client sends
requests to the public port through all of it and must count zero failures. The engine is
made a single-node swarm for this module (and left again only if this module created it).
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flowgate.cli.app import main
from flowgate.testing.network import free_port
from flowgate.testing.projects import remove_project
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]
EXAMPLE = Path(__file__).parents[2] / "examples" / "books-ms"
PATH = "/api/v1/books"
BLUE_1_0, GREEN_1_1 = "1.0 (blue)", "1.1 (green)"


class Project:
    """A books-ms checkout on the swarm runtime with its own name and ports."""

    def __init__(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder = folder
        self.name = "fgswe" + secrets.token_hex(3)
        self.public = free_port()
        self.preview = free_port()
        self.capsys = capsys
        folder.mkdir()
        shutil.copy(EXAMPLE / "docker-compose.yml", folder)
        shutil.copytree(EXAMPLE / "tests", folder / "tests")
        (folder / "flowgate.yml").write_text(
            f"target: app\nside_targets: [db]\nproject: {self.name}\nruntime: swarm\n"
            f"service_path: [{PATH}]\nproxy: haproxy\n"
            f"proxy_port: {self.public}\npreview_port: {self.preview}\n"
            "tests: [tests/smoke]\nhealth_timeout: 60\ndrain_timeout: 1\nstop_timeout: 2\n"
        )

    def cli(self, *argv: str) -> str:
        """Run a verb; anything but exit 0 fails with flowgate's own error line."""
        code = main([*argv, "-q"])
        out = self.capsys.readouterr()
        assert code == 0, f"flowgate {' '.join(argv)} exited {code}: {out.err}"
        return out.out

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.cli("status", "-o", "json"))
        return data

    def answer(self, port: int) -> str:
        reply = requests.get(f"http://127.0.0.1:{port}{PATH}", timeout=5)
        reply.raise_for_status()
        return version_and_color(reply.content)


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    docker_client: Any,
    swarm: bool,
) -> Iterator[Project]:
    made = Project(tmp_path / "books", capsys)
    for var in ("FLOW_TARGET", "FLOWGATE_PLUGINS", "BOOKS_VERSION", "DOCKER_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(made.folder)
    yield made
    remove_project(made.name, made.folder)


def settle(traffic: TrafficRecorder, since: float, count: int = 40) -> None:
    """Let at least `count` requests start after `since`, so `answers(since)` has weight."""
    deadline = time.monotonic() + 30
    while sum(traffic.answers(since).values()) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def states(data: dict[str, Any]) -> tuple[str, str]:
    return data["colors"]["blue"]["state"], data["colors"]["green"]["state"]


def test_release_cycle_on_swarm_through_haproxy_loses_no_request(
    project: Project, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    """Each color is a swarm service whose tasks HAProxy reaches on their host ports; the
    gate runs the example's smoke suite on green, and release, rollback and scale switch
    under constant traffic without one failed or wrongly-colored request."""
    monkeypatch.setenv("BOOKS_VERSION", "1.0")
    project.cli("deploy")
    project.cli("test")
    project.cli("promote")
    assert project.answer(project.public) == BLUE_1_0
    names = {s.name for s in docker_client.services.list(filters={"name": project.name})}
    assert names == {f"{project.name}_app-blue", f"{project.name}_db"}

    url = f"http://127.0.0.1:{project.public}{PATH}"
    with TrafficRecorder(url, label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)

        monkeypatch.setenv("BOOKS_VERSION", "1.1")
        project.cli("release")
        released = time.monotonic()
        settle(traffic, released)
        assert set(traffic.answers(since=released)) == {GREEN_1_1}
        data = project.status()
        assert data["live_color"] == "green"
        assert states(data) == ("stopped", "live")
        assert data["release"]["tests"]["failed"] == 0
        assert data["release"]["tests"]["passed"] >= 4
        [green] = data["colors"]["green"]["instances"]
        assert (green["name"], green["state"]) == (f"{project.name}_app-green.1", "running")

        project.cli("rollback")
        rolled_back = time.monotonic()
        settle(traffic, rolled_back)
        assert set(traffic.answers(since=rolled_back)) == {BLUE_1_0}
        data = project.status()
        assert (data["live_color"], states(data)) == ("blue", ("live", "stopped"))
        assert [i["state"] for i in data["colors"]["green"]["instances"]] == ["shutdown"]

        project.cli("scale", "+2")
        scaled = time.monotonic()
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("blue", 3)
        blue = data["colors"]["blue"]["instances"]
        assert [(i["state"], i["healthy"]) for i in blue] == [("running", True)] * 3
        settle(traffic, scaled, count=60)
        assert set(traffic.answers(since=scaled)) == {BLUE_1_0}

        # Down again: HAProxy drops the highest slots first, and swarm removes those.
        project.cli("scale", "-2")
        shrunk = time.monotonic()
        [kept] = project.status()["colors"]["blue"]["instances"]
        assert (kept["name"], kept["address"]) == (blue[0]["name"], blue[0]["address"])
        settle(traffic, shrunk)
        assert set(traffic.answers(since=shrunk)) == {BLUE_1_0}

    print(f"\ntraffic through HAProxy during the swarm cycle: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
