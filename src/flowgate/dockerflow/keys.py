"""Settings keys Docker Flow had and flowgate's core does not: TLS material for the Docker
hosts, the Consul Template snippets for Docker Flow Proxy, the test compose path (accepted,
no effect), and `pull` (the target's image is pulled before each deploy, as Docker Flow's
deploy step did). A built-in plugin, so every verb knows them (`FLOW_*` variables too)."""

from __future__ import annotations

from flowgate import hookimpl
from flowgate.config.keys import Key, parse_bool, parse_str

DOCKER_FLOW_KEYS = (
    Key(
        "cert_path",
        parse_str,
        None,
        "FLOW_CERT_PATH",
        "Docker TLS material (else DOCKER_CERT_PATH)",
    ),
    Key(
        "proxy_docker_cert_path",
        parse_str,
        None,
        "FLOW_PROXY_DOCKER_CERT_PATH",
        "TLS material of the proxy's Docker host",
    ),
    Key(
        "consul_template_fe_path",
        parse_str,
        None,
        "FLOW_CONSUL_TEMPLATE_FE_PATH",
        "docker-flow-proxy: Consul Template frontend snippet",
    ),
    Key(
        "consul_template_be_path",
        parse_str,
        None,
        "FLOW_CONSUL_TEMPLATE_BE_PATH",
        "docker-flow-proxy: Consul Template backend snippet",
    ),
    Key("test_compose_path", parse_str, None, "FLOW_TEST_COMPOSE_PATH", "accepted, no effect"),
    Key("pull", parse_bool, False, None, "pull the target's image before each deploy"),
    Key(
        "color_names",
        parse_bool,
        True,
        None,
        "docker: the color in container names (`flow` without blue-green: Compose's names)",
    ),
)


@hookimpl
def flowgate_config_keys() -> list[Key]:
    return list(DOCKER_FLOW_KEYS)
