"""What the end-to-end tests share: a copy of examples/books-ms under its own project name
and free proxy ports, driven through flowgate's CLI in this process.

Imported by the test modules beside it (pytest puts this folder on sys.path). The project
is removed with `remove()` (HAProxy, containers, Swarm services, network) whatever state
a test left it in.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from flowgate.backends.proxy.haproxy_control import HAProxyFiles
from flowgate.cli.app import main
from flowgate.testing.network import free_port
from flowgate.testing.projects import remove_project
from flowgate.testing.traffic import version_and_color

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "books-ms"
BOOKS_PATH = "/api/v1/books"
USERS_PATH = "/api/v1/users"
BLUE_1_0, GREEN_1_1 = "1.0 (blue)", "1.1 (green)"
#: Variables that would point flowgate or its pytest plugin somewhere else than the project.
FOREIGN_ENV = (
    "DOCKER_HOST",
    "FLOW_TARGET",
    "FLOW_PROJECT",
    "FLOW_COMPOSE_PATH",
    "FLOWGATE_PLUGINS",
    "FLOWGATE_TESTS",
    "FLOWGATE_POST_TESTS",
    "FLOWGATE_TARGET",
    "FLOWGATE_COLOR",
    "FLOWGATE_PROJECT_DIR",
    "FLOWGATE_RESULT_FILE",
    "BOOKS_VERSION",
    "USERS_VERSION",
)


@contextlib.contextmanager
def clean_env() -> Iterator[None]:
    """No variable of the caller's shell points flowgate at another project."""
    with pytest.MonkeyPatch.context() as env:
        for name in FOREIGN_ENV:
            env.delenv(name, raising=False)
        yield


@dataclass
class BooksProject:
    folder: Path
    name: str
    public: int  # the proxy's public port
    preview: int  # the proxy's preview port
    path: str = BOOKS_PATH  # the service's route
    version_env: str = "BOOKS_VERSION"  # the variable naming the image tag to release

    @classmethod
    def create(
        cls, folder: Path, prefix: str, gate: bool = True, settings: str = ""
    ) -> BooksProject:
        """The example's settings through HAProxy, with ports and timings fit for a test;
        `gate` keeps its smoke suite as the gate, `settings` adds flowgate.yml lines. The
        shared HAProxy keeps its files beside the folder (`haproxy_dir`), not in the
        machine's own /var/lib/flowgate."""
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowgate", "images"))
        books = cls(folder, prefix + secrets.token_hex(3), free_port(), free_port())
        (folder / "flowgate.yml").write_text(
            f"target: app\nside_targets: [db]\nproject: {books.name}\n"
            f"service_path: [{BOOKS_PATH}]\nproxy: haproxy\n"
            f"proxy_port: {books.public}\npreview_port: {books.preview}\n"
            f"haproxy_dir: {books.haproxy_dir}\n"
            + ("tests: [tests/smoke]\n" if gate else "")
            + "health_timeout: 60\ndrain_timeout: 1\nstop_timeout: 2\n"
            + settings
        )
        return books

    @classmethod
    def create_users(
        cls, folder: Path, prefix: str, beside: BooksProject, settings: str = ""
    ) -> BooksProject:
        """examples/users-ms (no gate) on the same shared HAProxy as `beside`: same
        `haproxy_dir`, `proxy_port` and `preview_port`."""
        shutil.copytree(EXAMPLES / "users-ms", folder, ignore=shutil.ignore_patterns(".flowgate"))
        name = prefix + secrets.token_hex(3)
        users = cls(folder, name, beside.public, beside.preview, USERS_PATH, "USERS_VERSION")
        assert users.haproxy_dir == beside.haproxy_dir, "keep both projects in one folder"
        (folder / "flowgate.yml").write_text(
            f"target: app\nproject: {name}\nservice_path: [{USERS_PATH}]\nproxy: haproxy\n"
            f"proxy_port: {users.public}\npreview_port: {users.preview}\n"
            f"haproxy_dir: {users.haproxy_dir}\n"
            "health_timeout: 60\ndrain_timeout: 1\nstop_timeout: 2\n" + settings
        )
        return users

    @property
    def haproxy_dir(self) -> Path:
        return self.folder.parent / "haproxy"

    @property
    def haproxy_files(self) -> HAProxyFiles:
        return HAProxyFiles.for_port(self.haproxy_dir, self.public)

    @property
    def service(self) -> str:
        return f"{self.name}-app"

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.public}{self.path}"

    def invoke(self, *argv: str, version: str | None = None) -> tuple[int, str, str]:
        """`flowgate <argv> -C <folder>` in this process: (exit code, stdout, stderr);
        `version` is BOOKS_VERSION (USERS_VERSION), the image tag to release."""
        out, err = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as env:
            if version:
                env.setenv(self.version_env, version)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main([*argv, "-C", str(self.folder), "--no-color"])
        return code, out.getvalue(), err.getvalue()

    def cli(self, *argv: str, version: str | None = None) -> str:
        """Like `invoke`, for a verb that must succeed: its stdout."""
        code, out, err = self.invoke(*argv, version=version)
        assert code == 0, f"flowgate {' '.join(argv)} exited {code}: {err}"
        return out

    def data(self, *argv: str) -> Any:
        return json.loads(self.cli(*argv, "-o", "json"))

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self.data("status")
        return data

    def history(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.data("history")
        return data

    def answer(self, port: int | None = None) -> str:
        """What the proxy answers now on `port` (the public one by default): `1.0 (blue)`."""
        response = requests.get(self.url(port), timeout=5)
        assert response.status_code == 200, response.text
        return version_and_color(response.content)

    def remove(self) -> None:
        remove_project(self.name, self.folder)
