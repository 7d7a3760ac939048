"""POST release events to a webhook: a third-party flowgate plugin, kept minimal."""

from __future__ import annotations

import logging
from typing import Any

from flowgate import hookimpl
from flowgate.config.keys import Key, parse_list, parse_str

log = logging.getLogger("flowgate.webhook")


@hookimpl
def flowgate_config_keys() -> list[Key]:
    return [
        Key("webhook_url", parse_str, None, help="URL that receives release events"),
        Key("webhook_events", parse_list, ["release-finished"], help="events to send"),
    ]


@hookimpl
def release_event(context: Any, event: str, data: dict[str, Any]) -> None:
    url = context.settings.get("webhook_url")
    if not url or event not in context.settings.get("webhook_events", []):
        return
    import requests

    body = {
        "service": context.service_name,
        "target": context.target,
        "event": event,
        "release": context.release.id if context.release else None,
        "data": data,
    }
    try:
        requests.post(url, json=body, timeout=5).raise_for_status()
    except requests.RequestException as err:
        log.warning("webhook %s failed: %s", url, err)
