"""The done-when check of a third-party backend: flowgate-nginx installed on its own.

A fresh virtualenv gets flowgate and flowgate-nginx from their local paths (not editable,
dependencies from the package index), and nothing else of this checkout: that venv's
`flowgate plugins` lists the backend, and that venv's `flowgate release` releases the
books-ms example through nginx twice, the second time under constant load, with the
example's smoke suite as the gate (reaching the new color through nginx's preview port)
and zero lost requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from books import BLUE_1_0, GREEN_1_1, Books

from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.nginx]
PLUGIN = Path(__file__).resolve().parents[1]
FLOWGATE_ROOT = PLUGIN.parents[1]


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (FLOWGATE_ROOT / "src" / "flowgate").is_dir():
        pytest.skip(f"{FLOWGATE_ROOT} is not a flowgate checkout to install from")
    folder = tmp_path_factory.mktemp("fresh") / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    # No pip inside: this interpreter's pip installs into it (`--python`), which saves
    # seeding one; no byte-compiling either. Both only to keep the check fast.
    run([sys.executable, "-m", "venv", "--without-pip", str(folder)], env)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    target = ["--python", str(folder / "bin" / "python")]
    run([*pip, *target, "install", "-q", "--no-compile", str(FLOWGATE_ROOT), str(PLUGIN)], env)
    return folder


@pytest.fixture
def fresh_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def books(tmp_path: Path, venv: Path) -> Iterator[Books]:
    made = Books.create(tmp_path / "books", str(venv / "bin" / "flowgate"), gate=True)
    yield made
    made.remove()


def test_installed_alone_it_is_listed_and_releases_books_ms_losing_nothing(
    venv: Path, fresh_env: dict[str, str], books: Books
) -> None:
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import flowgate, flowgate_nginx; print(flowgate.__file__); "
            "print(flowgate_nginx.__file__)",
        ],
        fresh_env,
    ).split()
    site = str(venv / "lib")
    assert all(path.startswith(site) for path in where), where  # installed, not this tree

    listed = json.loads(run([str(venv / "bin" / "flowgate"), "plugins", "-o", "json"], fresh_env))
    assert {"kind": "proxy", "name": "nginx", "class": "flowgate_nginx.proxy.NginxProxy"} in (
        listed["backends"]
    )
    assert "nginx" in {plugin["name"] for plugin in listed["plugins"]}

    books.cli("release", version="1.0")
    assert books.answer() == BLUE_1_0
    with TrafficRecorder(books.url(), label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)
        books.cli("release", version="1.1")
        released = time.monotonic()
        traffic.wait_answers(released)
    print(f"\ntraffic through nginx during the release: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers(since=released)) == {GREEN_1_1}
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
    data = books.status()
    assert data["live_color"] == "green"
    assert data["release"]["tests"]["failed"] == 0 and data["release"]["tests"]["passed"] > 0
