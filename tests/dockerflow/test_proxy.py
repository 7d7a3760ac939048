"""Docker Flow's proxy tests (ha_proxy_test.go, flow_test.go's Proxy cases), ported: how
`flowgate flow` talks to Docker Flow Proxy, against the Docker Flow Proxy test server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flow_project import Flow

from flowgate.backends.proxy.docker_flow_proxy import DockerFlowProxy
from flowgate.config.settings import load_settings
from flowgate.dockerflow.keys import DOCKER_FLOW_KEYS
from flowgate.errors import ConfigError


def proxy(tmp_path: Path, host: str, port: str | None = None) -> DockerFlowProxy:
    flags: dict[str, Any] = {"proxy_host": host}
    if port:
        flags["proxy_reconf_port"] = port
    keys = (*DockerFlowProxy.config_keys, *DOCKER_FLOW_KEYS)
    return DockerFlowProxy(load_settings(tmp_path, flags=flags, env={}, extra_keys=keys))


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("my-docker-proxy-host.com", "5362", "http://my-docker-proxy-host.com:5362"),
        ("http://my-docker-proxy-host.com", "5362", "http://my-docker-proxy-host.com:5362"),
        ("HTTPS://proxy", None, "https://proxy:8080"),
        ("proxy:9000", "5362", "http://proxy:9000"),
        ("http://proxy:9000/", None, "http://proxy:9000"),
    ],
)
def test_proxy_host_may_carry_a_scheme_and_a_port(
    tmp_path: Path, host: str, port: str | None, url: str
) -> None:
    assert proxy(tmp_path, host, port).base_url == url


@pytest.mark.parametrize("host", ["http://proxy/path", "ftp://proxy", "proxy host"])
def test_a_proxy_host_that_is_no_host_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError, match="proxy_host"):
        proxy(tmp_path, host)


def test_proxy_host_with_scheme_through_flow(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOW_PROXY_HOST", f"http://{flow.proxy.host}")
    assert flow("-F", "deploy", "-F", "proxy")[0] == 0
    assert flow.sent()[-1]["serviceColor"] == "blue"


def test_reconfigure_request_has_name_color_and_paths(flow: Flow) -> None:
    flow("-F", "deploy", "-F", "proxy", "--service-path", "/path/to/my/service")
    [call] = flow.proxy.calls("reconfigure")
    assert call.path == "/v1/docker-flow-proxy/reconfigure"
    assert (call.params["serviceName"], call.params["serviceColor"]) == ("books-ms-app", "blue")
    assert call.params["servicePath"] == "/path/to/my/service"


def test_a_refusing_proxy_fails_the_step(flow: Flow) -> None:
    flow("-F", "deploy")
    flow.proxy.fail(400, "bad request")
    code, _, err = flow("-F", "proxy")
    assert code == 1
    assert "refused to reconfigure books-ms-app: HTTP 400: bad request" in err


def test_an_unreachable_proxy_fails_before_anything_changes(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowgate.testing.network import free_port

    monkeypatch.setenv("FLOW_PROXY_RECONF_PORT", str(free_port()))
    code, _, err = flow("-F", "deploy", "-F", "proxy")
    assert code == 5
    assert "cannot reach Docker Flow Proxy" in err
    assert flow.containers() == {}


def test_no_proxy_at_all_is_an_error_for_the_proxy_step(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOW_PROXY_HOST")
    flow("-F", "deploy")
    code, _, err = flow("-F", "proxy")
    assert code == 4
    assert "the proxy step needs a proxy" in err


def test_consul_templates_replace_path_and_color(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[dict[str, str]] = []
    monkeypatch.setattr(
        DockerFlowProxy, "_copy_templates", lambda self, files: copied.append(files)
    )
    (flow.folder / "fe.tmpl").write_text("acl url_SERVICE_NAME path_beg /demo\n")
    (flow.folder / "be.tmpl").write_text("backend SERVICE_NAME-be\n")
    (flow.folder / "docker-flow.yml").write_text(
        "target: app\nblue_green: true\n"
        "consul_template_fe_path: fe.tmpl\nconsul_template_be_path: be.tmpl\n"
    )
    assert flow("-F", "deploy", "-F", "proxy")[0] == 0
    assert copied[-1] == {
        "books-ms-app-fe.tmpl": "acl url_books-ms-app-blue path_beg /demo\n",
        "books-ms-app-be.tmpl": "backend books-ms-app-blue-be\n",
    }
    assert flow.sent()[-1] == {
        "serviceName": "books-ms-app",
        "consulTemplateFePath": "/consul_templates/books-ms-app-fe.tmpl",
        "consulTemplateBePath": "/consul_templates/books-ms-app-be.tmpl",
    }


def test_consul_templates_need_the_proxys_docker_host(flow: Flow) -> None:
    (flow.folder / "fe.tmpl").write_text("fe SERVICE_NAME")
    (flow.folder / "be.tmpl").write_text("be SERVICE_NAME")
    flow("-F", "deploy")
    code, _, err = flow(
        "-F", "proxy", "--consul-template-fe-path=fe.tmpl", "--consul-template-be-path=be.tmpl"
    )
    assert code == 4
    assert "need the proxy's Docker host" in err
