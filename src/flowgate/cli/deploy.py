"""`flowgate deploy`: only deploy the new color; the public route is untouched."""

from __future__ import annotations

from flowgate.cli.context import open_project
from flowgate.cli.options import (
    Scale,
    ServicePaths,
    SideTargets,
    Target,
    Timeout,
    output,
    verb_app,
)
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine

app = verb_app()


@app.command()
def deploy(
    target: Target = None,
    side_targets: SideTargets = None,
    service_path: ServicePaths = None,
    scale: Scale = None,
    timeout: Timeout = None,
) -> None:
    """Deploy the new color beside the live one and print its endpoints."""
    context = open_project(
        target, side_targets=side_targets, service_path=service_path, scale=scale
    )
    spec = parse_scale(context.settings.scale) if context.settings.scale else None
    release = Engine(context).deploy(spec, timeout or context.settings.timeout or None)
    color_result(
        output(),
        context,
        release,
        release.color,
        f"deployed {context.target} {release.color} (release {release.id}); "
        f"live: {context.state.live_color or 'none'}",
    )
