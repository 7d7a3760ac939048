"""The test gate end to end: books-ms on the real Docker engine behind a real HAProxy,
driven through the CLI, every verdict checked with real HTTP on the proxy's public port.

A passing gate promotes; a failing or empty gate holds (exit 7) while traffic keeps
reaching the old color; failing post-promotion tests switch back (exit 1); and a suite run
by hand with `pytest --flow-target=app` tests the deployed color, not the live one.

Cases 2 to 5 share one project with books-ms 1.0 live on blue (each starts by checking it
and leaves it so); case 1 needs its own, as it moves the live color.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from books_project import FOREIGN_ENV, BooksProject, clean_env

from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]

ROOT = Path(__file__).resolve().parents[2]
SMOKE_FAILURE = "tests/smoke/test_books_smoke.py::test_books_api_answers_json"


@pytest.fixture(scope="module", autouse=True)
def foreign_env_removed() -> Iterator[None]:
    with clean_env():
        yield


@pytest.fixture(scope="module")
def images() -> None:
    """The example's images (a no-op when they are up to date)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-images.sh")], check=True)


@pytest.fixture
def new_books(tmp_path: Path, images: None) -> Iterator[BooksProject]:
    books = BooksProject.create(tmp_path / "books", "fggate")
    try:
        yield books
    finally:
        books.remove()


@pytest.fixture(scope="module")
def shared_books(tmp_path_factory: pytest.TempPathFactory, images: None) -> Iterator[BooksProject]:
    """One project with books-ms 1.0 released live on blue, for the cases that leave the
    live color as they found it."""
    books = BooksProject.create(tmp_path_factory.mktemp("shared") / "books", "fggate")
    try:
        code, _, err = books.invoke("release", version="1.0")
        assert code == 0, err
        yield books
    finally:
        books.remove()


@pytest.fixture
def live_1_0(shared_books: BooksProject) -> Iterator[BooksProject]:
    """The shared project, checked to serve 1.0 on blue with nothing else deployed; any
    color a test leaves deployed is aborted afterwards."""
    state = shared_books.status()
    assert (state["live_color"], state["deployed_color"]) == ("blue", "blue")
    assert shared_books.answer() == "1.0 (blue)"
    yield shared_books
    code, _, err = shared_books.invoke("abort")
    assert code == 0, err


def write_suite(folder: Path, files: dict[str, str]) -> str:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return str(folder)


# -- 1. a passing gate promotes ----------------------------------------------------------------


def test_a_passing_gate_promotes(new_books: BooksProject) -> None:
    """1.0 then 1.1, each gated by the example's smoke suite: both exit 0, the public port
    answers 1.1 on green, no request is lost during the second release, and history
    records two successful releases whose suites passed."""
    code, _, err = new_books.invoke("release", version="1.0")
    assert code == 0, err
    assert new_books.answer() == "1.0 (blue)"

    with TrafficRecorder(new_books.url(), label=version_and_color) as traffic:
        code, _, err = new_books.invoke("release", version="1.1")
        traffic.wait_for("1.1 (green)")
    assert code == 0, err
    assert traffic.failures == [], traffic.summary()
    assert len(traffic.samples) >= 50, traffic.summary()  # it did run
    assert new_books.answer() == "1.1 (green)"

    state = new_books.status()
    assert state["live_color"] == "green"
    assert (state["colors"]["green"]["state"], state["colors"]["blue"]["state"]) == (
        "live",
        "stopped",
    )
    releases = new_books.history()
    assert [(r["color"], r["outcome"], r["images"]) for r in releases] == [
        ("green", "succeeded", ["books-ms:1.1"]),
        ("blue", "succeeded", ["books-ms:1.0"]),
    ]
    for release in releases:
        assert release["tests"]["exit_code"] == 0
        assert release["tests"]["failed"] == 0 and release["tests"]["passed"] >= 6


# -- 2. a failing test holds ---------------------------------------------------------------------


