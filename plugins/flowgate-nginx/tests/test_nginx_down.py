"""`flowgate down` through the nginx backend: the project's routes go and, with its last
service, its nginx. flowgate's fake runtime stands in for Docker (no container needed:
this is about the proxy), loaded with FLOWGATE_PLUGINS like any test plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flowgate_nginx import stop_nginx
from flowgate_nginx.process import NginxFiles, master_pid

from flowgate.testing.network import free_port

pytestmark = pytest.mark.nginx
FLOWGATE = str(Path(sys.executable).parent / "flowgate")


def flowgate(folder: Path, *argv: str) -> str:
    env = {**os.environ, "FLOWGATE_PLUGINS": "flowgate.testing.fakes"}
    env.pop("DOCKER_HOST", None)
    done = subprocess.run(
        [FLOWGATE, *argv, "-C", str(folder), "--no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"flowgate {' '.join(argv)}: {done.stderr[-1500:]}"
    return done.stdout


def test_down_removes_the_routes_and_stops_nginx(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        'services:\n  app:\n    image: a:1\n    ports: ["8080"]\n'
    )
    (tmp_path / "flowgate.yml").write_text(
        "target: app\nruntime: fake\nproxy: nginx\nproject: ngxdown\n"
        f"proxy_port: {free_port()}\npreview_port: {free_port()}\nservice_path: [/api]\n"
    )
    files = NginxFiles.for_project(tmp_path)
    try:
        flowgate(tmp_path, "deploy")
        flowgate(tmp_path, "promote")
        assert master_pid(files) is not None
        assert "ngxdown-app__live" in files.config.read_text()
        flowgate(tmp_path, "down")
        assert master_pid(files) is None
        assert not files.config.exists()
        assert '"services": []' in files.routes.read_text()
    finally:
        stop_nginx(tmp_path)
