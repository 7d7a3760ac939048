"""Markers for flowgate-nginx's tests, so they also run outside flowgate's own tree.

`nginx` tests need the nginx binary, `docker` ones a Docker engine. Without them the tests
skip locally; with FLOWGATE_REQUIRE_DOCKER=1 (flowgate's CI) a missing nginx fails them.
"""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nginx: needs the nginx binary")
    config.addinivalue_line("markers", "docker: needs a real Docker engine")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if shutil.which("nginx"):
        return
    required = os.environ.get("FLOWGATE_REQUIRE_DOCKER", "") not in ("", "0")
    for item in items:
        if item.get_closest_marker("nginx"):
            if required:
                item.add_marker(pytest.mark.usefixtures("_nginx_missing"))
            else:
                item.add_marker(pytest.mark.skip(reason="no nginx binary on PATH"))


@pytest.fixture
def _nginx_missing() -> None:
    pytest.fail("FLOWGATE_REQUIRE_DOCKER=1 but no nginx binary on PATH", pytrace=False)
