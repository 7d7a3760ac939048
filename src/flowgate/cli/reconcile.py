"""`flowgate reconcile`: rebuild the target's state from what runs; the proxy follows."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.engine.verbs.reconcile import reconcile as rebuild
from flowgate.models import Color

app = verb_app()


def describe(state: dict[str, Any] | None) -> str:
    if state is None:
        return "none stored"
    return (
        f"live {state['live_color'] or '-'}, deployed {state['deployed_color'] or '-'}, "
        f"scale {state['scale'] or '-'}, release {state['release_id'] or '-'}"
    )


@app.command()
def reconcile(
    target: Target = None,
    live: Annotated[
        Color | None,
        typer.Option(
            "--live", help="The color the proxy serves, when both colors run.", show_default=False
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the state it would write; write nothing.")
    ] = False,
) -> None:
    """Rebuild the target's state from the running containers (and the release records),
    then set the proxy to serve it. Never starts, stops or removes a container."""
    context = open_project(target)
    report = rebuild(context, live, dry_run)
    running = ", ".join(f"{color}: {what}" for color, what in report["running"].items())
    if not report["changed"]:
        verdict = "state agrees with what runs; nothing to write"
    elif report["written"]:
        verdict = "state rebuilt"
    else:
        verdict = "would write (dry run)"
    lines = [
        f"{context.service_name}: {verdict}",
        f"running: {running}",
        f"before:  {describe(report['before'])}",
        f"after:   {describe(report['after'])}",
    ]
    if report["proxy_applied"]:
        lines.append("proxy:   set to serve the live color")
    output().data(report, "\n".join(lines))
