"""Docker Flow's state in Consul: `docker-flow/<service>/color` (the color deployed last)
and `docker-flow/<service>/scale` (the instance count deployed or scaled last).

Docker Flow read both at every run (consul.go): the next color is the one that is not
`color` (green when there is none, so the first deploy is blue), and the count is `scale`
(1 when there is none), set by `--scale N` or moved by `--scale +N` / `-N`, never below 1.
Its deploy step wrote both, its scale step wrote `scale`, whether a proxy step followed or
not. flowgate reads them the first time it meets a service Docker Flow deployed, and keeps
them written at the same moments.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from flowgate.models import Color

if TYPE_CHECKING:
    from flowgate.engine.context import ReleaseContext

log = logging.getLogger("flowgate")


def stored_color(context: ReleaseContext) -> Color | None:
    """The color deployed last: flowgate's state, else Docker Flow's key."""
    if context.state.deployed_color is not None:
        return context.state.deployed_color
    return _color(context.registry.docker_flow_keys(context.service_name).get("color"))


def _color(value: str | None) -> Color | None:
    try:
        return Color(value) if value else None
    except ValueError:
        return None


def next_color(context: ReleaseContext) -> Color:
    """Docker Flow's GetNextColor: the color that is not the one deployed last."""
    current = stored_color(context)
    return current.other if current is not None else Color.BLUE


def stored_scale(context: ReleaseContext) -> int | None:
    """The count deployed or scaled last: Docker Flow's key, else flowgate's state."""
    raw = context.registry.docker_flow_keys(context.service_name).get("scale")
    if raw is not None and raw.strip().isdigit():
        return int(raw)
    return context.state.scale


def scale_count(context: ReleaseContext, spec: str) -> int:
    """Docker Flow's GetScaleCalc: the stored count (else Compose's `deploy.replicas`,
    else 1), replaced by `N` or moved by `+N` / `-N`; at least 1."""
    base = stored_scale(context) or context.service.replicas or 1
    if not spec:
        total = base
    elif spec[0] in "+-":
        total = base + int(spec)
    else:
        total = int(spec)
    return max(total, 1)


def adopt(context: ReleaseContext) -> None:
    """Take over a service Docker Flow deployed: its last color becomes flowgate's
    deployed and live color (Docker Flow's pipelines sent each deploy to the proxy), its
    count the live count. Only for a service flowgate has no state of yet."""
    state = context.state
    if state.deployed_color is not None or state.live_color is not None:
        return
    keys = context.registry.docker_flow_keys(context.service_name)
    color = _color(keys.get("color"))
    if color is None:
        return
    scale = keys.get("scale", "")
    adopted = dataclasses.replace(
        state,
        live_color=color,
        deployed_color=color,
        scale=int(scale) if scale.isdigit() else state.scale,
    )
    context.state = context.registry.save_state(adopted)
    log.info(
        "%s: taking over Docker Flow's state: %s deployed last, scale %s",
        context.service_name,
        color,
        scale or "unset",
    )


def record(context: ReleaseContext, color: Color | None, scale: int | None) -> None:
    """Write Docker Flow's keys as its deploy (color and scale) and scale steps did."""
    if color is not None:
        context.registry.put_docker_flow_key(context.service_name, "color", str(color))
    if scale is not None:
        context.registry.put_docker_flow_key(context.service_name, "scale", str(scale))
