"""The `docker-flow-proxy` proxy backend: drives Docker Flow Proxy through its HTTP API.

Docker Flow Proxy (in its Consul/Registrator mode) finds a service's instances itself, by
the `<service>-<color>` name in Consul, so flowgate only tells it which color is live:
`GET /v1/docker-flow-proxy/reconfigure?serviceName=..&serviceColor=..&servicePath=..`.
It has no preview route: `preview_url()` is None, so the test gate and the pytest plugin
reach the new color at its first instance directly.

Like Docker Flow, flowgate starts the `docker-flow-proxy` container on
`proxy_docker_host` when none runs there.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from flowgate import hookimpl
from flowgate.backends.base import Proxy, Route
from flowgate.backends.docker_sdk import docker_errors, open_client
from flowgate.backends.proxy import dfp_templates
from flowgate.config.keys import Key, parse_bool, parse_port, parse_str
from flowgate.errors import BackendUnreachable, ConfigError, ReleaseFailed
from flowgate.route_values import check_service_name

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container
    from requests import Response

    from flowgate.config.settings import Settings

log = logging.getLogger(__name__)

API = "/v1/docker-flow-proxy"
TIMEOUT = (3.0, 10.0)  # connect, read: an unreachable proxy must fail fast
START_TIMEOUT = 30.0  # seconds a freshly started proxy container gets to answer
_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")]*")
#: Docker Flow Proxy takes service names with capitals (Docker Flow kept the project's case).
_HOST = re.compile(r"^(?:(?P<scheme>https?)://)?(?P<host>[^/:\s]+)(?::(?P<port>\d+))?/?$", re.I)


def _optional_str(value: Any) -> str | None:
    return parse_str(value) or None


class DockerFlowProxy(Proxy):
    name = "docker-flow-proxy"
    config_keys = (
        Key("proxy_image", parse_str, "vfarcic/docker-flow-proxy", None, "proxy's image"),
        Key("proxy_container", parse_str, "docker-flow-proxy", None, "proxy container's name"),
        Key("proxy_https_port", parse_port, 443, None, "proxy's published HTTPS port"),
        Key("proxy_path_type", _optional_str, None, None, "pathType sent to the proxy"),
        Key("proxy_skip_check", parse_bool, False, None, "skipCheck sent to the proxy"),
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        host = settings.get("proxy_host")
        if not host:
            raise ConfigError(
                "required by proxy: docker-flow-proxy (set proxy_host in flowgate.yml "
                "or FLOW_PROXY_HOST)",
                key="proxy_host",
            )
        # Like Docker Flow: a scheme is optional (http:// is added), and so is a port.
        found = _HOST.match(str(host))
        if not found:
            raise ConfigError(f"expected [http[s]://]host[:port], got {host!r}", key="proxy_host")
        self.scheme = (found.group("scheme") or "http").lower()
        self.host = found.group("host")
        self.reconf_port = int(found.group("port") or settings.proxy_reconf_port)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.reconf_port}"

    # -- Proxy interface ----------------------------------------------------------------

    def check(self) -> None:
        """Refuse a registry that cannot feed the proxy; start the proxy container if
        flowgate manages it, then make sure the API answers."""
        if self.settings.registry != "consul":
            raise ConfigError(
                f"proxy: docker-flow-proxy finds instances in Consul's catalog, which only "
                f"registry: consul fills (got {self.settings.registry!r}): set registry: consul "
                "and consul_address",
                key="registry",
            )
        if self._ensure_container():
            self._wait_until_answering()
        else:
            self._get("/")

    def apply(self, route: Route) -> None:
        params = self.reconfigure_params(route)
        if self._ensure_container():
            self._wait_until_answering()
        if params is None:
            log.debug("%s has no live color yet: nothing to tell the proxy", route.service)
            return
        templates = dfp_templates.template_paths(self.settings)
        if templates is not None and route.live_color is not None:
            files = dfp_templates.rendered(templates, route.service, str(route.live_color))
            self._copy_templates(files)
            params = dfp_templates.template_params(route.service)
        self._call("reconfigure", params, route.service)

    def remove(self, service: str) -> None:
        self._call("remove", {"serviceName": check_service_name(service)}, service)

    def _copy_templates(self, files: dict[str, str]) -> None:
        """Docker Flow copied the snippets into the proxy's container: it needs its host."""
        docker_host = self.settings.get("proxy_docker_host")
        if not docker_host:
            raise ConfigError(
                "Consul Template paths need the proxy's Docker host, to copy the snippets "
                "into its container (--proxy-docker-host, FLOW_PROXY_DOCKER_HOST)",
                key="proxy_docker_host",
            )
        name = str(self.settings.get("proxy_container") or "docker-flow-proxy")
        unreachable = f"cannot reach the proxy's Docker host {docker_host}"
        client = self._docker_client(unreachable)
        try:
            with docker_errors(f"cannot copy the templates into {name}", unreachable):
                dfp_templates.copy_into(client.containers.get(name), files)
        finally:
            client.close()

    def _docker_client(self, unreachable: str) -> DockerClient:
        """The proxy's Docker host; its TLS material from proxy_docker_cert_path, else
        Docker's own DOCKER_CERT_PATH / DOCKER_TLS_VERIFY."""
        docker_host = str(self.settings.get("proxy_docker_host"))
        cert_path = self.settings.get("proxy_docker_cert_path")
        return open_client(
            docker_host, 30, unreachable, key="proxy_docker_host", cert_path=cert_path
        )

    def public_url(self, route: Route) -> str | None:
        port = self.settings.proxy_port
        netloc = self.host if port == 80 else f"{self.host}:{port}"
        return f"http://{netloc}{(route.paths or ('/',))[0]}"

    def preview_url(self, route: Route) -> str | None:
        """Docker Flow Proxy has no preview route: tests reach the new color directly."""
        return None

    # -- the API --------------------------------------------------------------------------

    def reconfigure_params(self, route: Route) -> dict[str, str] | None:
        """The documented query of a reconfigure request, or None when nothing is live.

        The route's values were checked when it was built; a comma inside a path would
        still split into two paths on the proxy's side, so it is refused here.
        """
        service = route.service
        paths = list(route.paths)
        for path in paths:
            if "," in path:
                raise ConfigError(
                    f"{path!r}: Docker Flow Proxy separates paths with commas", key="service_path"
                )
        domains = list(route.domains)
        if route.live_color is None:
            return None
        params = {
            "serviceName": service,
            "serviceColor": str(route.live_color),
            "servicePath": ",".join(paths),
        }
        if domains:
            params["serviceDomain"] = ",".join(domains)
        if self.settings.get("proxy_path_type"):
            params["pathType"] = str(self.settings.get("proxy_path_type"))
        if self.settings.get("proxy_skip_check"):
            params["skipCheck"] = "true"
        if route.port:
            params["port"] = route.port.split("/", 1)[0]
        return params

    def _get(self, path: str, params: dict[str, str] | None = None) -> Response:
        import requests

        try:
            return requests.get(self.base_url + path, params=params, timeout=TIMEOUT)
        except requests.RequestException as err:
            raise BackendUnreachable(
                f"cannot reach Docker Flow Proxy at {self.base_url}: {_reason(err)}"
            ) from err

    def _call(self, action: str, params: dict[str, str], service: str) -> None:
        response = self._get(f"{API}/{action}", params)
        if response.status_code != 200:
            raise ReleaseFailed(
                f"Docker Flow Proxy at {self.base_url} refused to {action} {service}: "
                f"HTTP {response.status_code}: {_message(response)}"
            )

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._get("/")
                return
            except BackendUnreachable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    # -- the proxy's container ----------------------------------------------------------

    def _ensure_container(self) -> bool:
        """Start the proxy on `proxy_docker_host` unless it runs; True when it was started."""
        docker_host = self.settings.get("proxy_docker_host")
        if not docker_host:
            return False
        name = self.settings.proxy_container
        unreachable = f"cannot reach the proxy's Docker host {docker_host}"
        client = self._docker_client(unreachable)
        try:
            with docker_errors(f"cannot start {name} on {docker_host}", unreachable):
                existing = _find(client, name)
                if existing is not None and existing.status == "running":
                    return False
                if existing is not None:
                    existing.start()
                else:
                    self._run(client, name)
        finally:
            client.close()
        log.info("started %s on %s", name, docker_host)
        return True

    def _run(self, client: DockerClient, name: str) -> Container:
        environment = {}
        if self.settings.get("consul_address"):
            environment["CONSUL_ADDRESS"] = str(self.settings.get("consul_address"))
        ports = {
            "80/tcp": self.settings.proxy_port,
            "443/tcp": self.settings.proxy_https_port,
            "8080/tcp": self.reconf_port,
        }
        image = self.settings.proxy_image
        return client.containers.run(
            image, name=name, detach=True, ports=ports, environment=environment
        )


def _find(client: DockerClient, name: str) -> Container | None:
    import docker.errors

    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _reason(err: Exception) -> str:
    """The useful tail of a requests error ("[Errno 111] Connection refused", "timed out")."""
    import requests

    text = str(err)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    if isinstance(err, requests.Timeout):
        return "timed out"
    return text.splitlines()[0] if text else type(err).__name__


def _message(response: Response) -> str:
    """The proxy's `Message` when it sent JSON, else the first line of its body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("Message"):
        return str(data["Message"]).splitlines()[0]
    text = response.text.strip()
    return text.splitlines()[0][:200] if text else response.reason or "no message"


@hookimpl
def flowgate_backends() -> list[type[Proxy]]:
    return [DockerFlowProxy]
