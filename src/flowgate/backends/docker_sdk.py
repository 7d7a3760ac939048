"""The Docker SDK, once: opening a client for an engine and turning its errors into
flowgate's.

Runtimes run the service on an engine; the `haproxy` and `docker-flow-proxy` backends may
run their proxy as a container on one. Both kinds use this neutral module, so a proxy
never imports a runtime and every engine error reads the same way. `docker` and
`requests` are imported only when a client is opened or an error is mapped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flowgate.errors import BackendUnreachable, ConfigError, FlowgateError, ReleaseFailed

if TYPE_CHECKING:
    from docker import DockerClient


def docker_reason(err: Exception) -> str:
    """The first line of what the Docker engine or SDK said went wrong."""
    text = str(getattr(err, "explanation", None) or err)
    return text.splitlines()[0] if text else type(err).__name__


def open_client(
    url: str, timeout: int, unreachable: str, key: str | None = None, cert_path: str | None = None
) -> DockerClient:
    """A docker SDK client for the engine at `url`; DOCKER_TLS_VERIFY / DOCKER_CERT_PATH
    from the environment still apply, `cert_path` (TLS material) replacing the latter.

    The SDK asks the engine for its API version here, so an engine that does not answer
    raises BackendUnreachable(`unreachable: reason`). A URL the SDK refuses is a
    ConfigError on `key` when the URL came from that key, else unreachable too.
    """
    import docker
    import requests

    try:
        environment = {**os.environ, "DOCKER_HOST": url}
        if cert_path:
            environment["DOCKER_CERT_PATH"] = cert_path
        return docker.from_env(timeout=timeout, environment=environment)
    except docker.errors.DockerException as err:
        if key is not None and not isinstance(err.__cause__, requests.RequestException):
            raise ConfigError(f"not a Docker host URL: {docker_reason(err)}", key=key) from err
        raise BackendUnreachable(f"{unreachable}: {docker_reason(err)}") from err


@contextmanager
def docker_errors(failed: str, unreachable: str) -> Iterator[None]:
    """Map docker SDK errors raised inside: the engine's own refusals (APIError, which is
    an HTTP error too, so it comes first) and other SDK errors are ReleaseFailed(`failed:
    reason`); a connection that breaks is BackendUnreachable(`unreachable: reason`)."""
    import docker
    import requests

    try:
        yield
    except FlowgateError:
        raise
    except docker.errors.DockerException as err:
        raise ReleaseFailed(f"{failed}: {docker_reason(err)}") from err
    except requests.RequestException as err:
        raise BackendUnreachable(f"{unreachable}: {docker_reason(err)}") from err
