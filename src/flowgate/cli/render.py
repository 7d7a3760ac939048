"""Human renderings of results shared by several verbs."""

from __future__ import annotations

from typing import Any

from flowgate.cli.output import Output, render_table
from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.status import release_view
from flowgate.engine.steps import build_route
from flowgate.models import Color, Instance, Release


def instances_table(instances: list[Instance] | list[dict[str, Any]]) -> str:
    rows = []
    for item in instances:
        data = item.to_dict() if isinstance(item, Instance) else item
        rows.append(
            [
                data["name"],
                data["address"] or "-",
                data["state"],
                "yes" if data["healthy"] else "no",
            ]
        )
    return render_table(["name", "address", "state", "healthy"], rows)


def color_result(
    out: Output,
    context: ReleaseContext,
    release: Release | None,
    color: Color | None,
    headline: str,
) -> None:
    """Print what a verb left running: the color's instances and its URLs."""
    # Through the `instances` hook, so a plugin that runs the color elsewhere is shown too.
    instances = calls.instances(context, color, fresh=True) if color else []
    preview = public = None
    if color is not None:
        is_live = context.state.live_color == color
        route = build_route(context, context.state.live_color, None if is_live else color)
        public = context.proxy.public_url(route)
        preview = None if is_live else context.proxy.preview_url(route)
    data = {
        "target": context.target,
        "service": context.service_name,
        "color": str(color) if color else None,
        "live_color": str(context.state.live_color) if context.state.live_color else None,
        "instances": [i.to_dict() for i in instances],
        "preview_url": preview,
        "public_url": public,
        "release": release_view(release, lock_held=False),
    }
    lines = [headline, instances_table(instances).rstrip("\n")]
    if preview:
        lines.append(f"preview: {preview}")
    if public:
        lines.append(f"public:  {public}")
    out.data(data, "\n".join(lines))
