"""A test plugin: the fake runtime, whose instances report unhealthy for the next
`unhealthy_polls` reads (a number the test writes into the fake's state file)."""

from __future__ import annotations

import dataclasses

from flowgate import hookimpl
from flowgate.models import Color, Instance
from flowgate.testing.fakes import FakeRuntime


class SlowHealthRuntime(FakeRuntime):
    name = "fake-slow-health"

    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        found = super().instances(project, target, color)
        data = self.store.load()
        if data.get("unhealthy_polls", 0) > 0:
            data["unhealthy_polls"] -= 1
            self.store.save(data)
            return [dataclasses.replace(i, healthy=False) for i in found]
        return found


@hookimpl
def flowgate_backends() -> list[type[FakeRuntime]]:
    return [SlowHealthRuntime]
