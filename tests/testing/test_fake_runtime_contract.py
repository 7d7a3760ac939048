"""The fake runtime keeps the runtime contract, so engine tests on it mean something."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowgate.backends.base import DeploySpec, Runtime
from flowgate.config.compose import ServiceSpec
from flowgate.config.settings import load_settings
from flowgate.models import Color
from flowgate.testing.fakes import FakeRuntime, fake_state
from flowgate.testing.runtime_contract import RuntimeContract, SpecMaker


class TestFakeRuntime(RuntimeContract):
    @pytest.fixture
    def runtime(self, tmp_path: Path) -> Runtime:
        return FakeRuntime(load_settings(tmp_path, flags={"project": "fake"}, env={}))

    @pytest.fixture
    def make_spec(self) -> SpecMaker:
        def make(color: Color, count: int) -> DeploySpec:
            service = ServiceSpec(name="app", image="books-ms:1.0", ports=["8080/tcp"])
            return DeploySpec("fake", "app", service, color, count, f"r-{color}", 5.0)

        return make

    @pytest.fixture
    def failing_spec(self, tmp_path: Path, make_spec: SpecMaker) -> SpecMaker:
        def make(color: Color, count: int) -> DeploySpec:
            store = fake_state(tmp_path, "runtime")
            store.save({**store.load(), "fail_deploy": True})
            return make_spec(color, count)

        return make
