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

    The built-in calls the runtime backend's `scale` and registers the instances with the
    registry.
    """


@hookspec(firstresult=True)
def reconfigure_proxy(  # type: ignore[empty-body]
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None,
    live: list[Instance],
    preview: list[Instance],
) -> bool:
    """Point the proxy's public route at `live_color` and its preview route at
    `preview_color` (either may be None). First non-None result wins.

    `live` and `preview` are those colors' running instances as the engine knows them:
    what the `deploy`, `scale` or `start` hook returned in this verb, else what the
    `instances` hook answers. `live_limit`, when not None, serves only that many live
    instances (the lowest indexes): scaling down takes instances out of the proxy before
    stopping them.

    The built-in builds a Route from `live` and `preview` and calls the proxy backend's
    `apply`; it returns True (also with `proxy: none`, where it changes nothing).
    """


@hookspec(firstresult=True)
def stop_old(context: ReleaseContext, color: Color) -> bool:  # type: ignore[empty-body]
    """Stop `color` (the one that is no longer live) but keep it for a rollback.

    First non-None result wins. The built-in waits `drain_timeout` for connections to
    drain, deregisters the instances and calls the runtime backend's `stop`.
    """


@hookspec(firstresult=True)
def instances(context: ReleaseContext, color: Color) -> list[Instance]:  # type: ignore[empty-body]
    """Return every instance of the target in `color`, running or stopped, by index.

    First non-None result wins. The engine asks it whenever it needs a color's instances
    it has not just been given by `deploy`, `scale` or `start` (what is running before a
    promote, a rollback, a scale; what the proxy should serve). A plugin that deploys
    somewhere else answers this too. The built-in asks the runtime backend.
    """


@hookspec(firstresult=True)
def start(context: ReleaseContext, color: Color, count: int) -> list[Instance]:  # type: ignore[empty-body]
    """Start the stopped instances kept in `color` again, healthy, and return them.

    First non-None result wins. `rollback` calls it for the color that was live before
    (`count` is how many it has). The built-in calls the runtime backend's `start` and
    registers the instances with the registry.
    """


@hookspec(firstresult=True)
def drain(context: ReleaseContext, color: Color, instances: list[Instance]) -> bool:  # type: ignore[empty-body]
    """Return once the proxy holds no open connection to `instances` of `color`.

    First non-None result wins. Called after the proxy stopped sending them requests and
    before they are removed (a new color switched back from after failed post-promotion
    tests). The built-in calls the proxy backend's `wait_drained` with `drain_timeout`.
    """


@hookspec(firstresult=True)
def remove(context: ReleaseContext, color: Color) -> bool:  # type: ignore[empty-body]
    """Remove `color`'s instances for good (not kept for a rollback).

    First non-None result wins. Called for a new color that is abandoned: `abort`, a
    closed gate, a failed deploy or switch, failed post-promotion tests. The proxy no longer
    routes to it. The built-in deregisters the instances and calls the runtime backend's
    `remove`.
    """


@hookspec(firstresult=True)
def proxy_serves(context: ReleaseContext) -> dict[str, Any] | None:
    """Say whether the proxy really serves the live color's public route. First non-None
    result wins; None means nobody can tell (`proxy: none`).

    Called by `status` (the `proxy` field), never by a verb that changes anything. Returns
    {"url": str, "serving": bool, "status": int | None, "error": str | None}. The built-in
    sends one GET to the proxy backend's `public_url` for the live release's route (its
    first domain as Host): any answer but 502/503/504 counts as serving; a refused or
    timed-out connection does not.
    """


@hookspec(firstresult=True)
def nodes(context: ReleaseContext) -> list[dict[str, Any]]:  # type: ignore[empty-body]
    """Return the cluster's nodes as `status` reports them. First non-None result wins.

    Each a dict with `node` (its address), `state` (ready, down, ...), `availability` and
    `lost` (the target's instances whose task was on it while it is down); [] for a single
    engine. Called by `status` only. The built-in asks the runtime backend's `nodes`.
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
