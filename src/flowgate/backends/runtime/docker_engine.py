"""What the `docker` and `swarm` runtimes share: the engine connection, its error mapping
and a small thread pool helper, so both report an unreachable engine the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from flowgate.config.keys import Key, parse_seconds
from flowgate.errors import BackendUnreachable, FlowgateError, ReleaseFailed

if TYPE_CHECKING:
    from docker import DockerClient

    from flowgate.config.settings import Settings

PING_TIMEOUT = 5
MAX_WORKERS = 8
STOP_TIMEOUT = Key("stop_timeout", parse_seconds, 10.0, None, "seconds a container gets to stop")
T = TypeVar("T")
R = TypeVar("R")


def parallel(func: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """Run `func` over `items` concurrently; the first error is raised after all finished."""
    items = list(items)
    if len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), MAX_WORKERS)) as pool:
        futures = [pool.submit(func, item) for item in items]
    return [future.result() for future in futures]


class EngineConnection:
    """A lazily opened Docker SDK client for `host` (else DOCKER_HOST, else the local socket)."""

    settings: Settings
    _client: DockerClient | None = None

    @property
    def url(self) -> str:
        default = "unix:///var/run/docker.sock"
        return str(self.settings.get("host") or os.environ.get("DOCKER_HOST") or default)

    def _unreachable(self, err: Exception) -> BackendUnreachable:
        return BackendUnreachable(f"cannot reach the Docker engine at {self.url}: {err}")

    def _connect(self, timeout: int) -> DockerClient:
        import docker

        try:
            # from_env keeps DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for a configured host too.
            environment = {**os.environ, "DOCKER_HOST": self.url}
            if self.settings.get("cert_path"):  # Docker Flow's --cert-path / FLOW_CERT_PATH
                environment["DOCKER_CERT_PATH"] = str(self.settings.get("cert_path"))
            return docker.from_env(timeout=timeout, environment=environment)
        except docker.errors.DockerException as err:
            raise self._unreachable(err) from err

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            self._client = self._connect(timeout=120)
        return self._client

    @contextmanager
    def _pinged(self) -> Iterator[DockerClient]:
        """A short-timeout client whose engine answered a ping; closed afterwards."""
        import docker
        import requests

        client = self._connect(timeout=PING_TIMEOUT)
        try:
            client.ping()
            yield client
        except (docker.errors.DockerException, requests.RequestException) as err:
            raise self._unreachable(err) from err
        finally:
            client.close()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn docker SDK errors into flowgate's: unreachable engine, or a failed step."""
        import docker
        import requests

        try:
            yield
        except FlowgateError:
            raise
        except requests.ConnectionError as err:
            raise self._unreachable(err) from err
        except docker.errors.DockerException as err:
            raise ReleaseFailed(f"docker: {action} failed: {docker_reason(err)}") from err


def docker_reason(err: Exception) -> str:
    """The first line of what the Docker engine or SDK said went wrong."""
    text = str(getattr(err, "explanation", None) or err)
    return text.splitlines()[0] if text else type(err).__name__
