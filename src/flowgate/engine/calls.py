"""How a verb calls a step hook: by name, with keyword arguments, recorded as a step.

The instances the `deploy`, `scale` and `start` hooks return are kept on the context
for the rest of the command (the proxy step serves exactly those), and so is the
`instances` hook's last answer; a color `stop_old` or `remove` took down is forgotten.
A color's instances never come from a backend directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flowgate.engine.context import ReleaseContext
from flowgate.engine.recorder import run_step
from flowgate.errors import FlowgateError
from flowgate.models import Color, Instance

T = TypeVar("T")

#: Hooks whose answer is the color's instances from now on.
RETURNS_INSTANCES = frozenset({"deploy", "scale", "start"})
#: Hooks after which the color has no running instance.
ENDS_INSTANCES = frozenset({"stop_old", "remove"})


def call(context: ReleaseContext, name: str, **kwargs: Any) -> Any:
    """Call hook `name`; a step nobody answers is an error, never a silent no-op."""
    result = getattr(context.pm.hook, name)(context=context, **kwargs)
    if result is None:
        raise FlowgateError(f"no plugin answered the {name} hook")
    return result


def step(
    context: ReleaseContext,
    name: str,
    action: Callable[[], T],
    cleanup: bool = False,
    note: str | None = None,
) -> T:
    """Run `action` as the release step `name` (recorded, timed, told to listeners)."""
    return run_step(context, name, action, cleanup, note)


def hook_step(context: ReleaseContext, name: str, cleanup: bool = False, **kwargs: Any) -> Any:
    """Call hook `name` as the release step of the same name."""
    result = step(context, name, lambda: call(context, name, **kwargs), cleanup)
    color = kwargs.get("color")
    if color is not None and name in RETURNS_INSTANCES:
        context.known_instances[color] = list(result)
    elif color is not None and name in ENDS_INSTANCES:
        context.known_instances.pop(color, None)
    return result


def instances(context: ReleaseContext, color: Color, fresh: bool = False) -> list[Instance]:
    """`color`'s instances: those a hook returned in this verb, else (or when `fresh`)
    the `instances` hook's answer, which is kept too: the proxy step that follows a fresh
    look (promote's health check) serves exactly what was seen, without asking again."""
    if not fresh and color in context.known_instances:
        return context.known_instances[color]
    found: list[Instance] = call(context, "instances", color=color)
    context.known_instances[color] = list(found)
    return found


def running(context: ReleaseContext, color: Color | None, fresh: bool = False) -> list[Instance]:
    if color is None:
        return []
    return [i for i in instances(context, color, fresh) if i.running]


def route(
    context: ReleaseContext,
    live: Color | None,
    preview: Color | None,
    live_limit: int | None = None,
    cleanup: bool = False,
    step_name: str = "reconfigure_proxy",
) -> None:
    """The proxy step: `live` on the public route, `preview` on the preview route."""
    note = f"live {live or '-'}, preview {preview or '-'}"
    if live_limit is not None:
        note += f", {live_limit} live servers"
    step(
        context,
        step_name,
        lambda: call(
            context,
            "reconfigure_proxy",
            live_color=live,
            preview_color=preview,
            live_limit=live_limit,
            live=running(context, live),
            preview=running(context, preview),
        ),
        cleanup,
        note,
    )
