"""Issue 2's cycle on the real Docker engine, through the CLI, no proxy, file registry.

deploy -> blue; promote; scale +2 -> three; deploy -> green with three while blue serves;
promote; stop-old -> blue stopped, not removed; scale -1 -> two; status and history agree
with what Docker shows. Then the bad inputs that must change nothing.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flowgate.cli.app import main
from flowgate.testing.projects import remove_project

pytestmark = pytest.mark.docker
EXAMPLE = Path(__file__).parents[2] / "examples" / "books-ms"


def checkout(folder: Path, name: str, registry: str) -> Path:
    """A project folder; two checkouts on one Consul share every bit of state."""
    folder.mkdir()
    shutil.copy(EXAMPLE / "docker-compose.yml", folder)
    (folder / "flowgate.yml").write_text(
        f"target: app\nside_targets: [db]\nproject: {name}\nproxy: none\n"
        f"health_timeout: 30\ndrain_timeout: 0\nstop_timeout: 2\n{registry}"
    )
    return folder


@pytest.fixture(params=["file", "consul"])
def registry(request: pytest.FixtureRequest) -> Iterator[str]:
    """The registry lines of flowgate.yml. Consul is the project's HTTP API stand-in:
    no Consul server can be installed on these machines."""
    if request.param == "file":
        yield ""
        return
    from flowgate.testing.consul_server import consul_test_server

    with consul_test_server() as server:
        yield f"registry: consul\nconsul_address: {server.address}\n"


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: str
) -> Iterator[tuple[Path, str]]:

    name = "fge2e" + secrets.token_hex(3)
    folder = checkout(tmp_path / "books", name, registry)
    for var in ("FLOW_TARGET", "FLOWGATE_PLUGINS", "BOOKS_VERSION", "DOCKER_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(folder)
    yield folder, name
    remove_project(name)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "-q"])
    out = capsys.readouterr()
    return code, out.out, out.err


def docker_view(name: str) -> dict[str, list[tuple[str, str]]]:
    import docker

    client = docker.from_env()
    found: dict[str, list[tuple[str, str]]] = {}
    for c in client.containers.list(all=True, filters={"label": f"io.flowgate.project={name}"}):
        color = c.labels.get("io.flowgate.color", "side")
        found.setdefault(color, []).append((c.name, c.status))
    return {color: sorted(items) for color, items in found.items()}


def books(address: str) -> dict[str, Any]:
    answer = requests.get(f"http://{address}/api/v1/books", timeout=5)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = cli(capsys, "status", "-o", "json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    return data


def test_release_cycle_on_the_real_engine(
    project: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    registry: str,
) -> None:
    folder, name = project
    assert cli(capsys, "deploy")[0] == 0
    blue = status(capsys)["colors"]["blue"]["instances"]
    assert [(i["name"], i["state"], i["healthy"]) for i in blue] == [
        (f"{name}_app-blue_1", "running", True)
    ]
    assert books(blue[0]["address"])["color"] == "blue"
    assert docker_view(name)["side"] == [(f"{name}_db_1", "running")]

    assert cli(capsys, "promote")[0] == 0
    assert cli(capsys, "scale", "+2")[0] == 0
    assert len(docker_view(name)["blue"]) == 3

    assert cli(capsys, "deploy")[0] == 0
    view = docker_view(name)
    assert [s for _, s in view["green"]] == ["running"] * 3
    assert [s for _, s in view["blue"]] == ["running"] * 3
    data = status(capsys)
    assert (data["live_color"], data["colors"]["green"]["state"]) == ("blue", "new")
    assert books(data["colors"]["blue"]["instances"][0]["address"])["color"] == "blue"

    assert cli(capsys, "promote")[0] == 0
    assert [s for _, s in docker_view(name)["blue"]] == ["exited"] * 3  # kept for rollback
    assert cli(capsys, "stop-old")[0] == 0
    assert cli(capsys, "scale", "-1")[0] == 0
    view = docker_view(name)
    assert [s for _, s in view["green"]] == ["running"] * 2
    assert [s for _, s in view["blue"]] == ["exited"] * 3

    data = status(capsys)
    assert (data["live_color"], data["scale"]) == ("green", 2)
    assert data["colors"]["blue"]["state"] == "stopped"
    reported = sorted(
        (i["name"], i["state"]) for c in ("blue", "green") for i in data["colors"][c]["instances"]
    )
    assert reported == sorted(view["blue"] + view["green"])
    for instance in data["colors"]["green"]["instances"]:
        assert books(instance["address"])["color"] == "green"

    code, out, _ = cli(capsys, "history", "-o", "json")
    assert code == 0
    releases = json.loads(out)
    assert [(r["color"], r["outcome"]) for r in releases] == [
        ("green", "succeeded"),
        ("blue", "succeeded"),
    ]

    if registry:  # a second checkout on the same Consul sees the same truth
        monkeypatch.chdir(checkout(folder.parent / "second", name, registry))
        assert status(capsys)["live_color"] == "green"
        assert json.loads(cli(capsys, "history", "-o", "json")[1]) == releases


def test_bad_inputs_change_nothing(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, name = project
    assert cli(capsys, "deploy")[0] == 0
    assert cli(capsys, "promote")[0] == 0
    before = docker_view(name)

    monkeypatch.setenv("BOOKS_VERSION", "9.9-missing")
    code, _, err = cli(capsys, "deploy")
    assert code == 1
    assert "books-ms:9.9-missing" in err and len(err.splitlines()) == 1
    monkeypatch.delenv("BOOKS_VERSION")
    assert docker_view(name) == before

    monkeypatch.setenv("FLOW_HOST", "unix:///nonexistent/docker.sock")
    code, _, err = cli(capsys, "deploy")
    assert code == 5
    assert err.startswith("flowgate: error: cannot reach the Docker engine")
    monkeypatch.delenv("FLOW_HOST")

    (folder / "docker-compose.yml").write_text(
        (folder / "docker-compose.yml")
        .read_text()
        .replace("http://127.0.0.1:8080/health", "http://127.0.0.1:8080/never")
    )
    code, _, err = cli(capsys, "deploy", "--timeout", "8")
    assert code == 1
    assert "green" in err
    assert docker_view(name) == before
    assert status(capsys)["live_color"] == "blue"


def test_two_concurrent_releases_one_proceeds_the_other_exits_8(
    project: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `flowgate release` processes of one target at once: the first takes the lock and
    goes live; the second, started while the first holds it, changes nothing and exits 8
    naming the holder (its pid). The first's gate suite waits for a marker file, so the two
    overlap for certain rather than by timing luck."""
    import subprocess

    folder, _ = project
    (folder / "gate").mkdir()
    (folder / "gate" / "test_wait.py").write_text(
        "import pathlib, time\n\n"
        "def test_waits_until_the_other_release_has_run():\n"
        "    marker = pathlib.Path(__file__).with_name('go')\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not marker.exists():\n"
        "        assert time.monotonic() < deadline\n"
        "        time.sleep(0.1)\n"
    )
    flowgate = shutil.which("flowgate") or "flowgate"
    first = subprocess.Popen(
        [flowgate, "release", "--tests", "gate", "--no-color"], stderr=subprocess.PIPE, text=True
    )
    assert first.stderr is not None
    seen = []
    for line in first.stderr:  # the lock is taken before the deploy step starts
        seen.append(line)
        if line.split()[1:2] == ["deploy"]:  # "  ✓ deploy  3.1s"
            break
    # If the first ended instead (a failed start-up check on a loaded machine), the second
    # would find the lock free and run a whole release: say so now, not after a timeout.
    assert first.poll() is None, f"the first release ended early:\n{''.join(seen)}"
    second = subprocess.run(
        [flowgate, "release", "--no-color"], capture_output=True, text=True, timeout=60
    )
    (folder / "gate" / "go").touch()
    rest = first.communicate(timeout=120)[1]

    assert first.returncode == 0, "".join(seen) + rest
    assert second.returncode == 8, second.stderr
    assert "holds the lock" in second.stderr
    assert f"pid={first.pid}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert status(capsys)["live_color"] == "blue"
    code, out, _ = cli(capsys, "history", "-o", "json")
    assert code == 0
    assert [(r["color"], r["outcome"]) for r in json.loads(out)] == [("blue", "succeeded")]
