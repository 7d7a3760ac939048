"""books-ms released through a real nginx on the real Docker engine, under constant load.

The same cycle and the same zero-loss check as flowgate's HAProxy end-to-end test: a
recording client that never retries sends requests to the public port through deploy
(the new color on the preview port only), promote, rollback and scale up and down, and
must count zero failures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from books import BLUE_1_0, GREEN_1_1, Books
from flowgate_nginx.process import NginxFiles, master_pid

from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.nginx]
FLOWGATE = str(Path(sys.executable).parent / "flowgate")


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    made = Books.create(tmp_path / "books", FLOWGATE, gate=False)
    yield made
    made.remove()


def test_cycle_through_nginx_loses_no_request(books: Books) -> None:
    books.cli("deploy")
    books.cli("promote")
    files = NginxFiles.for_project(books.folder)
    master = master_pid(files)
    assert master is not None  # started by the backend, from the project's own files
    assert books.answer() == BLUE_1_0

    with TrafficRecorder(books.url(), label=version_and_color) as traffic:
        traffic.wait_for(BLUE_1_0)

        books.cli("deploy", version="1.1")
        assert books.answer(books.preview) == GREEN_1_1
        assert books.answer() == BLUE_1_0
        assert set(traffic.answers()) == {BLUE_1_0}

        books.cli("promote", version="1.1")
        promoted = time.monotonic()
        traffic.wait_answers(promoted)
        assert set(traffic.answers(since=promoted)) == {GREEN_1_1}
        data = books.status()
        assert (data["live_color"], data["colors"]["blue"]["state"]) == ("green", "stopped")

        books.cli("rollback")
        rolled_back = time.monotonic()
        traffic.wait_answers(rolled_back)
        assert set(traffic.answers(since=rolled_back)) == {BLUE_1_0}

        books.cli("scale", "+2")
        assert books.status()["scale"] == 3
        live = f"upstream {books.name}-app__live {{"
        upstream = files.config.read_text().split(live)[1].split("}")[0]
        assert upstream.count("server 127.0.0.1:") == 3
        scaled = time.monotonic()
        traffic.wait_answers(scaled)
        books.cli("scale", "-2")
        assert books.status()["scale"] == 1
        shrunk = time.monotonic()
        traffic.wait_answers(shrunk)
        assert set(traffic.answers(since=scaled)) == {BLUE_1_0}

    print(f"\ntraffic through nginx during the cycle: {traffic.summary()}")
    assert traffic.failures == [], traffic.failures[:5]
    assert set(traffic.answers()) == {BLUE_1_0, GREEN_1_1}
    assert master_pid(files) == master  # every change was a reload, never a restart
