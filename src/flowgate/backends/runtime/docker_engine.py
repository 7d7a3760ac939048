"""What the `docker` and `swarm` runtimes share: the engine connection and a small thread
pool helper, so both report an unreachable engine the same way (the SDK client and its
error mapping themselves live in flowgate.backends.docker_sdk, shared with the proxies).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, TypeVar

from flowgate.backends.docker_sdk import docker_errors, docker_reason, open_client
from flowgate.config.keys import Key, parse_seconds
from flowgate.errors import BackendUnreachable

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


FAILURES = (
    ("No such file or directory", "no socket there"),
    ("FileNotFoundError", "no socket there"),
    ("Connection refused", "connection refused"),
    ("Permission denied", "permission denied (run as root or join the docker group)"),
    ("timed out", "no answer (timed out)"),
    ("Name or service not known", "unknown host name"),
    ("Temporary failure in name resolution", "unknown host name"),
)


def engine_failure(err: BaseException) -> str:
    """Why an engine did not answer, in words (the SDK wraps it in several layers)."""
    text = repr(err) + str(err) + repr(err.__cause__ or "") + repr(err.__context__ or "")
    for needle, words in FAILURES:
        if needle in text:
            return words
    reason = docker_reason(err) if isinstance(err, Exception) else str(err)
    return reason[:200]


class EngineConnection:
    """A lazily opened Docker SDK client for `host` (else DOCKER_HOST, else the local socket)."""

    settings: Settings
    _client: DockerClient | None = None

    @property
    def url(self) -> str:
        default = "unix:///var/run/docker.sock"
        return str(self.settings.host or os.environ.get("DOCKER_HOST") or default)

    @property
    def _unreachable(self) -> str:
        return f"cannot reach the Docker engine at {self.url}{self._chosen_by}"

    @property
    def _chosen_by(self) -> str:
        if self.settings.get("host"):
            source = getattr(self.settings, "sources", {}).get("host", "host")
            return f" (set by {'a flag' if source == 'flag' else source})"
        return " (DOCKER_HOST)" if os.environ.get("DOCKER_HOST") else " (the default socket)"

    def _cannot_reach(self, err: BaseException) -> BackendUnreachable:
        """One line: the address tried, where it came from, why, and what to do."""
        return BackendUnreachable(
            f"{self._unreachable}: {engine_failure(err)}; start the Docker daemon there "
            "(e.g. `systemctl start docker` or `dockerd`), or point DOCKER_HOST or `host:` "
            "in flowgate.yml at a running engine"
        )

    def _connect(self, timeout: int) -> DockerClient:
        # Docker Flow's --cert-path / FLOW_CERT_PATH, else Docker's own DOCKER_CERT_PATH.
        cert_path = self.settings.get("cert_path")
        try:
            return open_client(self.url, timeout, self._unreachable, cert_path=cert_path)
        except BackendUnreachable as err:
            raise self._cannot_reach(err.__cause__ or err) from err.__cause__

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
            raise self._cannot_reach(err) from err
        finally:
            client.close()

    def _errors(self, action: str) -> AbstractContextManager[None]:
        """Turn docker SDK errors into flowgate's: unreachable engine, or a failed step."""
        return docker_errors(f"docker: {action} failed", self._unreachable)
