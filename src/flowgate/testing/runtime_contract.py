"""The contract every runtime backend keeps, as tests a runtime's own suite inherits.

flowgate runs it against the `docker`, `swarm` and `fake` runtimes; a third-party runtime
runs it against itself::

    from flowgate.testing.runtime_contract import RuntimeContract

    class TestMyRuntime(RuntimeContract):
        @pytest.fixture
        def runtime(self) -> Runtime: ...          # the backend under test

        @pytest.fixture
        def make_spec(self) -> SpecMaker: ...      # (color, count) -> a DeploySpec that works

        @pytest.fixture
        def failing_spec(self) -> SpecMaker: ...   # (color, count) -> one whose deploy fails

        def reachable(self, instance: Instance) -> bool: ...  # optional: does it answer?

All specs a test makes share one project and target (those of `make_spec`'s specs), which
the fixtures must clean up afterwards. The tests follow the `Runtime` docstrings in
flowgate.backends.base: deploy replaces a color and never touches the other, instances
are ordered by index, scaling keeps the lowest indexes, stop keeps instances for start,
remove removes only that color, a failed deploy raises ReleaseFailed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowgate.backends.base import DeploySpec, Runtime
from flowgate.errors import ReleaseFailed
from flowgate.models import Color, Instance

SpecMaker = Callable[..., DeploySpec]
BLUE, GREEN = Color.BLUE, Color.GREEN

__all__ = ["RuntimeContract", "SpecMaker"]


def _ids(instances: list[Instance]) -> list[str]:
    return [instance.id or instance.name for instance in instances]


class RuntimeContract:
    """Inherit it in a class named `Test...` and provide the fixtures listed above."""

    def reachable(self, instance: Instance) -> bool:
        """Whether `instance` answers at its address; override to really ask it."""
        return True

    def listed(self, runtime: Runtime, spec: DeploySpec, color: Color) -> list[Instance]:
        return runtime.instances(spec.project, spec.target, color)

    def assert_serving(self, instances: list[Instance], color: Color, count: int) -> None:
        assert len(instances) == count
        assert all(i.running and i.healthy for i in instances), instances
        assert all(i.color in (None, color) for i in instances), instances
        assert len({i.name for i in instances}) == count
        assert len({i.address for i in instances}) == count
        assert all(i.address for i in instances)
        assert all(self.reachable(i) for i in instances)

    def test_a_color_never_deployed_has_no_instances(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        spec = make_spec(BLUE, 1)
        assert self.listed(runtime, spec, BLUE) == []
        assert self.listed(runtime, spec, GREEN) == []

    def test_deploy_returns_count_healthy_instances_and_lists_them_by_index(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        spec = make_spec(BLUE, 3)
        deployed = runtime.deploy(spec)
        self.assert_serving(deployed, BLUE, 3)
        assert self.listed(runtime, spec, BLUE) == deployed

    def test_deploying_one_color_never_touches_the_other(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        blue = runtime.deploy(make_spec(BLUE, 2))
        green = runtime.deploy(make_spec(GREEN, 1))
        self.assert_serving(green, GREEN, 1)
        spec = make_spec(BLUE, 2)
        assert _ids(self.listed(runtime, spec, BLUE)) == _ids(blue)
        self.assert_serving(self.listed(runtime, spec, BLUE), BLUE, 2)

    def test_deploying_a_color_again_replaces_its_instances(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        blue = runtime.deploy(make_spec(BLUE, 1))
        first = runtime.deploy(make_spec(GREEN, 2))
        second = runtime.deploy(make_spec(GREEN, 1))
        assert not set(_ids(first)) & set(_ids(second))
        spec = make_spec(GREEN, 1)
        assert _ids(self.listed(runtime, spec, GREEN)) == _ids(second)
        assert _ids(self.listed(runtime, spec, BLUE)) == _ids(blue)

    def test_scaling_adds_instances_and_removes_the_highest_indexes(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        [first] = runtime.deploy(make_spec(BLUE, 1))
        up = runtime.scale(make_spec(BLUE, 3))
        self.assert_serving(up, BLUE, 3)
        assert _ids(up)[0] == _ids([first])[0]
        down = runtime.scale(make_spec(BLUE, 2))
        assert _ids(down) == _ids(up)[:2]
        assert self.listed(runtime, make_spec(BLUE, 2), BLUE) == down
        assert self.listed(runtime, make_spec(GREEN, 1), GREEN) == []

    def test_stop_keeps_the_instances_and_start_brings_them_back(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        spec = make_spec(BLUE, 2)
        deployed = runtime.deploy(spec)
        green = runtime.deploy(make_spec(GREEN, 1))
        runtime.stop(spec.project, spec.target, BLUE)
        stopped = self.listed(runtime, spec, BLUE)
        assert [i.name for i in stopped] == [i.name for i in deployed]
        assert [(i.running, i.healthy, i.address) for i in stopped] == [(False, False, "")] * 2
        assert _ids(self.listed(runtime, spec, GREEN)) == _ids(green)
        back = runtime.start(make_spec(BLUE, 2))
        self.assert_serving(back, BLUE, 2)
        assert [i.name for i in back] == [i.name for i in deployed]

    def test_start_without_instances_fails(self, runtime: Runtime, make_spec: SpecMaker) -> None:
        with pytest.raises(ReleaseFailed):
            runtime.start(make_spec(GREEN, 1))

    def test_remove_removes_only_that_color(self, runtime: Runtime, make_spec: SpecMaker) -> None:
        spec = make_spec(BLUE, 2)
        runtime.deploy(spec)
        green = runtime.deploy(make_spec(GREEN, 1))
        runtime.remove(spec.project, spec.target, BLUE)
        assert self.listed(runtime, spec, BLUE) == []
        assert _ids(self.listed(runtime, spec, GREEN)) == _ids(green)

    def test_stop_and_remove_of_an_absent_color_change_nothing(
        self, runtime: Runtime, make_spec: SpecMaker
    ) -> None:
        """Every step is idempotent: a retried abort or stop-old must not fail."""
        spec = make_spec(BLUE, 1)
        blue = runtime.deploy(spec)
        runtime.stop(spec.project, spec.target, GREEN)
        runtime.remove(spec.project, spec.target, GREEN)
        runtime.remove(spec.project, spec.target, GREEN)
        assert self.listed(runtime, spec, GREEN) == []
        assert _ids(self.listed(runtime, spec, BLUE)) == _ids(blue)

    def test_a_failed_deploy_raises_and_leaves_the_other_color_serving(
        self, runtime: Runtime, make_spec: SpecMaker, failing_spec: SpecMaker
    ) -> None:
        blue = runtime.deploy(make_spec(BLUE, 1))
        spec = failing_spec(GREEN, 2)
        with pytest.raises(ReleaseFailed):
            runtime.deploy(spec)
        assert not any(i.running for i in self.listed(runtime, spec, GREEN))
        assert _ids(self.listed(runtime, spec, BLUE)) == _ids(blue)
        self.assert_serving(self.listed(runtime, spec, BLUE), BLUE, 1)
