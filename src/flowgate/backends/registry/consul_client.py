"""Where Consul is and how to talk to it: address, token and TLS, like Consul's own CLI.

The address comes from `consul_address` (FLOW_CONSUL_ADDRESS, Docker Flow's key), else
CONSUL_HTTP_ADDR, else 127.0.0.1:8500; with or without a scheme. CONSUL_HTTP_TOKEN,
CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT and CONSUL_CLIENT_CERT /
CONSUL_CLIENT_KEY mean what they mean to the `consul` command.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flowgate.errors import BackendUnreachable, ConfigError

DEFAULT_ADDRESS = "127.0.0.1:8500"


def _true(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ConsulEndpoint:
    scheme: str
    host: str
    port: int
    token: str | None = None
    verify: bool | str = True
    cert: tuple[str, str] | str | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def resolve(cls, address: str | None, env: Mapping[str, str]) -> ConsulEndpoint:
        source = "consul_address" if address else "CONSUL_HTTP_ADDR"
        raw = address or env.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDRESS
        ssl = _true(env.get("CONSUL_HTTP_SSL"))
        parts = urlsplit(raw if "://" in raw else "//" + raw)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or parts.scheme not in ("", "http", "https"):
            raise ConfigError(f"expected host:port or http(s)://host:port, got {raw!r}", key=source)
        scheme = parts.scheme or ("https" if ssl else "http")
        verify: bool | str = _true(env.get("CONSUL_HTTP_SSL_VERIFY")) is not False
        if verify and env.get("CONSUL_CACERT"):
            verify = env["CONSUL_CACERT"]
        cert: tuple[str, str] | str | None = None
        if env.get("CONSUL_CLIENT_CERT"):
            key = env.get("CONSUL_CLIENT_KEY")
            cert = (env["CONSUL_CLIENT_CERT"], key) if key else env["CONSUL_CLIENT_CERT"]
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port or (443 if scheme == "https" and not parts.port else 8500),
            token=env.get("CONSUL_HTTP_TOKEN") or None,
            verify=verify,
            cert=cert,
        )

    def client(self, timeout: float | tuple[float, float]) -> Any:
        """A py-consul client; `timeout` is seconds per request, or (connect, read) as
        requests takes it (py-consul hands it over unchanged)."""
        import consul

        return consul.Consul(
            host=self.host,
            port=self.port,
            scheme=self.scheme,
            token=self.token,
            verify=self.verify,
            cert=self.cert,
            connections_timeout=timeout,
        )


def _reason(err: BaseException) -> str:
    text = str(err)
    found = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if found:
        return found[-1].strip()
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:160] if text else type(err).__name__


@contextmanager
def consul_errors(endpoint: ConsulEndpoint, what: str) -> Iterator[None]:
    """Turn transport errors into BackendUnreachable and API refusals into FlowgateError."""
    import consul
    import requests

    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as err:
        raise BackendUnreachable(f"cannot reach Consul at {endpoint.url}: {_reason(err)}") from err
    except (consul.ACLPermissionDenied, consul.ACLDisabled) as err:
        # A refused token is fixed in the configuration, not by retrying: exit 4.
        raise ConfigError(
            f"Consul at {endpoint.url} refused {what}: permission denied (ACL); set it to a "
            "token with key:write on flowgate/ and docker-flow/ and session:write",
            source="CONSUL_HTTP_TOKEN",
        ) from err
    except consul.ConsulException as err:
        # Consul answered but failed (a 5xx, no leader): the backend cannot do its job.
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise BackendUnreachable(f"Consul at {endpoint.url} failed {what}: {first}") from err


def env_from_os() -> dict[str, str]:
    return dict(os.environ)
