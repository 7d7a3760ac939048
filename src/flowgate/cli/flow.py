"""`flowgate flow`: Docker Flow's command line, flags, env vars and docker-flow.yml.

`--flow` steps run in the order given: `deploy` (the new color; without --blue-green it
goes live at once and the old color stops, like Docker Flow's plain redeploy), `scale`
(the live color, by --scale), `proxy` (make the deployed color live) and `stop-old`.
"""

from __future__ import annotations

import click

from flowgate.cli.context import open_project
from flowgate.cli.options import common_options, output, target_argument
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import UsageError

STEPS = ("deploy", "scale", "proxy", "stop-old")


@click.command()
@target_argument
@click.option("-t", "--target", "target_flag", help="The Compose service to release.")
@click.option(
    "-T", "--side-target", "side_targets", multiple=True, help="Side target (repeatable)."
)
@click.option("--service-path", multiple=True, help="Path the proxy routes (repeatable).")
@click.option("-b", "--blue-green", is_flag=True, default=None, help="Deploy as a new color.")
@click.option("-F", "--flow", "flow", multiple=True, help=f"Step: {', '.join(STEPS)} (repeatable).")
@click.option("-s", "--scale", help="Instances: N, +N or -N.")
@click.option("-H", "--host", help="Docker host (else DOCKER_HOST).")
@click.option("-c", "--consul-address", help="Consul's address.")
@click.option("--proxy-host", help="Docker Flow Proxy's host.")
@click.option("--proxy-docker-host", help="Docker host that runs the proxy.")
@click.option("--proxy-reconf-port", help="Port of the proxy's reconfigure API.")
@click.option("-S", "--pull-side-targets", is_flag=True, default=None, help="Pull side images.")
@common_options
def flow(
    target: str | None,
    target_flag: str | None,
    side_targets: tuple[str, ...],
    service_path: tuple[str, ...],
    blue_green: bool | None,
    flow: tuple[str, ...],
    scale: str | None,
    host: str | None,
    consul_address: str | None,
    proxy_host: str | None,
    proxy_docker_host: str | None,
    proxy_reconf_port: str | None,
    pull_side_targets: bool | None,
) -> None:
    """Run Docker Flow's steps (deploy, scale, proxy, stop-old) with its flags."""
    context = open_project(
        target or target_flag,
        host=host,
        proxy_docker_host=proxy_docker_host,
        proxy_reconf_port=proxy_reconf_port,
        pull_side_targets=pull_side_targets,
        side_targets=side_targets,
        service_path=service_path,
        blue_green=blue_green,
        flow=flow,
        scale=scale,
        proxy_host=proxy_host,
        consul_address=consul_address,
    )
    settings = context.settings
    steps = list(settings.flow) or ["deploy"]
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise UsageError(f"--flow: unknown step {unknown[0]!r} (steps: {', '.join(STEPS)})")
    spec = parse_scale(settings.scale) if settings.scale else None
    engine = Engine(context)
    release = None
    for step in steps:
        if step == "deploy":
            release = engine.deploy(spec)
            if not settings.blue_green:
                release = engine.promote(skip_tests=True)
        elif step == "scale":
            if spec is None:
                raise UsageError("--flow=scale needs --scale N, +N or -N")
            engine.scale(spec)
        elif step == "proxy":
            if context.state.new_color is not None:
                release = engine.promote(skip_tests=True, stop_old=False)
        else:
            engine.stop_old()
    live = context.state.live_color
    color_result(
        output(),
        context,
        release,
        live or context.state.deployed_color,
        f"{context.target}: live {live or 'none'}, flow {', '.join(steps)} done",
    )
