"""How a verb calls a step hook: by name, with keyword arguments, recorded as a step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flowgate.engine.context import ReleaseContext
from flowgate.engine.recorder import run_step
from flowgate.errors import FlowgateError
from flowgate.models import Color

T = TypeVar("T")


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
    return step(context, name, lambda: call(context, name, **kwargs), cleanup)


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
        ),
        cleanup,
        note,
    )
