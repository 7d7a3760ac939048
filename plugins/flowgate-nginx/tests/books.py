"""The books-ms example (examples/books-ms of flowgate's repository) as a project released
through nginx, driven by a `flowgate` executable in a subprocess, as a user would.

Imported by the test modules beside it. `remove()` stops the project's nginx and removes
its containers and network whatever state a test left them in.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flowgate_nginx import stop_nginx

from flowgate.testing.network import free_port
from flowgate.testing.projects import remove_project
from flowgate.testing.traffic import version_and_color

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "books-ms"
BOOKS_PATH = "/api/v1/books"
BLUE_1_0, GREEN_1_1 = "1.0 (blue)", "1.1 (green)"
#: Variables of the caller's shell that would point flowgate somewhere else.
FOREIGN_ENV = ("DOCKER_HOST", "FLOWGATE_PLUGINS", "BOOKS_VERSION")


@dataclass
class Books:
    folder: Path
    name: str
    public: int
    preview: int
    flowgate: str  # the `flowgate` executable to run

    @classmethod
    def create(cls, folder: Path, flowgate: str, gate: bool = True) -> Books:
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowgate", "images"))
        books = cls(folder, "fgngx" + secrets.token_hex(3), free_port(), free_port(), flowgate)
        (folder / "flowgate.yml").write_text(
            f"target: app\nside_targets: [db]\nproject: {books.name}\n"
            f"service_path: [{BOOKS_PATH}]\nproxy: nginx\n"
            f"proxy_port: {books.public}\npreview_port: {books.preview}\n"
            + ("tests: [tests/smoke]\n" if gate else "")
            + "health_timeout: 60\ndrain_timeout: 1\nstop_timeout: 2\n"
        )
        return books

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.public}{BOOKS_PATH}"

    def run(self, *argv: str, version: str = "1.0") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
        env["BOOKS_VERSION"] = version
        return subprocess.run(
            [self.flowgate, *argv, "-C", str(self.folder), "--no-color"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def cli(self, *argv: str, version: str = "1.0") -> str:
        done = self.run(*argv, version=version)
        assert done.returncode == 0, (
            f"flowgate {' '.join(argv)} exited {done.returncode}: " + (done.stderr[-2000:])
        )
        return done.stdout

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.cli("status", "-o", "json"))
        return data

    def answer(self, port: int | None = None) -> str:
        response = requests.get(self.url(port), timeout=5)
        assert response.status_code == 200, response.text
        return version_and_color(response.content)

    def remove(self) -> None:
        stop_nginx(self.folder)
        remove_project(self.name)
