"""`flowgate deploy`: only deploy the new color; the public route is untouched."""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, release_flags, target_argument
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine


@click.command()
@target_argument
@release_flags
@click.option("--scale", help="Instances: N, +N or -N relative to the live color.")
@click.option("--timeout", type=float, help="Seconds the whole deploy may take.")
@common_options
def deploy(
    target: str | None,
    side_targets: tuple[str, ...],
    service_path: tuple[str, ...],
    scale: str | None,
    timeout: float | None,
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
