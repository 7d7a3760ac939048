"""The engine's entry point for the CLI and the pytest plugin: one method per verb.

Each verb lives in its own module under engine/verbs/; this class only binds them to a
context. Every verb takes the target's release lock first (engine/operation.py).
"""

from __future__ import annotations

from flowgate.config.scale import ScaleSpec
from flowgate.engine.context import ReleaseContext
from flowgate.engine.verbs import (
    abort,
    deploy,
    promote,
    recover,
    release,
    rollback,
    scale,
    stop_old,
    test,
)
from flowgate.engine.verbs.test import gate_message
from flowgate.models import Color, Instance, Release, TestResult

__all__ = ["Engine", "gate_message"]


class Engine:
    def __init__(self, context: ReleaseContext) -> None:
        self.ctx = context

    def deploy(self, scale: ScaleSpec | None = None, timeout: float | None = None) -> Release:
        return deploy.deploy(self.ctx, scale, timeout)

    def test(self, suites: list[str]) -> TestResult:
        return test.test(self.ctx, suites)

    def promote(
        self,
        skip_tests: bool = False,
        post_tests: list[str] | None = None,
        keep_failed: bool = False,
        stop_old: bool = True,
    ) -> Release | None:
        return promote.promote(self.ctx, skip_tests, post_tests, keep_failed, stop_old)

    def release(
        self,
        suites: list[str],
        post_tests: list[str],
        scale: ScaleSpec | None = None,
        keep_failed: bool = False,
        timeout: float | None = None,
    ) -> Release | None:
        return release.release(self.ctx, suites, post_tests, scale, keep_failed, timeout)

    def abort(self) -> Release | None:
        return abort.abort(self.ctx)

    def rollback(self, timeout: float | None = None, to: str | None = None) -> Release:
        return rollback.rollback(self.ctx, timeout, to)

    def scale(self, spec: ScaleSpec) -> list[Instance]:
        return scale.scale(self.ctx, spec)

    def stop_old(self) -> Color | None:
        return stop_old.stop_old(self.ctx)

    def recover(self) -> Release | None:
        """Only what every verb does first: recover a release a dead process left running
        (engine/states.py). Returns that release, or None when nothing needed it."""
        return recover.recover_only(self.ctx)
