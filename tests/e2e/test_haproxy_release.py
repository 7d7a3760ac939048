"""Issue 3's cycle through real HAProxy and real books-ms containers, driven by the CLI.

deploy 1.0 + promote -> blue serves; deploy 1.1 -> green on the preview port only;
promote -> green serves; rollback -> blue serves again; scale +2 -> three servers in
HAProxy, scale -2 -> one. One recording client sends requests to the public port through
all of it, never retrying, and must count zero failures at the end.
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

from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_config import backend_name
from flowgate.cli.app import main
from flowgate.testing.network import free_port
from flowgate.testing.projects import remove_project
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]
EXAMPLE = Path(__file__).parents[2] / "examples" / "books-ms"
PATH = "/api/v1/books"
BLUE_1_0, GREEN_1_1 = "1.0 (blue)", "1.1 (green)"
UP = 2  # HAProxy's operational state of a server that passes its health check
# Admin flags that keep a server out of rotation: forced, inherited and resolver
# maintenance, forced and inherited drain. 0x04 only records `disabled` in the config file
# (flowgate's free slots); a slot enabled at run time keeps it and serves.
OUT_OF_ROTATION = 0x01 | 0x02 | 0x08 | 0x10 | 0x20


class Project:
    """A books-ms checkout with its own name and ports, and the CLI run inside it."""

    def __init__(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder = folder
        self.name = "fghap" + secrets.token_hex(3)
        self.service = f"{self.name}-app"
        self.public = free_port()
        self.preview = free_port()
        self.capsys = capsys
        folder.mkdir()
        shutil.copy(EXAMPLE / "docker-compose.yml", folder)
        # No `tests:`: the gate has its own end-to-end test; this one is about the proxy.
        (folder / "flowgate.yml").write_text(
            f"target: app\nside_targets: [db]\nproject: {self.name}\n"
            f"service_path: [{PATH}]\nproxy: haproxy\n"
            f"proxy_port: {self.public}\npreview_port: {self.preview}\n"
            "health_timeout: 60\ndrain_timeout: 1\nstop_timeout: 2\n"
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

    def live_servers(self) -> dict[str, str]:
        """HAProxy's own view (Runtime API): live-backend servers UP and not in maintenance
        or drain, as server name -> address."""
        files = control.HAProxyFiles.for_project(self.folder)
        states = control.server_states(files, backend_name(self.service, "live"))
        return {
            name: address
            for name, (op, admin, address) in states.items()
            if op == UP and not admin & OUT_OF_ROTATION
        }

    def sessions(self) -> dict[str, int]:
        """Total sessions per live-backend server (`show stat`'s stot), by server name."""
        files = control.HAProxyFiles.for_project(self.folder)
        rows = control.runtime(files, "show stat -1 4 -1").splitlines()
        header = rows[0].lstrip("# ").split(",")
        totals = {}
        for row in rows[1:]:
            values = dict(zip(header, row.split(","), strict=False))
            if values.get("pxname") == backend_name(self.service, "live"):
                totals[values["svname"]] = int(values["stot"] or 0)
        return totals


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Project]:

    made = Project(tmp_path / "books", capsys)
    for var in ("FLOW_TARGET", "FLOWGATE_PLUGINS", "BOOKS_VERSION", "DOCKER_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(made.folder)
    yield made
    remove_project(made.name, made.folder)


def addresses(data: dict[str, Any], color: str) -> list[str]:
    return sorted(i["address"] for i in data["colors"][color]["instances"])


def settle(traffic: TrafficRecorder, since: float, count: int = 40) -> None:
    """Let at least `count` requests start after `since`, so `answers(since)` has weight."""
    deadline = time.monotonic() + 30
    while sum(traffic.answers(since).values()) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_blue_green_cycle_through_haproxy_loses_no_request(
    project: Project, monkeypatch: pytest.MonkeyPatch
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

    url = f"http://127.0.0.1:{project.public}{PATH}"
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
        settle(traffic, promoted)
        assert set(traffic.answers(since=promoted)) == {GREEN_1_1}
        assert project.answer(project.public) == GREEN_1_1
        data = project.status()
        assert data["live_color"] == "green"
        assert (data["colors"]["blue"]["state"], data["colors"]["green"]["state"]) == (
            "stopped",
            "live",
        )
        assert list(project.live_servers().values()) == addresses(data, "green")

        # 4. rollback: blue (1.0) again, green stopped but kept.
        project.cli("rollback")
        rolled_back = time.monotonic()
        settle(traffic, rolled_back)
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
        live = project.live_servers()
        assert len(live) == 3
        assert sorted(live.values()) == addresses(data, "blue")
        before = project.sessions()
        scaled = time.monotonic()
        settle(traffic, scaled, count=60)
        after = project.sessions()
        assert all(after[name] > before[name] for name in live), (before, after)
        assert set(traffic.answers(since=scaled)) == {BLUE_1_0}

        project.cli("scale", "-2")
        data = project.status()
        assert (data["live_color"], data["scale"]) == ("blue", 1)
        live = project.live_servers()
        assert len(live) == 1
        assert list(live.values()) == addresses(data, "blue")
        shrunk = time.monotonic()
        settle(traffic, shrunk)
        assert set(traffic.answers(since=shrunk)) == {BLUE_1_0}

    print(f"\ntraffic through HAProxy during the cycle: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
