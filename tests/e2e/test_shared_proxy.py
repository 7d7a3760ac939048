"""Two projects, one HAProxy: books-ms and users-ms released, scaled and rolled back
through one shared HAProxy under constant load on both, with zero failed requests for
either; a third project claiming users' path is refused before it changes anything; then
`flowgate down` of each: the first leaves the other serving, the last leaves no container,
network, route or HAProxy process behind.

Real Docker, real HAProxy, one recording client per service that never retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from books_project import BooksProject, clean_env

from flowgate.backends.proxy.haproxy_process import master_pid, pid_alive
from flowgate.testing.traffic import TrafficRecorder, version_and_color

pytestmark = [pytest.mark.docker, pytest.mark.haproxy]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[BooksProject, BooksProject]]:
    with clean_env():
        books = BooksProject.create(tmp_path / "books", "fgshb", gate=False)
        users = BooksProject.create_users(tmp_path / "users", "fgshu", beside=books)
        try:
            yield books, users
        finally:
            try:
                users.remove()
            finally:
                books.remove()


def containers_of(name: str) -> list[object]:
    import docker

    client = docker.from_env()
    try:
        return list(
            client.containers.list(all=True, filters={"label": f"io.flowgate.project={name}"})
        )
    finally:
        client.close()


def networks_of(name: str) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        return [n.name for n in client.networks.list(names=[f"{name}_"])]
    finally:
        client.close()


def test_two_services_share_one_haproxy_and_never_disturb_each_other(
    tmp_path: Path, pair: tuple[BooksProject, BooksProject]
) -> None:
    books, users = pair
    books.cli("release", version="1.0")
    users.cli("release", version="1.0")
    files = books.haproxy_files
    assert files == users.haproxy_files
    pid = master_pid(files)
    assert pid is not None
    assert books.answer() == "1.0 (blue)" and users.answer() == "1.0 (blue)"

    books_traffic = TrafficRecorder(books.url(), label=version_and_color)
    users_traffic = TrafficRecorder(users.url(), label=version_and_color)
    with books_traffic, users_traffic:
        books_traffic.wait_for("1.0 (blue)")
        users_traffic.wait_for("1.0 (blue)")

        books.cli("release", version="1.1")  # books switches; users must not notice
        users.cli("scale", "+1")
        users.cli("release", version="1.1")
        books.cli("scale", "+1")
        books.cli("rollback")
        users.cli("rollback")

        # Another project claiming users' path is refused before anything changes.
        intruder = BooksProject.create_users(tmp_path / "intruder", "fgshi", beside=books)
        code, _, err = intruder.invoke("release", version="1.1")
        assert code == 4, err
        assert f"route {users.path} is already claimed by {users.name}-app" in err
        assert f"{intruder.name}-app (project {intruder.name} in " in err
        assert containers_of(intruder.name) == []

        books_traffic.wait_for("1.0 (blue)")
        users_traffic.wait_for("1.0 (blue)")

    print(f"\nbooks through the shared HAProxy: {books_traffic.summary()}")
    print(f"users through the shared HAProxy: {users_traffic.summary()}")
    assert books_traffic.failures == [], books_traffic.failures[:5]
    assert users_traffic.failures == [], users_traffic.failures[:5]
    assert set(books_traffic.answers()) == {"1.0 (blue)", "1.1 (green)"}
    assert set(users_traffic.answers()) == {"1.0 (blue)", "1.1 (green)"}
    assert min(len(books_traffic.samples), len(users_traffic.samples)) > 200
    assert master_pid(files) == pid  # one HAProxy all along, never restarted
    assert (books.status()["scale"], users.status()["live_color"]) == (1, "blue")

    # down: users leaves, books keeps serving from the same HAProxy.
    assert "down: " in users.cli("down")
    assert containers_of(users.name) == [] and networks_of(users.name) == []
    assert books.answer() == "1.0 (blue)"
    assert requests.get(users.url(), timeout=5).status_code == 404
    assert master_pid(files) == pid
    assert users.history() == []  # state and history forgotten (no --keep-state)

    # The last one out: nothing of either project is left, HAProxy included.
    books.cli("down", "--keep-state")
    assert containers_of(books.name) == [] and networks_of(books.name) == []
    assert master_pid(files) is None and not pid_alive(pid)
    assert not files.routes.exists() and not files.config.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(books.url(), timeout=5)
    assert [r["kind"] for r in books.history()] == ["rollback", "release", "release"]  # kept
