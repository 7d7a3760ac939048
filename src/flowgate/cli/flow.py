"""`flowgate flow`: Docker Flow's command line, flags, env vars and docker-flow.yml.

`--flow` steps run in the order given: `deploy` (the new color; without --blue-green it
goes live at once and the old color stops, like Docker Flow's plain redeploy), `scale`
(the live color, by --scale), `proxy` (make the deployed color live) and `stop-old`.

The verb takes its arguments raw (typer parses none of them, not even --help):
`parse_flags` turns them into flags, so Docker Flow's own syntax can be parsed here.
"""

from __future__ import annotations

from typing import Annotated, Any

import click
import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import RAW_ARGS, common_params, output, verb_app
from flowgate.cli.render import color_result
from flowgate.config.scale import parse_scale
from flowgate.engine.runner import Engine
from flowgate.errors import UsageError

STEPS = ("deploy", "scale", "proxy", "stop-old")


app = verb_app()


@app.command(context_settings=RAW_ARGS, add_help_option=False)
def flow(ctx: typer.Context) -> None:
    """Run Docker Flow's steps (deploy, scale, proxy, stop-old) with its flags."""
    run_flow(**parse_flags(ctx, list(ctx.args)))


def _flags(
    target: Annotated[str | None, typer.Argument(show_default=False)] = None,
    target_flag: Annotated[
        str | None, typer.Option("-t", "--target", help="The Compose service to release.")
    ] = None,
    side_targets: Annotated[
        list[str] | None, typer.Option("-T", "--side-target", help="Side target (repeatable).")
    ] = None,
    service_path: Annotated[
        list[str] | None,
        typer.Option("--service-path", help="Path the proxy routes (repeatable)."),
    ] = None,
    blue_green: Annotated[
        bool | None, typer.Option("-b", "--blue-green", help="Deploy as a new color.")
    ] = None,
    flow: Annotated[
        list[str] | None,
        typer.Option("-F", "--flow", help=f"Step: {', '.join(STEPS)} (repeatable)."),
    ] = None,
    scale: Annotated[
        str | None, typer.Option("-s", "--scale", help="Instances: N, +N or -N.")
    ] = None,
    host: Annotated[
        str | None, typer.Option("-H", "--host", help="Docker host (else DOCKER_HOST).")
    ] = None,
    consul_address: Annotated[
        str | None, typer.Option("-c", "--consul-address", help="Consul's address.")
    ] = None,
    proxy_host: Annotated[
        str | None, typer.Option("--proxy-host", help="Docker Flow Proxy's host.")
    ] = None,
    proxy_docker_host: Annotated[
        str | None, typer.Option("--proxy-docker-host", help="Docker host that runs the proxy.")
    ] = None,
    proxy_reconf_port: Annotated[
        str | None,
        typer.Option("--proxy-reconf-port", help="Port of the proxy's reconfigure API."),
    ] = None,
    pull_side_targets: Annotated[
        bool | None, typer.Option("-S", "--pull-side-targets", help="Pull side images.")
    ] = None,
) -> dict[str, Any]:
    """Run Docker Flow's steps (deploy, scale, proxy, stop-old) with its flags."""
    return {
        "target": target or target_flag,
        "host": host,
        "proxy_docker_host": proxy_docker_host,
        "proxy_reconf_port": proxy_reconf_port,
        "pull_side_targets": pull_side_targets,
        "side_targets": side_targets,
        "service_path": service_path,
        "blue_green": blue_green,
        "flow": flow,
        "scale": scale,
        "proxy_host": proxy_host,
        "consul_address": consul_address,
    }


def parse_flags(ctx: click.Context, args: list[str]) -> dict[str, Any]:
    """The verb's raw arguments as flags by configuration key (plus `target`); the
    common options (-C, -o, -q ...) among them go where every verb reads them. `--help`
    prints the flags and exits."""
    parser = typer.Typer(add_completion=False, rich_markup_mode=None)
    parser.command()(_flags)
    command = typer.main.get_command(parser)
    command.params.extend(common_params())
    with command.make_context("flow", args, parent=ctx.parent) as flags_ctx:
        flags: dict[str, Any] = command.invoke(flags_ctx)
    return flags


def run_flow(target: str | None = None, **flags: Any) -> None:
    context = open_project(target, **flags)
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
