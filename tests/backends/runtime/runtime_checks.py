"""Small checks both runtime suites use (imported from the test modules beside it)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from flowgate.backends.base import DeploySpec
from flowgate.models import Instance

IMAGE = "flowgate-test-runtime:1"  # built by the `test_image` fixture
SpecMaker = Callable[..., DeploySpec]


def http_get(address: str, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
        body: bytes = response.read()
    return body.decode().strip()


def ids(instances: list[Instance]) -> list[str]:
    return [instance.id for instance in instances]
