"""The built-in implementations of the release steps: the only engine module that calls
the backends.

The hook implementations are registered like any plugin and marked `trylast`, so a
third-party plugin that answers a step first replaces them. Each delegates to the
configured backend.
"""

from __future__ import annotations

from flowgate import hookimpl
from flowgate.backends.base import DeploySpec, Route
from flowgate.engine.colors import next_color
from flowgate.engine.context import ReleaseContext
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


def instances(context: ReleaseContext, color: Color) -> list[Instance]:
    """Every instance of `color`, running or stopped."""
    return context.runtime.instances(context.project, context.target, color)


def running(context: ReleaseContext, color: Color | None) -> tuple[Instance, ...]:
    if color is None:
        return ()
    return tuple(instance for instance in instances(context, color) if instance.running)


def build_route(
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None = None,
) -> Route:
    live = running(context, live_color)
    return Route(
        service=context.service_name,
        paths=tuple(context.settings.service_path) or ("/",),
        domains=tuple(context.settings.service_domain),
        port=context.service.main_port,
        live_color=live_color,
        live=live if live_limit is None else live[:live_limit],
        preview_color=preview_color,
        preview=running(context, preview_color),
    )


@hookimpl(trylast=True)
def pick_color(context: ReleaseContext) -> Color:
    return next_color(context.state)


@hookimpl(trylast=True)
def deploy(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    for side in context.side_services():
        context.runtime.ensure_side_target(
            context.project, side, pull=context.settings.pull_side_targets
        )
    instances = context.runtime.deploy(deploy_spec(context, color, count))
    context.registry.register_instances(context.service_name, color, instances)
    return instances


@hookimpl(trylast=True)
def scale(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    instances = context.runtime.scale(deploy_spec(context, color, count))
    context.registry.register_instances(context.service_name, color, instances)
    return instances


@hookimpl(trylast=True)
def reconfigure_proxy(
    context: ReleaseContext,
    live_color: Color | None,
    preview_color: Color | None,
    live_limit: int | None,
) -> bool:
    context.proxy.apply(build_route(context, live_color, preview_color, live_limit))
    return True


@hookimpl(trylast=True)
def stop_old(context: ReleaseContext, color: Color) -> bool:
    instances = list(running(context, color))
    if instances:
        context.proxy.wait_drained(context.service_name, instances, context.settings.drain_timeout)
    context.registry.deregister_instances(context.service_name, color)
    context.runtime.stop(context.project, context.target, color)
    return True


def start(context: ReleaseContext, color: Color, count: int) -> list[Instance]:
    """Start the stopped, kept `color` again, healthy (rollback)."""
    return context.runtime.start(deploy_spec(context, color, count))


def stop(context: ReleaseContext, color: Color) -> None:
    """Stop `color` again without draining (a rollback that could not switch to it)."""
    context.runtime.stop(context.project, context.target, color)


def drain(context: ReleaseContext, color: Color) -> None:
    """Wait until the proxy holds no connection to `color`'s instances."""
    context.proxy.wait_drained(
        context.service_name, list(running(context, color)), context.settings.drain_timeout
    )


def remove(context: ReleaseContext, color: Color) -> None:
    """Withdraw `color` from service discovery and remove its instances."""
    context.registry.deregister_instances(context.service_name, color)
    context.runtime.remove(context.project, context.target, color)
