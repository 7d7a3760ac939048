"""books-ms smoke tests: the gate every release of this example must pass.

`flowgate release` runs them against the new color through HAProxy's preview port before
switching any traffic to it; `pytest --flow-target=app --flow-color=live tests/smoke` runs
them against what is live. Image books-ms:1.2 answers 500 on the API, so its gate closes.
"""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT = (3.05, 10.0)


def test_books_api_answers_json(flow_http: requests.Session) -> None:
    response = flow_http.get("/api/v1/books")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["service"] == "books-ms"
    assert body["books"], "the API lists no book"
    for book in body["books"]:
        assert {"id", "title", "author"} <= set(book), book


def test_the_color_under_test_answers(flow_http: requests.Session, flow_release: Any) -> None:
    """Through the proxy's preview route we must reach the new color, not the live one."""
    body = flow_http.get("/api/v1/books").json()
    assert body["color"] == flow_release.color


def test_every_instance_answers(flow_instance: Any, flow_release: Any) -> None:
    """Runs once per running instance (test id: the container's name), bypassing the
    proxy, so one bad container cannot hide behind healthy ones."""
    response = requests.get(f"http://{flow_instance.address}/api/v1/books", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.json()["color"] == flow_release.color


def test_instances_are_distinct_containers_of_one_version(flow_endpoints: list[str]) -> None:
    bodies = [
        requests.get(f"http://{endpoint}/api/v1/books", timeout=TIMEOUT).json()
        for endpoint in flow_endpoints
    ]
    assert len({body["hostname"] for body in bodies}) == len(flow_endpoints)
    assert len({body["version"] for body in bodies}) == 1


def test_health_endpoint(flow_endpoints: list[str]) -> None:
    for endpoint in flow_endpoints:
        response = requests.get(f"http://{endpoint}/health", timeout=TIMEOUT)
        assert response.status_code == 200, endpoint


def test_containers_hold_the_version_they_serve(flow_hosts: list[Any]) -> None:
    """pytest-testinfra looks inside each container (its docker:// backend needs /bin/sh,
    which the image has through busybox)."""
    for host in flow_hosts:
        version_file = host.file("/etc/books-ms/version")
        assert version_file.exists
        hostname = host.run("hostname").stdout.strip()
        served = host.run("cat /www/api/v1/books").stdout
        assert f'"version": "{version_file.content_string.strip()}"' in served
        assert f'"hostname": "{hostname}"' in served
