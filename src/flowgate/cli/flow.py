"""`flowgate flow`: Docker Flow's command line. The arguments reach flowgate.dockerflow
untouched, which parses them exactly as Docker Flow did (flags, FLOW_*, docker-flow.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowgate.cli.options import root_obj


@click.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    }
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def flow(args: tuple[str, ...]) -> None:
    """Run Docker Flow's steps (deploy, scale, stop-old, proxy) with its flags."""
    run(list(args), root_obj())


def run(args: list[str], obj: dict[str, Any]) -> None:
    """Parse, open the project with Docker Flow's settings, run the steps, print."""
    from flowgate.cli.output import Output
    from flowgate.cli.progress import ProgressReporter
    from flowgate.cli.render import color_result
    from flowgate.dockerflow.command import open_flow_context, parse, run_steps
    from flowgate.dockerflow.flags import help_text

    if "-h" in args or "--help" in args:
        click.echo(help_text())
        return
    given = obj.get("project_dir")
    invocation = parse(args, project_dir=Path(given) if given else None)
    common = {**obj, **invocation.parsed.common}
    verbosity = -1 if common.get("quiet") else int(common.get("verbosity") or 0)
    out = Output.create(common.get("output") or "table", verbosity, bool(common.get("no_color")))
    context = open_flow_context(invocation)
    context.echo_test_output = out.verbosity >= 0
    context.pm.register(ProgressReporter(out), name="flowgate.cli.progress")
    for backend in (context.registry, context.runtime, context.proxy):
        backend.check()
    result = run_steps(context, invocation.options)
    live = context.state.live_color
    color_result(
        out,
        context,
        result.release,
        context.state.deployed_color or live,
        f"{context.service_name}: live {live or 'none'}, flow {', '.join(result.done)} done",
    )
