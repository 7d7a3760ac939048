"""users-ms smoke tests: the gate every release of this example must pass.

`flowgate release` runs them against the new color through the shared HAProxy's preview
port, where `/api/v1/users` belongs to this project only.
"""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT = (3.05, 10.0)


def test_users_api_answers_json(flow_http: requests.Session, flow_release: Any) -> None:
    response = flow_http.get("/api/v1/users")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "users-ms"
    assert body["users"], "the API lists no user"
    assert body["color"] == flow_release.color


def test_every_instance_answers(flow_instance: Any, flow_release: Any) -> None:
    response = requests.get(f"http://{flow_instance.address}/api/v1/users", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["color"] == flow_release.color
