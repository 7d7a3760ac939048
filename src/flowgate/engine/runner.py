"""The release engine: deploy, test, promote, release, abort, rollback, scale, stop-old.

It calls the step hooks and saves state after every step; it never imports a backend.
Every public method takes the target's release lock first.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from flowgate.config.scale import ScaleSpec, resolve_count
from flowgate.engine.colors import last_release_of, previous_live_color
from flowgate.engine.context import ReleaseContext, holder_identity
from flowgate.engine.recorder import emit, finish, held_lock, run_step, save_release
from flowgate.engine.steps import deploy_spec, running
from flowgate.errors import (
    FlowgateError,
    GateFailed,
    Interrupted,
    ReleaseFailed,
    RollbackFailed,
    UsageError,
)
from flowgate.models import Color, Instance, Release, ReleaseState, TestResult

T = TypeVar("T")
log = logging.getLogger("flowgate")


def new_release_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)


#: Instance states of containers (docker) or tasks (swarm) that are not running.
STOPPED_STATES = frozenset({"exited", "shutdown", "dead"})


class Engine:
    def __init__(self, context: ReleaseContext) -> None:
        self.ctx = context
        self._next_release_id: str | None = None

    # -- plumbing -------------------------------------------------------------------------

    def _hook(self, name: str, **kwargs: Any) -> Any:
        result = getattr(self.ctx.pm.hook, name)(context=self.ctx, **kwargs)
        if result is None:
            raise FlowgateError(f"no plugin answered the {name} hook")
        return result

    def _step(
        self, name: str, action: Callable[[], T], cleanup: bool = False, note: str | None = None
    ) -> T:
        return run_step(self.ctx, name, action, cleanup, note)

    def _route(
        self,
        live: Color | None,
        preview: Color | None,
        live_limit: int | None = None,
        cleanup: bool = False,
        step: str = "reconfigure_proxy",
    ) -> None:
        """The proxy step: `live` on the public route, `preview` on the preview route."""
        note = f"live {live or '-'}, preview {preview or '-'}"
        if live_limit is not None:
            note += f", {live_limit} live servers"
        self._step(
            step,
            lambda: self._hook(
                "reconfigure_proxy", live_color=live, preview_color=preview, live_limit=live_limit
            ),
            cleanup,
            note,
        )

    def _save_state(self, **changes: Any) -> None:
        state = dataclasses.replace(self.ctx.state, **changes)
        self.ctx.state = self.ctx.registry.save_state(state)

    def _current_release(self) -> Release | None:
        wanted = self.ctx.state.release_id
        for release in self.ctx.registry.releases(self.ctx.service_name):
            if release.id == wanted:
                return release
        return None

    def _start_release(self, kind: str = "release") -> Release:
        """Record a new release and make it the state's current one before any step runs,
        so `status` shows it (running, failed or interrupted) from its start."""
        release_id, self._next_release_id = self._next_release_id or new_release_id(), None
        release = Release(
            id=release_id,
            service=self.ctx.service_name,
            target=self.ctx.target,
            images=[self.ctx.service.image or self.ctx.service.name],
            previous_color=self.ctx.state.live_color,
            kind=kind,
        )
        self.ctx.release = release
        save_release(self.ctx)
        self._save_state(release_id=release.id)
        return release

    @contextmanager
    def _operation(self, timeout: float | None = None, new_release: bool = False) -> Iterator[None]:
        """Hold the lock, recover from a dead predecessor, and record how it ended.

        The lock's holder names the release it works on: the one it is about to start
        (`new_release`), else the current one."""
        if timeout:
            self.ctx.deadline = time.monotonic() + timeout
        if new_release:
            self._next_release_id = new_release_id()
        working_on = self._next_release_id or self.ctx.state.release_id
        with held_lock(self.ctx, holder_identity(working_on)):
            self.ctx.state = self.ctx.registry.load_state(self.ctx.service_name)
            self._recover()
            try:
                yield
            except KeyboardInterrupt:
                release = self.ctx.release
                if release is not None and release.state is ReleaseState.RUNNING:
                    release.state = ReleaseState.INTERRUPTED
                    finish(self.ctx, release, "interrupted", f"interrupted in {release.step}")
                raise Interrupted(
                    "interrupted; state saved: see `flowgate status`, then `flowgate abort` "
                    "or `flowgate release`"
                ) from None
            except FlowgateError as err:
                release = self.ctx.release
                # A deployed release that a later verb failed on stays deployed (not ended).
                if (
                    release is not None
                    and release.ended is None
                    and release.state is not ReleaseState.DEPLOYED
                ):
                    if release.state is ReleaseState.RUNNING:
                        release.state = ReleaseState.FAILED
                    finish(self.ctx, release, release.state.value, str(err))
                raise

    def _recover(self) -> None:
        """A release still 'running' while we hold the lock belongs to a dead process:
        mark it interrupted and put the proxy back in line with the saved state."""
        last = self._current_release()
        if last is None or last.state is not ReleaseState.RUNNING:
            return
        last.state = ReleaseState.INTERRUPTED
        last.outcome, last.ended = "interrupted", last.ended or last.started
        last.error = f"the process running it stopped during {last.step}"
        self.ctx.registry.save_release(last)
        new = self.ctx.state.new_color
        preview = new if new and running(self.ctx, new) else None
        # The proxy first: a rollback that died after its switch but before saving the
        # state has the proxy on the color it was bringing back.
        self._hook(
            "reconfigure_proxy",
            live_color=self.ctx.state.live_color,
            preview_color=preview,
            live_limit=None,
        )
        if last.kind == "rollback" and last.color and last.color != self.ctx.state.live_color:
            # The color it was bringing back was stopped before: stop it again, once the
            # requests the proxy may have sent it are answered.
            self.ctx.proxy.wait_drained(
                self.ctx.service_name,
                list(running(self.ctx, last.color)),
                self.ctx.settings.drain_timeout,
            )
            self.ctx.registry.deregister_instances(self.ctx.service_name, last.color)
            self.ctx.runtime.stop(self.ctx.project, self.ctx.target, last.color)

    # -- deploy ---------------------------------------------------------------------------

    def _deploy(self, scale: ScaleSpec | None, keep_failed: bool = False) -> Release:
        replaced = self.ctx.state.release_id
        release = self._start_release()
        state = self.ctx.state
        try:
            color: Color = self._step("pick_color", lambda: self._hook("pick_color"))
            if color == state.live_color:
                raise FlowgateError(f"pick_color chose the live color {color}; refusing")
            # Before anything is live, Compose's `deploy.replicas` is the count to start from.
            current = state.scale if state.live_color else self.ctx.service.replicas
            release.instances = resolve_count(scale, current)
        except FlowgateError:
            if state.new_color is not None:
                # Nothing was touched: the deployed release before stays the current one,
                # with the gate it passed (this one is in the history, failed).
                self._save_state(release_id=replaced)
            raise
        release.color = color
        # Saved before the deploy starts, so a deploy that dies half-way still names its
        # color as the new one: `status` shows it and `abort` removes it.
        self._save_state(deployed_color=color)
        try:
            self._step("deploy", lambda: self._hook("deploy", color=color, count=release.instances))
        except FlowgateError:
            if not keep_failed:
                self._discard_failed_deploy(color, previewed=state.new_color == color)
            raise
        try:
            self._route(state.live_color, color)
        except FlowgateError:
            self._discard_new(color, touch_proxy=False)
            raise
        release.state = ReleaseState.DEPLOYED
        save_release(self.ctx)
        return release

    def deploy(self, scale: ScaleSpec | None = None, timeout: float | None = None) -> Release:
        with self._operation(timeout, new_release=True):
            return self._deploy(scale)

    def _discard_failed_deploy(self, color: Color, previewed: bool) -> None:
        """Remove what a failed deploy left; the error that failed it is what gets reported,
        and `deploy` stays the release's step in `status`.

        A deploy that failed before starting anything (a missing image, a failed build or
        side target) leaves only stopped containers there: the color kept for rollback.
        Those stay, and the release is recorded as having put nothing on the color, so
        `rollback` can still bring them back."""
        release = self.ctx.release
        failed_step = release.step if release else None
        try:
            found = self.ctx.runtime.instances(self.ctx.project, self.ctx.target, color)
            if previewed or any(i.state not in STOPPED_STATES for i in found):
                self._discard_new(color, touch_proxy=previewed)
            else:
                self._save_state(deployed_color=self.ctx.state.live_color)
                if release is not None:
                    release.color = None
        except FlowgateError as err:
            log.warning("could not remove the failed %s: %s", color, err)
        if release is not None:
            release.step = failed_step

    def _discard_new(self, color: Color, touch_proxy: bool = True) -> None:
        """Take an unpromoted color out of the preview route and remove it."""
        live = self.ctx.state.live_color
        if touch_proxy:
            self._route(live, None, cleanup=True)
        self.ctx.registry.deregister_instances(self.ctx.service_name, color)
        self.ctx.runtime.remove(self.ctx.project, self.ctx.target, color)
        self._save_state(deployed_color=live)

    # -- test gate ------------------------------------------------------------------------

    def _gate(self, suites: list[str], color: Color, kind: str) -> TestResult:
        step = "test" if kind == "gate" else "post_test"

        def run_suites() -> TestResult:
            result: TestResult = self._hook("run_gate", suites=suites, color=color, kind=kind)
            # Inside the step, so listeners know the verdict before the step's end event.
            emit(self.ctx, "tests-finished", **result.to_dict())
            return result

        # Post-tests run after the switch even past the deadline: with no time left pytest
        # is stopped at once, the suite counts as failed and the switch back follows.
        result = self._step(step, run_suites, cleanup=kind == "post")
        release = self.ctx.release
        if release is not None:
            if kind == "gate":
                release.tests = result
            else:
                release.post_tests = result
            save_release(self.ctx)
        return result

    def test(self, suites: list[str]) -> TestResult:
        with self._operation():
            new = self._require_new("test")
            self.ctx.release = self._current_release()
            result = self._gate(suites, new, "gate")
            if not result.ok:
                raise GateFailed(gate_message(result))
            return result

    def _require_new(self, verb: str) -> Color:
        new = self.ctx.state.new_color
        if new is None or not running(self.ctx, new):
            live = self.ctx.state.live_color
            raise UsageError(
                f"nothing to {verb}: no new color is deployed (live: {live or 'none'}); "
                "run `flowgate deploy` first"
            )
        return new

    # -- promote --------------------------------------------------------------------------

    def _promote(
        self, post_tests: list[str], keep_failed: bool, stop_old: bool = True
    ) -> Release | None:
        new = self._require_new("promote")
        old = self.ctx.state.live_color
        instances = list(running(self.ctx, new))
        unhealthy = [i.name for i in instances if not i.healthy]
        if unhealthy:
            raise ReleaseFailed(f"not promoting: {', '.join(unhealthy)} not healthy")
        self._route(new, None)
        self._save_state(live_color=new, deployed_color=new, scale=len(instances))
        release = self.ctx.release
        if post_tests:
            result = self._gate(post_tests, new, "post")
            if not result.ok:
                self._switch_back(new, old, keep_failed, result)
        if release is not None:
            release.state = ReleaseState.LIVE
        if old is not None and stop_old:
            # Live and verified: stopping the old color completes the release, deadline or not.
            self._step("stop_old", lambda: self._hook("stop_old", color=old), cleanup=True)
        if release is not None:
            finish(self.ctx, release, "succeeded")
        return release

    def _switch_back(
        self, new: Color, old: Color | None, keep_failed: bool, result: TestResult
    ) -> None:
        try:
            self._route(old, None, cleanup=True, step="switch_back")
        except FlowgateError as err:
            raise RollbackFailed(
                f"post-promotion tests failed and switching back to {old} failed: {err}; "
                f"the proxy still serves {new}: run `flowgate rollback`"
            ) from err
        # `new` stays the deployed color until it is gone, so `abort` finds it if removing
        # it fails; that failure is a warning: the switch back, the news, has happened.
        self._save_state(
            live_color=old,
            deployed_color=new,
            scale=len(running(self.ctx, old)) if old else None,
        )
        if not keep_failed:
            try:
                # Requests the new color took while live must finish before it is removed.
                self.ctx.proxy.wait_drained(
                    self.ctx.service_name,
                    list(running(self.ctx, new)),
                    self.ctx.settings.drain_timeout,
                )
                self.ctx.registry.deregister_instances(self.ctx.service_name, new)
                self.ctx.runtime.remove(self.ctx.project, self.ctx.target, new)
                self._save_state(deployed_color=old)
            except FlowgateError as err:
                log.warning("could not remove %s (`flowgate abort` removes it): %s", new, err)
        if self.ctx.release is not None:
            self.ctx.release.state = ReleaseState.ROLLED_BACK
        raise ReleaseFailed(
            f"{gate_message(result, 'post-promotion tests')}; switched back to {old or 'no color'}"
        )

    def promote(
        self,
        skip_tests: bool = False,
        post_tests: list[str] | None = None,
        keep_failed: bool = False,
        stop_old: bool = True,
    ) -> Release | None:
        with self._operation():
            release = self._current_release()
            self.ctx.release = release
            self._require_new("promote")
            suites = self.ctx.settings.tests
            passed = release is not None and release.tests is not None and release.tests.ok
            if suites and not passed and not skip_tests:
                raise UsageError(
                    "the test gate has not passed for this release: run `flowgate test` "
                    "or promote with --skip-tests"
                )
            return self._promote(post_tests or [], keep_failed, stop_old)

    # -- release --------------------------------------------------------------------------

    def release(
        self,
        suites: list[str],
        post_tests: list[str],
        scale: ScaleSpec | None = None,
        keep_failed: bool = False,
        timeout: float | None = None,
    ) -> Release | None:
        with self._operation(timeout, new_release=True):
            release = self._deploy(scale, keep_failed)
            release.state = ReleaseState.RUNNING
            color = release.color
            assert color is not None
            try:
                if suites:
                    result = self._gate(suites, color, "gate")
                    if not result.ok:
                        release.state = ReleaseState.GATE_FAILED
                        raise GateFailed(gate_message(result))
                return self._promote(post_tests, keep_failed)
            except FlowgateError:
                # Whatever stopped it before the switch (a closed gate, the deadline, an
                # unhealthy instance, a failed switch), a release leaves no color deployed.
                if not keep_failed and self.ctx.state.new_color == color:
                    try:
                        self._discard_new(color)
                    except FlowgateError as err:
                        log.warning("could not remove the failed %s: %s", color, err)
                raise

    def abort(self) -> Release | None:
        with self._operation():
            new = self.ctx.state.new_color
            if new is None:
                return None
            self.ctx.release = self._current_release()
            self._discard_new(new)
            if self.ctx.release is not None:
                self.ctx.release.state = ReleaseState.ABORTED
                finish(self.ctx, self.ctx.release, "aborted")
            return self.ctx.release

    # -- rollback, scale, stop-old ---------------------------------------------------------

    def _previous_live(self, verb: str) -> Color:
        """The color `verb` may act on: the not-live one, only if it was live before.

        Every refusal is a precondition of the user's request that cannot be met, so it
        is a usage error (exit 2), like "nothing to promote"; nothing has changed."""
        live = self.ctx.state.live_color
        if live is None:
            raise UsageError(f"nothing to {verb}: nothing is live yet")
        other = live.other
        if self.ctx.state.new_color == other:
            raise UsageError(
                f"cannot {verb}: {other} holds an unpromoted deploy (release "
                f"{self.ctx.state.release_id}), not a color that was live: `flowgate abort` "
                "removes it, `flowgate promote` makes it live"
            )
        releases = self.ctx.registry.releases(self.ctx.service_name)
        if previous_live_color(self.ctx.state, releases) != other:
            last = last_release_of(other, releases)
            if last is None:
                raise UsageError(f"nothing to {verb}: {other} never held a release")
            raise UsageError(
                f"cannot {verb}: the last release on {other} ({last.id}, {last.state}) was "
                "never live; only a color that was live before can be stopped as old or "
                "rolled back to"
            )
        return other

    def rollback(self, timeout: float | None = None) -> Release:
        with self._operation(timeout, new_release=True):
            live = self.ctx.state.live_color
            previous = self._previous_live("roll back")
            kept = self.ctx.runtime.instances(self.ctx.project, self.ctx.target, previous)
            if not kept:
                raise UsageError(f"cannot roll back: {previous} has no instances left")
            release = self._start_release(kind="rollback")
            release.color, release.instances = previous, len(kept)
            spec = deploy_spec(self.ctx, previous, len(kept))
            try:
                self._step("start", lambda: self.ctx.runtime.start(spec))
                self._route(previous, None)
            except FlowgateError as err:
                # A failed proxy apply keeps the old routing, so `live` still serves.
                try:
                    self.ctx.runtime.stop(self.ctx.project, self.ctx.target, previous)
                except FlowgateError as stop_err:
                    log.warning("could not stop %s again: %s", previous, stop_err)
                raise RollbackFailed(
                    f"rollback to {previous} failed: {err}; {live} still serves "
                    "(`flowgate status` shows both colors)"
                ) from err
            self._save_state(
                live_color=previous,
                deployed_color=previous,
                scale=len(running(self.ctx, previous)),
                release_id=release.id,
            )
            release.state = ReleaseState.LIVE
            # Switched: stopping the other color completes the rollback, deadline or not.
            self._step("stop_old", lambda: self._hook("stop_old", color=live), cleanup=True)
            finish(self.ctx, release, "succeeded")
            return release

    def scale(self, spec: ScaleSpec) -> list[Instance]:
        with self._operation():
            live = self.ctx.state.live_color
            if live is None:
                raise UsageError("nothing is live yet: promote a release before scaling")
            current = self.ctx.state.scale or len(running(self.ctx, live)) or 1
            count = spec.apply(current)
            preview = self.ctx.state.new_color
            if count < current:
                # Out of the proxy first, then stopped: no request reaches a dying instance.
                self._route(live, preview, live_limit=count)
            instances: list[Instance] = self._step(
                "scale", lambda: self._hook("scale", color=live, count=count)
            )
            self._route(live, preview)
            self._save_state(scale=count)
            return instances

    def stop_old(self) -> Color | None:
        with self._operation():
            live = self.ctx.state.live_color
            if live is None:
                raise UsageError("nothing is live yet, so no color is old")
            if not running(self.ctx, live.other):
                return None
            old = self._previous_live("stop the old color")
            self._step("stop_old", lambda: self._hook("stop_old", color=old), cleanup=True)
            return old


#: Why pytest stopped, by its exit code (-1 is the gate's own: killed at the deadline).
_PYTEST_EXITS = {
    -1: "the tests did not finish before the release timed out",
    2: "pytest could not collect the tests (exit 2)",
    3: "pytest hit an internal error (exit 3); see its output",
    4: "pytest usage error (exit 4): a suite path does not exist or --pytest-args is wrong; "
    "see its output",
    5: "no tests were collected",
}


def gate_message(result: TestResult, what: str = "test gate") -> str:
    """One line saying why the gate closed, with the first failed test ids."""
    ids = ", ".join(result.failed_ids[:3]) + (" ..." if len(result.failed_ids) > 3 else "")
    detail = f": {ids}" if ids else ""
    code = result.exit_code
    if code in _PYTEST_EXITS:
        return f"{what} failed: {_PYTEST_EXITS[code]}{detail}"
    failed = result.failed + result.errors
    if code == 1 or failed:
        return f"{what} failed ({failed} failed, {result.passed} passed){detail}"
    return f"{what} failed: pytest exited {code}{detail}"