def test_a_failing_gate_holds_and_the_old_color_keeps_serving(live_1_0: BooksProject) -> None:
    """1.2's API answers 500, so its smoke tests fail: exit 7, not one request through the
    public port fails or reaches 1.2 while the release runs, 1.2 is removed, and
    `status -o json` names the failed test."""
    with TrafficRecorder(live_1_0.url(), label=version_and_color) as traffic:
        code, _, err = live_1_0.invoke("release", version="1.2")
    assert code == 7, err
    assert SMOKE_FAILURE in err
    assert traffic.failures == [], traffic.summary()
    assert set(traffic.answers()) == {"1.0 (blue)"}, traffic.summary()
    assert live_1_0.answer() == "1.0 (blue)"

    state = live_1_0.status()
    assert state["live_color"] == "blue"
    assert state["colors"]["green"] == {"state": "absent", "instances": []}
    release = state["release"]
    assert (release["color"], release["images"]) == ("green", ["books-ms:1.2"])
    assert (release["state"], release["outcome"]) == ("gate-failed", "gate-failed")
    assert release["tests"]["exit_code"] == 1
    assert SMOKE_FAILURE in release["tests"]["failed_ids"]
    assert release["tests"]["failed"] == len(release["tests"]["failed_ids"])
    assert Path(release["tests"]["report"]).is_file()
    assert live_1_0.history()[0]["id"] == release["id"]


# -- 3. an empty suite holds ---------------------------------------------------------------------


def test_an_empty_suite_holds(live_1_0: BooksProject, tmp_path: Path) -> None:
    """A gate folder with only a conftest collects no test: pytest exits 5, the gate
    closes (exit 7) and the public port keeps answering the old color throughout."""
    empty = write_suite(tmp_path / "empty", {"conftest.py": "# fixtures would go here\n"})
    with TrafficRecorder(live_1_0.url(), label=version_and_color) as traffic:
        code, _, err = live_1_0.invoke("release", "--tests", empty, version="1.1")
    assert code == 7, err
    assert "no tests were collected" in err
    assert traffic.failures == [], traffic.summary()
    assert set(traffic.answers()) == {"1.0 (blue)"}, traffic.summary()

    state = live_1_0.status()
    assert state["live_color"] == "blue"
    assert state["colors"]["green"]["state"] == "absent"
    tests = state["release"]["tests"]
    assert (tests["exit_code"], tests["passed"], tests["failed"]) == (5, 0, 0)
    assert state["release"]["outcome"] == "gate-failed"


# -- 4. a failing post-test switches back --------------------------------------------------------

POST_SUITE = '''
import json
import os


def test_the_live_route_serves_a_version_that_was_never_built(flow_http, flow_release):
    """Fails on purpose, after recording what the live route answered."""
    body = flow_http.get("/api/v1/books").json()
    with open(os.environ["SEEN_FILE"], "w") as seen:
        json.dump({"body": body, "color": str(flow_release.color), "url": flow_http.base_url}, seen)
    assert body["version"] == "9.9"
'''


