"""Suite-wide pytest set-up: markers, and the switch that makes a missing engine fatal in CI.

Tests that need a real Docker engine or HAProxy are marked `docker` / `haproxy`. Locally,
without the engine, they skip with the reason. With FLOWGATE_REQUIRE_DOCKER=1 (set by
scripts/test.sh, which CI runs) a missing engine or HAProxy is an error instead: a skipped
end-to-end test proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MARKERS = {
    "docker": "needs a real Docker engine",
    "haproxy": "needs the haproxy binary",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _required() -> bool:
    return os.environ.get("FLOWGATE_REQUIRE_DOCKER", "") not in ("", "0")


def _docker_problem() -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as err:  # any failure means "no usable engine"; the reason is shown
        return f"no Docker engine: {err}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_docker = any(item.get_closest_marker("docker") for item in items)
    needs_haproxy = any(item.get_closest_marker("haproxy") for item in items)
    problems = {
        "docker": _docker_problem() if needs_docker else None,
        "haproxy": None if not needs_haproxy or shutil.which("haproxy") else "no haproxy binary",
    }
    for item in items:
        for marker, problem in problems.items():
            if problem and item.get_closest_marker(marker):
                if _required():
                    item.add_marker(pytest.mark.usefixtures("_flowgate_missing_" + marker))
                else:
                    item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """One Docker SDK client for the session (tests marked `docker` only)."""
    import docker

    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="module")
def swarm(docker_client: Any) -> Iterator[bool]:
    """A single-node Swarm for the module, made by e2e/provision/swarm-manager.sh (the
    script the Vagrant walkthrough provisions its manager with); yields whether it was made
    here. An engine already in a swarm stays in it; one made here leaves it again."""
    script = Path(__file__).resolve().parent / "e2e" / "provision" / "swarm-manager.sh"
    made = subprocess.run(
        ["bash", str(script), "127.0.0.1"], check=True, capture_output=True, text=True
    )
    created = made.stdout.strip() == "created"
    yield created
    if created:
        subprocess.run(["docker", "swarm", "leave", "--force"], check=False, capture_output=True)


class SwarmCluster:
    """The 3-node swarm `e2e/local-cluster.sh` builds: this engine as manager, workers
    1 and 2 each a dockerd in its own network namespace (10.201.0.11, .12)."""

    script = Path(__file__).resolve().parent / "e2e" / "local-cluster.sh"
    manager = "10.201.0.1"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, *argv: str) -> str:
        done = subprocess.run(
            ["bash", str(self.script), *argv], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"local-cluster.sh {' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def address(self, worker: int) -> str:
        return f"10.201.0.{10 + worker}"

    def worker_of(self, address: str) -> int:
        """Which worker has that node address (0: the manager)."""
        return 0 if address == self.manager else int(address.rsplit(".", 1)[1]) - 10

    def engine(self, worker: int) -> Any:
        """A Docker SDK client of a worker's own engine."""
        import docker

        return docker.DockerClient(base_url=self.run("socket", str(worker)), timeout=30)

    def fail(self, worker: int) -> None:
        """Take the worker's link down: a real node failure, no `swarm leave`."""
        self.run("fail", str(worker))

    def heal(self, worker: int) -> None:
        self.run("heal", str(worker))


#: What the cluster tests release; copied from this engine to every worker (no registry).
CLUSTER_IMAGES = ("books-ms:1.0", "books-ms:1.1", "books-ms:1.2", "books-ms-db:1.0")


@pytest.fixture(scope="module")
def swarm_cluster(docker_client: Any) -> Iterator[SwarmCluster]:
    """A real 3-node swarm, built by e2e/local-cluster.sh (the script e2e/ and bench/ use
    too) with the example images on every node, and removed again after the module (one
    module uses it: one cluster per session), also when a test failed; a killed run's
    leftovers are removed by the next `up`. Module-scoped so that the single-node `swarm`
    fixture of later modules finds the engine as it was. Swarm membership is
    machine-global: run such tests under `flock /work/coord/swarm.lock` where others
    share the machine."""
    cluster = SwarmCluster(workers=2)
    try:
        cluster.run("up", str(cluster.workers), *CLUSTER_IMAGES)
        yield cluster
    finally:
        cluster.run("down")


@pytest.fixture
def _flowgate_missing_docker() -> None:
    pytest.fail(f"FLOWGATE_REQUIRE_DOCKER=1 but {_docker_problem()}", pytrace=False)


@pytest.fixture
def _flowgate_missing_haproxy() -> None:
    pytest.fail("FLOWGATE_REQUIRE_DOCKER=1 but no haproxy binary on PATH", pytrace=False)
