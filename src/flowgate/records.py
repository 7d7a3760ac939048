"""Range checks for what the registry hands back: the state and the release records.

The registry is storage, not authority: a file edited by hand, a restored backup or a
hostile writer can put anything there. A value out of range (a negative scale, a color
that is neither blue nor green, a list where a number belongs) must stop the command with
a message naming the key, never drive an action: with a stored scale of -5, `scale +1`
would otherwise compute -4 and remove every live instance.

Each check raises ValueError("<key>: <problem>"); the registries add which file or key
held it and turn it into a ConfigError (exit 4).
"""

from __future__ import annotations

import re
from typing import Any

from flowgate.config.values import MAX_SCALE

COLORS = ("blue", "green")
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
#: The longest text kept from a stored record's free-text fields (errors, details).
MAX_TEXT = 64 * 1024


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_color(value: Any, key: str) -> None:
    if value is not None and value not in COLORS:
        raise ValueError(f"{key}: expected blue or green, got {_show(value)}")


def check_count(value: Any, key: str, *, low: int = 1, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not _is_int(value) or not low <= value <= MAX_SCALE:
        raise ValueError(
            f"{key}: expected a whole number from {low} to {MAX_SCALE}, got {_show(value)}"
        )


def check_id(value: Any, key: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(
            f"{key}: expected an id of letters, digits, '.', '_', '-', got {_show(value)}"
        )


def check_text(value: Any, key: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{key}: expected text, got {_show(value)}")


def check_state(data: Any, service: str | None = None) -> None:
    """A stored TargetState: `service`, colors, `scale` (1..MAX_SCALE) and `release_id`."""
    if not isinstance(data, dict):
        raise ValueError(f"state: expected an object, got {_show(data)}")
    if not isinstance(data.get("service"), str):
        raise ValueError("service: missing")
    if service is not None and data["service"] != service:
        raise ValueError(f"service: this is the state of {data['service']!r}, not {service!r}")
    check_color(data.get("live_color"), "live_color")
    check_color(data.get("deployed_color"), "deployed_color")
    check_count(data.get("scale"), "scale")
    check_id(data.get("release_id"), "release_id")


def check_time(value: Any, key: str, *, optional: bool = True) -> None:
    from datetime import datetime

    if value is None and optional:
        return
    try:
        if not isinstance(value, str):
            raise ValueError
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{key}: expected an ISO 8601 time, got {_show(value)}") from None


def _check_tests(data: Any, key: str) -> None:
    if data is None:
        return
    if not isinstance(data, dict):
        raise ValueError(f"{key}: expected an object, got {_show(data)}")
    for name in ("passed", "failed", "errors", "skipped"):
        value = data.get(name, 0)
        if not _is_int(value) or value < 0:
            raise ValueError(f"{key}.{name}: expected a count, got {_show(value)}")
    ids = data.get("failed_ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError(f"{key}.failed_ids: expected a list of test ids")
    code = data.get("exit_code")
    if code is not None and not _is_int(code):
        raise ValueError(f"{key}.exit_code: expected a number, got {_show(code)}")
    check_text(data.get("report"), f"{key}.report")


def check_release(data: Any) -> None:
    """A stored Release record (history): ids, colors, counts, steps and test results."""
    from flowgate.models import ReleaseState

    if not isinstance(data, dict):
        raise ValueError(f"release: expected an object, got {_show(data)}")
    check_id(data.get("id"), "id", optional=False)
    for key in ("service", "target"):
        check_text(data.get(key), key, optional=False)
    check_color(data.get("color"), "color")
    check_color(data.get("previous_color"), "previous_color")
    check_count(data.get("instances", 1), "instances", low=0, optional=False)
    state = data.get("state", "running")
    if state not in {s.value for s in ReleaseState}:
        raise ValueError(f"state: unknown release state {_show(state)}")
    images = data.get("images", [])
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise ValueError("images: expected a list of image names")
    for key in ("step", "outcome", "error", "kind"):
        check_text(data.get(key), key)
    check_time(data.get("started"), "started", optional=False)
    check_time(data.get("ended"), "ended")
    steps = data.get("steps", [])
    if not isinstance(steps, list):
        raise ValueError("steps: expected a list")
    for number, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            raise ValueError(f"steps[{number}]: expected an object with a name")
        for key in ("started", "ended", "outcome", "detail"):
            check_text(step.get(key), f"steps[{number}].{key}")
    _check_tests(data.get("tests"), "tests")
    _check_tests(data.get("post_tests"), "post_tests")
    check_id(data.get("restores"), "restores")
    check_route(data.get("route"))
    check_restore(data.get("restore"))


def check_route(route: Any) -> None:
    """The public route a release recorded: paths and domains that a proxy configuration
    will get, held to the same whitelist as the settings they came from."""
    from flowgate.config.values import check_domain, check_path

    if route is None:
        return
    if not isinstance(route, dict):
        raise ValueError(f"route: expected an object, got {_show(route)}")
    for key, check in (("paths", check_path), ("domains", check_domain)):
        items = route.get(key, [])
        if not isinstance(items, list):
            raise ValueError(f"route.{key}: expected a list, got {_show(items)}")
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"route.{key}: expected text, got {_show(item)}")
            try:
                check(item)
            except ValueError as err:
                raise ValueError(f"route.{key}: {err}") from None


_SERVICE_LISTS = (
    "command",
    "entrypoint",
    "ports",
    "depends_on",
    "networks",
    "volumes",
    "placement",
)
_SERVICE_MAPS = ("environment", "labels", "build", "healthcheck", "deploy")


def check_restore(restore: Any) -> None:
    """What brings a release back (image, service definition, scale): types and range."""
    if restore is None:
        return
    if not isinstance(restore, dict):
        raise ValueError(f"restore: expected an object, got {_show(restore)}")
    check_count(restore.get("scale"), "restore.scale")
    for key in ("image", "image_tag"):
        check_text(restore.get(key), f"restore.{key}")
    service = restore.get("service")
    if service is None:
        return
    if not isinstance(service, dict):
        raise ValueError(f"restore.service: expected an object, got {_show(service)}")
    for key in _SERVICE_LISTS:
        items = service.get(key)
        if items is not None and (
            not isinstance(items, list) or not all(isinstance(i, str) for i in items)
        ):
            raise ValueError(f"restore.service.{key}: expected a list of text")
    for key in _SERVICE_MAPS:
        if service.get(key) is not None and not isinstance(service[key], dict):
            raise ValueError(f"restore.service.{key}: expected an object")
    for key in ("name", "image", "container_name"):
        check_text(service.get(key), f"restore.service.{key}")
    check_count(service.get("replicas"), "restore.service.replicas")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
