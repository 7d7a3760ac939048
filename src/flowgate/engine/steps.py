"""The built-in implementations of the step hooks: the only engine module that calls the
runtime and proxy backends (and the registry's service discovery).

They are registered like any plugin and marked `trylast`, so a third-party plugin that
answers a step first replaces them. Each delegates to the configured backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Route
from flowgate.engine import probe
from flowgate.engine.colors import next_color
from flowgate.engine.context import ReleaseContext
from flowgate.engine.routing import route_values
from flowgate.models import Color, Instance


def deploy_spec(context: ReleaseContext, color: Color, count: int) -> DeploySpec:
    return DeploySpec(
        project=context.project,
        target=context.target,
        service=context.service,
        color=color,
        count=count,
        release_id=context.release.id if context.release else "",
        health_timeout=context.health_timeout(),
    )


def running(context: ReleaseContext, color: Color | None) -> tuple[Instance, ...]:
    """`color`'s running instances, as the `instances` hook answers (a fresh answer)."""
    if color is None:
        return ()
    found = context.pm.hook.instances(context=context, color=color) or []
    return tuple(instance for instance in found if instance.running)


def build_route(
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None = None,
    live: Sequence[Instance] | None = None,
    preview: Sequence[Instance] | None = None,
) -> Route:
    """The Route for those colors; instances not given are asked of the `instances` hook."""
    live = tuple(running(context, live_color) if live is None else live)
    values = route_values(context)
    return Route(
        service=context.service_name,
        paths=tuple(values["paths"]),
        domains=tuple(values["domains"]),
        port=context.service.main_port,
        live_color=live_color,
        live=live if live_limit is None else live[:live_limit],
        preview_color=preview_color,
        preview=tuple(running(context, preview_color) if preview is None else preview),
    )


@hookimpl(trylast=True)
def pick_color(context: ReleaseContext) -> Color:
    return next_color(context.state)


@hookimpl(trylast=True)
def instances(context: ReleaseContext, color: Color) -> list[Instance]:
    return context.runtime.instances(context.project, context.target, color)


@hookimpl(trylast=True)
def deploy(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    for side in context.side_services():
        context.runtime.ensure_side_target(
            context.project, side, pull=context.settings.pull_side_targets
        )
    started = context.runtime.deploy(deploy_spec(context, color, count))
    context.registry.register_instances(context.service_name, color, started)
    return started


@hookimpl(trylast=True)
def scale(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    scaled = context.runtime.scale(deploy_spec(context, color, count))
    context.registry.register_instances(context.service_name, color, scaled)
    return scaled


@hookimpl(trylast=True)
def start(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    started = context.runtime.start(deploy_spec(context, color, count))
    context.registry.register_instances(context.service_name, color, started)
    return started


@hookimpl(trylast=True)
def reconfigure_proxy(
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None,
    live: list[Instance],
    preview: list[Instance],
) -> bool:
    route = build_route(context, live_color, preview_color, live_limit, live, preview)
    context.proxy.apply(route)
    return True


@hookimpl(trylast=True)
def proxy_serves(context: ReleaseContext) -> dict[str, Any] | None:
    route = probe.public_route(context)
    url = context.proxy.public_url(route)
    return probe.check_url(url, route) if url else None


@hookimpl(trylast=True)
def nodes(context: ReleaseContext) -> list[dict[str, Any]]:
    return context.runtime.nodes(context.project, context.target)


@hookimpl(trylast=True)
def drain(context: ReleaseContext, color: Color, instances: list[Instance]) -> bool:
    if instances:
        context.proxy.wait_drained(context.service_name, instances, context.settings.drain_timeout)
    return True


@hookimpl(trylast=True)
def stop_old(context: ReleaseContext, color: Color) -> bool:
    context.pm.hook.drain(context=context, color=color, instances=list(running(context, color)))
    context.registry.deregister_instances(context.service_name, color)
    context.runtime.stop(context.project, context.target, color)
    return True


@hookimpl(trylast=True)
def remove(context: ReleaseContext, color: Color) -> bool:
    context.registry.deregister_instances(context.service_name, color)
    context.runtime.remove(context.project, context.target, color)
    return True
