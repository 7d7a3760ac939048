"""`flowgate status`: live color, each color's state and instances, the current release."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from flowgate.cli.context import open_project
from flowgate.cli.options import Target, output, verb_app
from flowgate.cli.output import render_table
from flowgate.engine.status import target_status


def status_table(data: dict[str, Any]) -> str:
    lines = [
        f"target:  {data['target']} (service {data['service']}, project {data['project']})",
        f"live:    {data['live_color'] or 'none'}   scale: {data['scale'] or '-'}",
    ]
    rows = []
    # A runtime spanning machines names each instance's node (swarm); a single engine not.
    with_node = any(i.get("node") for info in data["colors"].values() for i in info["instances"])
    for color, info in data["colors"].items():
        instances = info["instances"] or [None]
        for instance in instances:
            row = [
                color,
                info["state"],
                instance["name"] if instance else "-",
                instance["address"] if instance else "-",
                instance["state"] if instance else "-",
                ("yes" if instance["healthy"] else "no") if instance else "-",
            ]
            if with_node:
                row.append((instance.get("node") or "-") if instance else "-")
            rows.append(row)
    header = ["color", "state", "instance", "address", "running", "healthy"]
    lines.append(render_table(header + ["node"] * with_node, rows).rstrip("\n"))
    for node in data.get("nodes", []):
        line = f"node:    {node['node']} {node['state']} ({node['availability']})"
        if node["lost"]:
            line += f", lost: {', '.join(node['lost'])}"
        lines.append(line)
    release = data["release"]
    if release:
        line = (
            f"release: {release['id']} ({release['kind']}) {release['color'] or '-'} "
            f"{release['state']}, step {release['step'] or '-'}"
        )
        if release["outcome"]:
            line += f", outcome {release['outcome']}"
        lines.append(line)
        tests = release["tests"]
        if tests:
            lines.append(
                f"tests:   {tests['passed']} passed, {tests['failed']} failed"
                + (f": {', '.join(tests['failed_ids'])}" if tests["failed_ids"] else "")
            )
        if release["error"]:
            lines.append(f"error:   {release['error']}")
    proxy = data.get("proxy")
    if proxy is not None:
        if proxy["serving"]:
            lines.append(f"proxy:   serving {proxy['url']} (HTTP {proxy['status']})")
        else:
            lines.append(f"proxy:   NOT SERVING {proxy['url']}: {proxy['error']}")
    if data.get("state_disagrees"):
        lines.append(
            f"state:   DISAGREES with what runs: {data['state_disagrees']} "
            "(`flowgate reconcile` rebuilds it)"
        )
    if data["lock"]:
        lock = data["lock"]
        holder = ", ".join(f"{k}={v}" for k, v in lock.items() if v is not None and k != "gone")
        gone = (
            " (that process is gone: the next verb takes the lock over)" if lock.get("gone") else ""
        )
        lines.append(f"lock:    held by {holder}{gone}")
    return "\n".join(lines)


app = verb_app()


@app.command()
def status(
    target: Target = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh every 2 seconds until Ctrl-C.")
    ] = False,
) -> None:
    """Show the live color, both colors' instances and the current release."""
    context = open_project(target)
    out = output()
    while True:
        data = target_status(context)
        out.data(data, status_table(data))
        if not watch:
            return
        time.sleep(2)
        context.state = context.registry.load_state(context.service_name)
