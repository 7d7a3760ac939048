"""Fixtures both runtime suites (docker, swarm) use: the service image and DeploySpecs.

Each suite defines its own `project` fixture (a unique name, removed afterwards) and its
own `runtime`; `make_spec` builds specs for whichever `project` the module has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runtime_checks import IMAGE, SpecMaker

from flowgate.backends.base import DeploySpec
from flowgate.config.compose import ServiceSpec
from flowgate.models import Color
from flowgate.testing.images import build_busybox_image

IMAGES_DIR = Path(__file__).parent / "images"


@pytest.fixture(scope="session")
def test_image(docker_client: Any) -> str:
    """The busybox service image, built once per session (the engine caches its layers)."""
    dockerfile = (IMAGES_DIR / "busybox" / "Dockerfile").read_text()
    return build_busybox_image(docker_client, IMAGE, dockerfile)


@pytest.fixture
def make_spec(project: str, test_image: str) -> SpecMaker:
    def make(
        color: Color = Color.BLUE, count: int = 1, timeout: float = 30.0, **service: Any
    ) -> DeploySpec:
        fields: dict[str, Any] = {"name": "app", "image": test_image, "ports": ["8080/tcp"]}
        fields.update(service)
        return DeploySpec(
            project=project,
            target="app",
            service=ServiceSpec(**fields),
            color=color,
            count=count,
            release_id="r-" + color,
            health_timeout=timeout,
        )

    return make
