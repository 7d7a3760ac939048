"""The two copies of books-ms the benchmark runs, and their clean-up.

`FlowgateProject`: the example in a temp dir, its own project name and free ports, no
gate suite (the figures are about the proxy switch, not about pytest), flowgate run as a
subprocess the way a user or CI runs it, with a plugin that timestamps every step.
`ComposeProject`: the same Compose service published on a fixed free host port and
recreated by `docker-compose up -d`, which is what a user without flowgate gets.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml
from figures import Step

from flowgate.testing.network import free_port
from flowgate.testing.projects import remove_labelled, remove_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "books-ms"
HERE = Path(__file__).resolve().parent
BOOKS_PATH = "/api/v1/books"


def find_flowgate() -> str:
    beside = Path(sys.executable).parent / "flowgate"
    if beside.is_file():
        return str(beside)
    found = shutil.which("flowgate")
    if found is None:
        sys.exit("zero_downtime: no `flowgate` command found: run scripts/setup.sh")
    return found


def wait_answering(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


def _clean_env() -> dict[str, str]:
    """The caller's environment minus flowgate's own settings, which would override the
    project's flowgate.yml."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("FLOW_", "FLOWGATE_", "BOOKS_"))
    }


class FlowgateProject:
    def __init__(self, workdir: Path, extra: dict[str, object] | None = None) -> None:
        self.dir = workdir / "books-ms"
        self.name = "fgzd" + secrets.token_hex(3)
        self.proxy_port = free_port()
        self.events = workdir / "events.jsonl"
        self.flowgate = find_flowgate()
        self.extra = extra or {}  # more flowgate.yml keys (runtime: swarm)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}{BOOKS_PATH}"

    def create(self) -> None:
        shutil.copytree(EXAMPLE, self.dir)
        settings = {
            "project": self.name,
            "target": "app",
            "side_targets": ["db"],
            "service_path": [BOOKS_PATH],
            "proxy": "haproxy",
            "proxy_port": self.proxy_port,
            "preview_port": free_port(),
            "health_timeout": 60,
            **self.extra,
        }
        (self.dir / "flowgate.yml").write_text(yaml.safe_dump(settings, sort_keys=False))

    def run(self, name: str, argv: list[str], version: str = "1.0") -> Step:
        """Run one flowgate command; the step knows when it ran and whether it worked."""
        env = {
            **_clean_env(),
            "BOOKS_VERSION": version,
            "FLOWGATE_PLUGINS": "zero_downtime_events",
            "ZERO_DOWNTIME_EVENTS": str(self.events),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        }
        called = time.monotonic()
        done = subprocess.run(
            [self.flowgate, "-C", str(self.dir), *argv, "-q"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        step = Step(name, called, time.monotonic(), ok=done.returncode == 0)
        if not step.ok:
            print(
                f"zero_downtime: `flowgate {' '.join(argv)}` exited {done.returncode}: "
                f"{done.stderr.strip()}",
                file=sys.stderr,
            )
        return step

    def cleanup(self) -> None:
        remove_project(self.name, self.dir)


class LocalCluster:
    """The 3-node swarm of e2e/local-cluster.sh (the one the test suite uses), with the
    example images copied to every node; `down` removes it, leftovers of a killed run
    included. Needs root; machine-global: run under the swarm lock where others share it."""

    script = ROOT / "e2e" / "local-cluster.sh"
    images = ("books-ms:1.0", "books-ms:1.1", "books-ms-db:1.0")

    def run(self, *argv: str) -> None:
        subprocess.run(["bash", str(self.script), *argv], check=True, timeout=300)

    def up(self) -> None:
        self.run("up", "2", *self.images)

    def down(self) -> None:
        self.run("down")


class ComposeProject:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "compose"
        self.name = "fgzdcompose" + secrets.token_hex(3)
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BOOKS_PATH}"

    def create(self) -> None:
        self.dir.mkdir()
        compose = yaml.safe_load((EXAMPLE / "docker-compose.yml").read_text())
        # A user without a proxy publishes the service on one fixed host port.
        compose["services"]["app"]["ports"] = [f"127.0.0.1:{self.port}:8080"]
        (self.dir / "docker-compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))

    def up(self, name: str, version: str) -> Step:
        called = time.monotonic()
        done = self._compose(["up", "-d"], version)
        step = Step(name, called, time.monotonic(), ok=done.returncode == 0)
        if not step.ok:
            print(f"zero_downtime: docker-compose up -d failed: {done.stderr}", file=sys.stderr)
        return step

    def _compose(self, argv: list[str], version: str = "1.0") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-p", self.name, *argv],
            cwd=self.dir,
            env={**_clean_env(), "BOOKS_VERSION": version},
            capture_output=True,
            text=True,
            check=False,
        )

    def cleanup(self) -> None:
        if (self.dir / "docker-compose.yml").exists():
            self._compose(["down", "--timeout", "2"])
        remove_labelled(f"com.docker.compose.project={self.name}", f"{self.name}_")


def cleaning_up(*cleanups: Callable[[], None]) -> None:
    """Run every clean-up even when one fails; report failures, never hide them."""
    for cleanup in cleanups:
        try:
            cleanup()
        except Exception as err:  # clean-up must go on to the next project
            print(f"zero_downtime: clean-up failed: {err!r}", file=sys.stderr)
