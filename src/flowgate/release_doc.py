"""The release a test suite runs against, as one JSON document.

`flowgate release` / `test` write it (owner-only, next to the gate's JUnit report) and
name it in one environment variable, FLOWGATE_RELEASE_FILE, for the pytest process they
start; flowgate's pytest plugin reads it. It carries everything the fixtures give (target,
color, instances, the URL and headers of the route under test) and every setting with its
resolved value, so the child needs no other variable and nothing is re-parsed on the way
(a `--service-path /a,b` stays one path). `pytest --flow-target=app` run by hand builds
the same description from the project instead (`describe`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowgate.engine.context import ReleaseContext
    from flowgate.models import Color

RELEASE_FILE_ENV = "FLOWGATE_RELEASE_FILE"
FORMAT = 1


class DescribeError(Exception):
    """The color asked for cannot be tested now; the message says what to do."""


def describe(context: ReleaseContext, wanted: str) -> dict[str, Any]:
    """Which color `wanted` (new, live, blue, green) names now, its running instances and
    how to reach them: the fixtures' data, as a JSON-able mapping."""
    from flowgate.engine.calls import running
    from flowgate.engine.steps import build_route
    from flowgate.models import Color

    state, target = context.state, context.target
    live, new = state.live_color, state.new_color
    if wanted == "new":
        if new is None:
            raise DescribeError(
                f"no new color of {target} is deployed: run `flowgate deploy` first"
            )
        color = new
    elif wanted == "live":
        if live is None:
            raise DescribeError(f"no color of {target} is live yet: promote a release first")
        color = live
    else:
        color = Color(wanted)
    instances = running(context, color)
    if not instances:
        raise DescribeError(f"{context.service_name} has no running {color} instance")
    # The instances this command's hooks returned (a deploy's), else the instances hook's.
    live_running, new_running = running(context, live), running(context, new)
    route = build_route(
        context, live, new if new_running else None, live=live_running, preview=new_running
    )
    url, headers = None, {}
    if color == new:
        url, headers = context.proxy.preview_url(route), context.proxy.preview_headers(route)
    elif color == live:
        url = context.proxy.public_url(route)
    release_id = None
    if context.release is not None and context.release.color == color:
        release_id = context.release.id
    else:
        releases = context.registry.iter_releases(context.service_name)  # newest first
        release_id = next((r.id for r in releases if r.color == color), None)
    return {
        "project": context.project,
        "target": target,
        "service": context.service_name,
        "color": str(color),
        "live_color": str(live) if live else None,
        "new_color": str(new) if new else None,
        "release_id": release_id,
        "instances": [_instance(i) for i in instances],
        "url": base_url(url, route.paths) if url else f"http://{instances[0].address}",
        "headers": dict(headers) if url else {},
    }


def _instance(instance: Any) -> dict[str, Any]:
    extra = {k: getattr(instance, k, "") for k in ("id", "node", "image", "release")}
    return {**instance.to_dict(), **extra, "color": str(instance.color or "")}


def base_url(url: str, service_paths: tuple[str, ...]) -> str:
    """The proxy's URL without the service path it may end in (HAProxy's names the
    route's first path), so suites use the service's own absolute paths through any
    proxy and directly against an instance alike."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path and path in {p.rstrip("/") for p in service_paths}:
        return f"{parts.scheme}://{parts.netloc}"
    return url.rstrip("/")


def settings_document(context: ReleaseContext) -> dict[str, Any]:
    """Every setting's resolved value, JSON-able."""
    return {name: _jsonable(value) for name, value in context.settings.values.items()}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(item) for k, item in value.items()}
    return str(value)


def release_document(
    context: ReleaseContext, color: Color, flow_color: str, kind: str, result_file: Path
) -> dict[str, Any]:
    """The whole document a gate's pytest process receives."""
    try:
        described: dict[str, Any] = describe(context, flow_color)
        problem = None
    except DescribeError as err:  # the suite then fails with this message, as by hand
        described, problem = {}, str(err)
    return {
        "format": FORMAT,
        "project_dir": str(context.project_dir.resolve()),
        "kind": kind,
        "flow_color": flow_color,
        "release": described,
        "problem": problem,
        "settings": settings_document(context),
        "result_file": str(result_file),
        "parent_pid": os.getpid(),
    }


def write_document(path: Path, document: dict[str, Any]) -> None:
    from flowgate.files import write_private

    write_private(path, json.dumps(document, indent=1, sort_keys=True))


def read_document(path: str | Path) -> dict[str, Any]:
    """Read and check the document named by FLOWGATE_RELEASE_FILE; ValueError when bad."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{RELEASE_FILE_ENV}={path}: cannot read the release: {err}") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{RELEASE_FILE_ENV}={path}: not a flowgate release document")
    for key, kind in (("release", dict), ("settings", dict), ("project_dir", str)):
        if not isinstance(data.get(key), kind):
            raise ValueError(f"{RELEASE_FILE_ENV}={path}: {key}: missing or of the wrong type")
    return data