def test_a_failing_post_test_switches_back(
    live_1_0: BooksProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1.1 passes its gate and goes live; the post suite, run against the public route,
    sees 1.1 on green and fails: exit 1, the public port answers 1.0 on blue again, no
    request failed across both switches, and the release is recorded as rolled back."""
    post = write_suite(tmp_path / "post", {"test_live.py": POST_SUITE})
    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))
    with TrafficRecorder(live_1_0.url(), label=version_and_color) as traffic:
        code, _, err = live_1_0.invoke("release", "--post-tests", post, version="1.1")
    assert code == 1, err
    assert "switched back to blue" in err
    # Green must drain before it is removed, or requests it took while live end in a 502.
    assert traffic.failures == [], traffic.summary()
    assert len(traffic.samples) >= 50, traffic.summary()  # it did run
    assert live_1_0.answer() == "1.0 (blue)"

    seen = json.loads(seen_file.read_text())
    assert (seen["body"]["version"], seen["body"]["color"], seen["color"]) == (
        "1.1",
        "green",
        "green",
    )
    assert seen["url"] == f"http://127.0.0.1:{live_1_0.public}"

    state = live_1_0.status()
    assert (state["live_color"], state["colors"]["green"]["state"]) == ("blue", "absent")
    release = state["release"]
    assert (release["color"], release["state"], release["outcome"]) == (
        "green",
        "rolled-back",
        "rolled-back",
    )
    assert release["tests"]["exit_code"] == 0
    assert release["post_tests"]["exit_code"] == 1
    [failed_id] = release["post_tests"]["failed_ids"]
    assert failed_id.endswith(
        "post/test_live.py::test_the_live_route_serves_a_version_that_was_never_built"
    )
    assert "switch_back" in [step["name"] for step in release["steps"]]
    assert (live_1_0.history()[0]["id"], live_1_0.history()[0]["outcome"]) == (
        release["id"],
        "rolled-back",
    )


# -- 5. pytest --flow-target run by hand ---------------------------------------------------------

HAND_SUITE = """
import json
import os


def test_the_color_under_test_answers(flow_http, flow_release, flow_url):
    body = flow_http.get("/api/v1/books").json()
    with open(os.environ["SEEN_FILE"], "w") as seen:
        json.dump({"body": body, "color": str(flow_release.color), "url": flow_url}, seen)
    assert body["color"] == str(flow_release.color)
"""


def hand_pytest(
    books: BooksProject, suite: str, seen: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """`python -m pytest <suite> --flow-target=app --flow-project-dir=<project>` as a user
    would type it, from the suite's folder, with none of flowgate's gate variables set."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env["SEEN_FILE"] = str(seen)
    argv = [sys.executable, "-m", "pytest", suite, "-p", "no:cacheprovider", "-v"]
    if env.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "flowgate.pytest_plugin"]  # entry points are off: load it by name
    argv += ["--flow-target=app", f"--flow-project-dir={books.folder}", *options]
    return subprocess.run(
        argv, cwd=Path(suite).parent, env=env, capture_output=True, text=True, timeout=120
    )


def test_pytest_flow_target_by_hand_tests_the_deployed_color(
    live_1_0: BooksProject, tmp_path: Path
) -> None:
    """After `flowgate deploy` of 1.1 (green) while 1.0 (blue) is live, a suite run by hand
    with `--flow-target=app` reaches green 1.1 through the preview port; the same suite
    with `--flow-color=live` reaches blue 1.0 through the public port, which still
    answers 1.0."""
    code, _, err = live_1_0.invoke("deploy", version="1.1")
    assert code == 0, err
    suite = write_suite(tmp_path / "hand", {"test_hand.py": HAND_SUITE})

    new = hand_pytest(live_1_0, suite, tmp_path / "new.json")
    assert new.returncode == 0, new.stdout + new.stderr
    assert f"flowgate: target app, color new, project {live_1_0.folder}" in new.stdout
    assert "1 passed" in new.stdout
    seen = json.loads((tmp_path / "new.json").read_text())
    assert (seen["body"]["version"], seen["body"]["color"], seen["color"]) == (
        "1.1",
        "green",
        "green",
    )
    assert seen["url"] == f"http://127.0.0.1:{live_1_0.preview}"
    assert live_1_0.answer() == "1.0 (blue)"

    live = hand_pytest(live_1_0, suite, tmp_path / "live.json", "--flow-color=live")
    assert live.returncode == 0, live.stdout + live.stderr
    seen = json.loads((tmp_path / "live.json").read_text())
    assert (seen["body"]["version"], seen["body"]["color"]) == ("1.0", "blue")
    assert seen["url"] == f"http://127.0.0.1:{live_1_0.public}"

    state = live_1_0.status()
    assert (state["live_color"], state["deployed_color"]) == ("blue", "green")
    assert state["colors"]["green"]["state"] == "new"
