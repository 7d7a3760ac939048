"""books-ms released on a Docker Swarm (`runtime: swarm`) through real HAProxy, by the CLI.

deploy 1.0, test, promote -> blue serves; `release` 1.1 runs the example's smoke suite against
green on the preview port and promotes it; rollback -> blue (1.0) again, from its stopped
service; scale +2 -> three blue tasks in HAProxy, -2 -> one. A recording client sends
requests to the public port through all of it and must count zero failures. The engine is
made a single-node swarm for this module (and left again only if this module created it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from books_project import BLUE_1_0, GREEN_1_1, BooksProject, clean_env

from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]


@pytest.fixture
def project(tmp_path: Path, swarm: bool) -> Iterator[BooksProject]:
    with clean_env():
        made = BooksProject.create(tmp_path / "books", "fgswe", settings="runtime: swarm\n")
        yield made
        made.remove()


def states(data: dict[str, Any]) -> tuple[str, str]:
    return data["colors"]["blue"]["state"], data["colors"]["green"]["state"]


def test_release_cycle_on_swarm_through_haproxy_loses_no_request(
    project: BooksProject, monkeypatch: pytest.MonkeyPatch, docker_client: Any
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
    assert names == {f"{project.name}_app-blue-1", f"{project.name}_db"}

    url = project.url()
    with TrafficRecorder(url, label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)

        monkeypatch.setenv("BOOKS_VERSION", "1.1")
        project.cli("release")
        released = time.monotonic()
        traffic.wait_answers(released)
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
        traffic.wait_answers(rolled_back)
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
        traffic.wait_answers(scaled, count=60)
        assert set(traffic.answers(since=scaled)) == {BLUE_1_0}

        # Down again: HAProxy drops the highest slots first, and the runtime removes exactly
        # those instance services.
        project.cli("scale", "-2")
        shrunk = time.monotonic()
        [kept] = project.status()["colors"]["blue"]["instances"]
        assert (kept["name"], kept["address"]) == (blue[0]["name"], blue[0]["address"])
        traffic.wait_answers(shrunk)
        assert set(traffic.answers(since=shrunk)) == {BLUE_1_0}

    print(f"\ntraffic through HAProxy during the swarm cycle: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
