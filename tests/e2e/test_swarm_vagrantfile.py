"""e2e/Vagrantfile cannot boot here (no VM provider), so: its Ruby parses, and every
provisioning script it names exists and is one the local cluster runs too, or is named."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[2] / "e2e"


def test_the_vagrantfile_is_valid_ruby() -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.fail("no ruby: scripts/setup.sh installs it", pytrace=False)
    done = subprocess.run([ruby, "-c", str(E2E / "Vagrantfile")], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "Syntax OK"), done.stderr


def test_the_vagrant_swarm_is_provisioned_by_the_local_clusters_scripts() -> None:
    vagrantfile = (E2E / "Vagrantfile").read_text()
    named = set(re.findall(r'path: "(provision/[\w.-]+\.sh)"', vagrantfile))
    assert {"provision/swarm-manager.sh", "provision/swarm-node.sh"} <= named
    assert all((E2E / path).is_file() for path in named), named
    local = (E2E / "local-cluster.sh").read_text()
    assert "provision/swarm-manager.sh" in local and "provision/swarm-node.sh" in local


def test_local_cluster_refuses_a_bad_worker_count_before_touching_anything() -> None:
    done = subprocess.run(
        ["bash", str(E2E / "local-cluster.sh"), "up", "0"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "local-cluster: up: WORKERS must be 1-8, got 0"
