"""`flowgate flow`: Docker Flow's command line. The verb takes its arguments raw (typer
parses none of them, not even --help): flowgate.dockerflow parses them exactly as Docker
Flow did, with its FLOW_* variables and docker-flow.yml, and runs its steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from flowgate.cli.options import RAW_ARGS, root_obj, verb_app

app = verb_app()


@app.command(context_settings=RAW_ARGS, add_help_option=False)
def flow(ctx: typer.Context) -> None:
    """Run Docker Flow's steps (deploy, scale, stop-old, proxy) with its flags."""
    run(list(ctx.args), root_obj())


def run(args: list[str], obj: dict[str, Any]) -> None:
    """Parse, open the project with Docker Flow's settings, run the steps, print."""
    from flowgate.cli.output import Output
    from flowgate.cli.progress import ProgressReporter
    from flowgate.cli.render import color_result
    from flowgate.dockerflow.command import open_flow_context, parse, run_steps
    from flowgate.dockerflow.flags import help_text
    from flowgate.errors import UsageError

    if "-h" in args or "--help" in args:
        typer.echo(help_text())
        return
    given = obj.get("project_dir")
    try:
        invocation = parse(args, project_dir=Path(given) if given else None)
    except UsageError as err:
        raise UsageError(f"{err} (see `flowgate flow --help`)") from None
    common = {**obj, **invocation.parsed.common}
    verbosity = -1 if common.get("quiet") else int(common.get("verbosity") or 0)
    out = Output.create(
        str(common.get("output") or "table"), verbosity, bool(common.get("no_color"))
    )
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
        f"{context.target}: live {live or 'none'}, flow {', '.join(result.done)} done",
    )
