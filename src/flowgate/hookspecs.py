"""Every hook flowgate calls, grouped: registration, release steps, gate, events.

Hooks are called with keyword arguments only; an implementation may accept fewer
arguments than the spec lists. Each hook has a section in docs/plugins.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from flowgate.backends.base import Backend
    from flowgate.config.keys import Key
    from flowgate.engine.context import ReleaseContext
    from flowgate.models import Color, Instance, TestResult

hookspec = pluggy.HookspecMarker("flowgate")

# -- registration -----------------------------------------------------------------------


@hookspec
def flowgate_backends() -> list[type[Backend]]:  # type: ignore[empty-body]
    """Return backend classes (runtimes, proxies, registries) this plugin provides.

    Called once when the plugin manager is built. Each class has a `kind`
    ("runtime", "proxy" or "registry") and a `name`, the value users put in
    `runtime:`, `proxy:` or `registry:`. Two classes of one kind with one name are an error.
    """


@hookspec
def flowgate_config_keys() -> list[Key]:  # type: ignore[empty-body]
    """Return extra configuration keys (`flowgate.yml` key and `FLOWGATE_<NAME>` variable).

    Called before configuration is loaded, so the keys are validated like built-in ones.
    Backends' own `config_keys` are added automatically; use this for keys of plugins that
    are not backends.
    """


# -- release steps ------------------------------------------------------------------------


@hookspec(firstresult=True)
def pick_color(context: ReleaseContext) -> Color:  # type: ignore[empty-body]
    """Choose the color the new release is deployed to. First non-None result wins.

    The built-in returns the color that is not live (blue for a first deploy).
    """


@hookspec(firstresult=True)
def deploy(context: ReleaseContext, color: Color, count: int) -> list[Instance]:  # type: ignore[empty-body]
    """Start `count` instances of the target in `color`, healthy, and return them.

    First non-None result wins. The built-in starts the side targets when they are not
    running, then calls the runtime backend's `deploy`. Must never touch the live color.
    """


@hookspec(firstresult=True)
def scale(context: ReleaseContext, color: Color, count: int) -> list[Instance]:  # type: ignore[empty-body]
    """Bring `color` to `count` healthy instances and return them. First non-None wins.

    The built-in calls the runtime backend's `scale`.
    """


@hookspec(firstresult=True)
def reconfigure_proxy(  # type: ignore[empty-body]
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None,
) -> bool:
    """Point the proxy's public route at `live_color` and its preview route at
    `preview_color` (either may be None). First non-None result wins.

    `live_limit`, when not None, serves only that many live instances (the lowest
    indexes): scaling down takes instances out of the proxy before stopping them.

    The built-in builds a Route from the runtime's instances and calls the proxy
    backend's `apply`; it returns True (also with `proxy: none`, where it changes nothing).
    """


@hookspec(firstresult=True)
def stop_old(context: ReleaseContext, color: Color) -> bool:  # type: ignore[empty-body]
    """Stop `color` (the one that is no longer live) but keep it for a rollback.

    First non-None result wins. The built-in waits `drain_timeout` for connections to
    drain, deregisters the instances and calls the runtime backend's `stop`.
    """


# -- test gate ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def run_gate(  # type: ignore[empty-body]
    context: ReleaseContext, suites: list[str], color: Color, kind: str
) -> TestResult:
    """Run test suites against `color` and return their result. First non-None wins.

    `kind` is "gate" (before promotion, against the preview route) or "post" (after the
    switch, against the live route). The built-in runs pytest in a separate process with
    the flowgate pytest plugin pointed at the color and reads its JUnit report.
    """


# -- events -------------------------------------------------------------------------------


@hookspec
def release_event(context: ReleaseContext, event: str, data: dict[str, Any]) -> None:
    """Called for every step start and end and every release outcome; all plugins run.

    `event` is one of "step-started", "step-finished", "step-failed", "tests-finished",
    "release-finished". `data` holds the step name, a note on what the step does (the proxy
    step's colors), duration in seconds, outcome and error text where they apply; for
    "tests-finished", the suite's result (`TestResult` as a dict: kind, counts, failed_ids,
    report). Use it for notifications; exceptions raised here are reported, not fatal.
    """
