"""Issue 3's cycle through real HAProxy and real books-ms containers, driven by the CLI.

deploy 1.0 + promote -> blue serves; deploy 1.1 -> green on the preview port only;
promote -> green serves; rollback -> blue serves again; scale +2 -> three servers in
HAProxy, scale -2 -> one. One recording client sends requests to the public port through
all of it, never retrying, and must count zero failures at the end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from books_project import BLUE_1_0, GREEN_1_1, BooksProject, clean_env

from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_config import backend_name
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]
UP = 2  # HAProxy's operational state of a server that passes its health check
# Admin flags that keep a server out of rotation: forced, inherited and resolver
# maintenance, forced and inherited drain. 0x04 only records `disabled` in the config file
# (flowgate's free slots); a slot enabled at run time keeps it and serves.
OUT_OF_ROTATION = 0x01 | 0x02 | 0x08 | 0x10 | 0x20


def live_servers(project: BooksProject) -> dict[str, str]:
    """HAProxy's own view (Runtime API): live-backend servers UP and not in maintenance
    or drain, as server name -> address."""
    files = project.haproxy_files
    states = control.server_states(files, backend_name(project.service, "live"))
    return {
        name: address
        for name, (op, admin, address) in states.items()
        if op == UP and not admin & OUT_OF_ROTATION
    }


def sessions(project: BooksProject) -> dict[str, int]:
    """Total sessions per live-backend server (`show stat`'s stot), by server name."""
    files = project.haproxy_files
    rows = control.runtime(files, "show stat -1 4 -1").splitlines()
    header = rows[0].lstrip("# ").split(",")
    totals = {}
    for row in rows[1:]:
        values = dict(zip(header, row.split(","), strict=False))
        if values.get("pxname") == backend_name(project.service, "live"):
            totals[values["svname"]] = int(values["stot"] or 0)
    return totals


@pytest.fixture
def project(tmp_path: Path) -> Iterator[BooksProject]:
    # No gate suite: the gate has its own end-to-end test; this one is about the proxy.
    with clean_env():
        made = BooksProject.create(tmp_path / "books", "fghap", gate=False)
        yield made
        made.remove()


def addresses(data: dict[str, Any], color: str) -> list[str]:
    return sorted(i["address"] for i in data["colors"][color]["instances"])


def test_blue_green_cycle_through_haproxy_loses_no_request(
    project: BooksProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every switch of the cycle happens under constant traffic on the public port: the
    preview port shows the new color before promotion while the public one does not,
    promote and rollback switch completely, HAProxy follows scale up and down, and not one
    request fails or is answered by the wrong color."""
    monkeypatch.setenv("BOOKS_VERSION", "1.0")
    project.cli("deploy")
    project.cli("promote")
    assert project.answer(project.public) == BLUE_1_0
    data = project.status()
    assert (data["live_color"], data["scale"]) == ("blue", 1)

    url = project.url()
    with TrafficRecorder(url, label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)

        # 2. deploy 1.1: green on the preview port only.
        monkeypatch.setenv("BOOKS_VERSION", "1.1")
        project.cli("deploy")
        assert project.answer(project.preview) == GREEN_1_1
        assert project.answer(project.public) == BLUE_1_0
        data = project.status()
        assert data["live_color"] == "blue"
        assert (data["colors"]["blue"]["state"], data["colors"]["green"]["state"]) == (
            "live",
            "new",
        )
        assert set(traffic.answers()) == {BLUE_1_0}

        # 3. promote: no request started after promote returned is answered by blue.
        project.cli("promote")
        promoted = time.monotonic()
        traffic.wait_answers(promoted)
        assert set(traffic.answers(since=promoted)) == {GREEN_1_1}
        assert project.answer(project.public) == GREEN_1_1
        data = project.status()
        assert data["live_color"] == "green"
        assert (data["colors"]["blue"]["state"], data["colors"]["green"]["state"]) == (
            "stopped",
            "live",
        )
        assert list(live_servers(project).values()) == addresses(data, "green")

        # 4. rollback: blue (1.0) again, green stopped but kept.
        project.cli("rollback")
        rolled_back = time.monotonic()
        traffic.wait_answers(rolled_back)
        assert set(traffic.answers(since=rolled_back)) == {BLUE_1_0}
        data = project.status()
        assert data["live_color"] == "blue"
        assert (data["colors"]["blue"]["state"], data["colors"]["green"]["state"]) == (
            "live",
            "stopped",
        )
        assert [i["state"] for i in data["colors"]["green"]["instances"]] == ["exited"]

        # 5. scale +2 on the live blue: HAProxy itself has three servers UP, and each
        # of them takes requests. BOOKS_VERSION still says 1.1, as a pipeline's would.
        project.cli("scale", "+2")
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("blue", 3)
        live = live_servers(project)
        assert len(live) == 3
        assert sorted(live.values()) == addresses(data, "blue")
        before = sessions(project)
        scaled = time.monotonic()
        traffic.wait_answers(scaled, count=60)
        after = sessions(project)
        assert all(after[name] > before[name] for name in live), (before, after)
        assert set(traffic.answers(since=scaled)) == {BLUE_1_0}

        project.cli("scale", "-2")
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("blue", 1)
        live = live_servers(project)
        assert len(live) == 1
        assert list(live.values()) == addresses(data, "blue")
        shrunk = time.monotonic()
        traffic.wait_answers(shrunk)
        assert set(traffic.answers(since=shrunk)) == {BLUE_1_0}

    print(f"\ntraffic through HAProxy during the cycle: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
