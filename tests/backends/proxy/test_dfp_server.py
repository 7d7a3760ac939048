"""The Docker Flow Proxy stand-in answers as the proxy's documented API does.

These talk to the stand-in with plain urllib, not through flowgate, so they check the
double itself against the documentation rather than against the backend's habits.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from flowgate.testing.dfp_server import DockerFlowProxyTestServer, dfp_test_server


@pytest.fixture
def server() -> Iterator[DockerFlowProxyTestServer]:
    with dfp_test_server() as running:
        yield running


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, body.decode()


RECONFIGURE = "/v1/docker-flow-proxy/reconfigure"
REMOVE = "/v1/docker-flow-proxy/remove"


@pytest.mark.parametrize(
    "query",
    ["servicePath=/api", "serviceName=books", "serviceName=&servicePath=/api", ""],
    ids=["no-serviceName", "no-servicePath", "empty-serviceName", "nothing"],
)
def test_reconfigure_without_mandatory_query_is_a_400(
    server: DockerFlowProxyTestServer, query: str
) -> None:
    status, body = get(f"{server.url}{RECONFIGURE}?{query}")
    assert status == 400
    assert body["Status"] == "NOK"
    assert body["Message"] == "The following queries are mandatory: serviceName and servicePath"


def test_reconfigure_echoes_the_parsed_query(server: DockerFlowProxyTestServer) -> None:
    query = (
        "serviceName=books-ms&serviceColor=green&servicePath=%2Fapi%2Fv1%2Cc%2B%2B"
        "&serviceDomain=a.example.com%2Cb.example.com&pathType=path_reg&skipCheck=true&port=8080"
    )
    status, body = get(f"{server.url}{RECONFIGURE}?{query}")
    assert status == 200
    assert body == {
        "Status": "OK",
        "Message": "",
        "ServiceName": "books-ms",
        "ServiceColor": "green",
        "ServicePath": ["/api/v1", "c++"],
        "ServiceDomain": ["a.example.com", "b.example.com"],
        "PathType": "path_reg",
        "SkipCheck": True,
        "Port": "8080",
    }
    [recorded] = server.calls("reconfigure")
    assert recorded.query == query
    assert recorded.params["servicePath"] == "/api/v1,c++"


def test_remove_needs_a_service_name(server: DockerFlowProxyTestServer) -> None:
    status, body = get(f"{server.url}{REMOVE}")
    assert (status, body["Status"]) == (400, "NOK")
    assert body["Message"] == "The serviceName query is mandatory"
    status, body = get(f"{server.url}{REMOVE}?serviceName=books-ms")
    assert (status, body["Status"], body["ServiceName"]) == (200, "OK", "books-ms")
    assert [r.params for r in server.calls("remove")] == [{}, {"serviceName": "books-ms"}]


def test_unknown_paths_are_404_and_failures_can_be_injected(
    server: DockerFlowProxyTestServer,
) -> None:
    assert get(f"{server.url}/") == (404, "404 page not found\n")
    server.fail(500, "reload failed")
    status, body = get(f"{server.url}{REMOVE}?serviceName=books-ms")
    assert (status, body["Status"], body["Message"]) == (500, "NOK", "reload failed")
    server.recover()
    assert get(f"{server.url}{REMOVE}?serviceName=books-ms")[0] == 200
    assert len(server.requests) == 3
