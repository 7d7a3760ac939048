"""The docker-flow-proxy backend speaks Docker Flow Proxy's documented HTTP API.

No Docker Flow Proxy image can be pulled here, so the requests go to the stand-in in
flowgate.testing.dfp_server, which validates them as the proxy's API documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from flowgate import hookspecs
from flowgate.backends.base import Route
from flowgate.backends.proxy import docker_flow_proxy
from flowgate.backends.proxy.docker_flow_proxy import DockerFlowProxy
from flowgate.config.settings import Settings, load_settings
from flowgate.errors import BackendUnreachable, ConfigError, ReleaseFailed
from flowgate.models import Color
from flowgate.testing.dfp_server import DockerFlowProxyTestServer, dfp_test_server
from flowgate.testing.network import free_port

ROUTE = Route(
    service="books-ms",
    paths=("/api/v1/books", "/api/v1/c++"),
    domains=("books.example.com", "www.example.com"),
    port="8080/tcp",
    live_color=Color.GREEN,
)


def settings(tmp_path: Path, env: dict[str, str] | None = None, **flags: Any) -> Settings:
    flags.setdefault("registry", "consul")
    return load_settings(
        tmp_path, flags=flags, env=env or {}, extra_keys=DockerFlowProxy.config_keys
    )


@pytest.fixture
def server() -> Iterator[DockerFlowProxyTestServer]:
    with dfp_test_server() as running:
        yield running


@pytest.fixture
def proxy(tmp_path: Path, server: DockerFlowProxyTestServer) -> DockerFlowProxy:
    return DockerFlowProxy(
        settings(tmp_path, proxy_host=server.host, proxy_reconf_port=server.port)
    )


def test_registers_through_the_backend_hook() -> None:
    pm = pluggy.PluginManager("flowgate")
    pm.add_hookspecs(hookspecs)
    pm.register(docker_flow_proxy)
    assert [DockerFlowProxy] in pm.hook.flowgate_backends()
    assert (DockerFlowProxy.kind, DockerFlowProxy.name) == ("proxy", "docker-flow-proxy")


def test_apply_sends_exactly_the_documented_parameters(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    proxy.apply(ROUTE)
    [call] = server.calls("reconfigure")
    assert call.params == {
        "serviceName": "books-ms",
        "serviceColor": "green",
        "servicePath": "/api/v1/books,/api/v1/c++",
        "serviceDomain": "books.example.com,www.example.com",
        "port": "8080",
    }
    # URL-encoded: the comma separating paths and the `+` survive the trip.
    assert "servicePath=%2Fapi%2Fv1%2Fbooks%2C%2Fapi%2Fv1%2Fc%2B%2B" in call.query
    assert call.method == "GET"


def test_apply_sends_path_type_and_skip_check_when_configured(
    tmp_path: Path, server: DockerFlowProxyTestServer
) -> None:
    env = {
        "FLOW_PROXY_HOST": server.host,
        "FLOW_PROXY_RECONF_PORT": str(server.port),
        "FLOWGATE_PROXY_PATH_TYPE": "path_reg",
        "FLOWGATE_PROXY_SKIP_CHECK": "true",
    }
    proxy = DockerFlowProxy(settings(tmp_path, env=env))
    proxy.apply(Route(service="books-ms", paths=("/",), live_color=Color.BLUE))
    [call] = server.calls("reconfigure")
    assert call.params == {
        "serviceName": "books-ms",
        "serviceColor": "blue",
        "servicePath": "/",
        "pathType": "path_reg",
        "skipCheck": "true",
    }


def test_switching_colors_tells_the_proxy_the_new_live_color(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    proxy.apply(ROUTE)
    proxy.apply(Route(service="books-ms", paths=ROUTE.paths, live_color=Color.BLUE))
    colors = [call.params["serviceColor"] for call in server.calls("reconfigure")]
    assert colors == ["green", "blue"]


def test_nothing_live_yet_sends_nothing(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    proxy.apply(Route(service="books-ms", paths=("/api",), preview_color=Color.BLUE))
    assert server.requests == []


def test_remove_sends_the_service_name(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    proxy.remove("books-ms")
    assert [call.params for call in server.calls("remove")] == [{"serviceName": "books-ms"}]


def test_missing_proxy_host_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="proxy_host") as caught:
        DockerFlowProxy(settings(tmp_path))
    assert caught.value.key == "proxy_host"


@pytest.mark.parametrize("path", ["/a,b", "/api\nbind :1", "api"])
def test_paths_the_proxy_would_misread_are_refused_before_any_request(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer, path: str
) -> None:
    with pytest.raises(ConfigError, match="service_path"):
        proxy.apply(Route(service="books-ms", paths=(path,), live_color=Color.BLUE))
    assert server.requests == []


def test_a_400_answer_is_a_release_failure_with_the_proxys_message(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    server.fail(400, "When MODE is set to swarm, the port query is mandatory")
    with pytest.raises(ReleaseFailed) as caught:
        proxy.apply(ROUTE)
    message = str(caught.value)
    assert "HTTP 400" in message
    assert "the port query is mandatory" in message
    assert "\n" not in message


def test_a_500_answer_is_a_release_failure(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    server.fail(500, "HAProxy reload failed")
    with pytest.raises(ReleaseFailed, match=r"remove books-ms: HTTP 500: HAProxy reload failed"):
        proxy.remove("books-ms")


def test_a_closed_port_is_unreachable(tmp_path: Path) -> None:
    port = free_port()
    proxy = DockerFlowProxy(settings(tmp_path, proxy_host="127.0.0.1", proxy_reconf_port=port))
    expected = f"cannot reach Docker Flow Proxy at http://127.0.0.1:{port}: .*refused"
    with pytest.raises(BackendUnreachable, match=expected):
        proxy.check()
    with pytest.raises(BackendUnreachable, match=expected):
        proxy.apply(ROUTE)


def test_check_accepts_any_http_answer(
    proxy: DockerFlowProxy, server: DockerFlowProxyTestServer
) -> None:
    proxy.check()  # the stand-in answers 404 on /, as the proxy's router does
    assert [r.path for r in server.requests] == ["/"]


def test_urls(tmp_path: Path) -> None:
    proxy = DockerFlowProxy(settings(tmp_path, proxy_host="proxy.example.com"))
    assert proxy.public_url(ROUTE) == "http://proxy.example.com/api/v1/books"
    assert proxy.preview_url(ROUTE) is None
    assert proxy.preview_headers(ROUTE) == {}
    other = DockerFlowProxy(settings(tmp_path, proxy_host="10.0.0.5", proxy_port=8000))
    assert other.public_url(Route(service="s", paths=())) == "http://10.0.0.5:8000/"


def test_an_unreachable_proxy_docker_host(tmp_path: Path) -> None:
    socket_path = tmp_path / "no-engine.sock"
    proxy = DockerFlowProxy(
        settings(tmp_path, proxy_host="127.0.0.1", proxy_docker_host=f"unix://{socket_path}")
    )
    with pytest.raises(BackendUnreachable, match="cannot reach the proxy's Docker host unix://"):
        proxy.check()


def test_a_proxy_docker_host_that_is_no_url(tmp_path: Path) -> None:
    """Refused when the settings load (exit 4, naming file and key), before any backend
    could try it."""
    (tmp_path / "flowgate.yml").write_text("proxy_docker_host: ftp://somewhere\n")
    with pytest.raises(ConfigError, match=r"^flowgate.yml: proxy_docker_host: expected unix://"):
        settings(tmp_path, proxy_host="127.0.0.1")


def test_check_refuses_a_registry_that_does_not_fill_consul(
    tmp_path: Path, server: DockerFlowProxyTestServer
) -> None:
    """Docker Flow Proxy finds instances in Consul's catalog: with the file registry
    nothing would ever be routed, so check() stops with a configuration error (exit 4)
    before anything is started or asked."""
    proxy = DockerFlowProxy(
        settings(tmp_path, proxy_host=server.host, proxy_reconf_port=server.port, registry="file")
    )
    with pytest.raises(ConfigError, match=r"^registry: proxy: docker-flow-proxy finds") as err:
        proxy.check()
    assert err.value.exit_code == 4
    assert "set registry: consul" in str(err.value)
    assert server.requests == []
