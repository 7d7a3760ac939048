"""HAProxy as a container on `proxy_docker_host` instead of a local master-worker process.

Only the way the master starts and stops differs. The container shares the host's network
(`network_mode: host`) and has the project's state dir bind-mounted at the same path, so the
same config file, master socket and Runtime API socket are used as in process mode, and
rendering, `haproxy -c`, Runtime API switches and confirmed reloads stay identical. The
directory is mounted, not the file: a config swapped in with `os.replace` is a new inode,
which a single-file bind mount would never see.

Sharing files and sockets needs an engine on this machine, so a `proxy_docker_host` on
another machine is refused. `container.json` in the state dir records the engine and the
container's name, so `stop_haproxy(project_dir)` finds it without the settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flowgate.backends.docker_sdk import docker_errors, docker_reason, open_client
from flowgate.backends.proxy import haproxy_control as control
from flowgate.backends.proxy.haproxy_control import HAProxyFiles, ProcInfo
from flowgate.errors import ConfigError, ReleaseFailed

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from flowgate.config.settings import Settings

DEFAULT_IMAGE = "haproxy:2.6"
LABEL_PROJECT = "io.flowgate.project"
LABEL_STATE_DIR = "io.flowgate.haproxy"  # the state dir the container serves
MARKER = "container.json"


def local_docker_host(value: str) -> str:
    """The Docker host URL when its engine runs on this machine; else a ConfigError.

    unix sockets are local; a tcp/http(s) host is local when its address belongs to this
    machine (binding to it succeeds). ssh:// and npipe:// are never treated as local.
    """
    parts = urlsplit(value if "://" in value else f"unix://{value}")
    if parts.scheme == "unix" and (parts.path or parts.netloc):
        return value
    if parts.scheme in ("tcp", "http", "https") and parts.hostname and _is_local(parts.hostname):
        return value
    raise ConfigError(
        f"haproxy runs as a container only on a Docker engine on this machine (unix:// or a "
        f"tcp:// address of this host), because it shares its sockets and config through a "
        f"bind mount; got {value!r}",
        key="proxy_docker_host",
    )


def _is_local(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    for family, _, _, _, address in infos:
        if ipaddress.ip_address(address[0]).is_loopback:
            return True
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address[0], 0))  # only an address of this machine binds
                return True
            except OSError:
                continue
    return False


def container_name(project: str, files: HAProxyFiles) -> str:
    """The project's name plus a digest of the state dir: two checkouts never collide."""
    digest = hashlib.sha256(str(files.root).encode()).hexdigest()[:8]
    return f"flowgate-haproxy-{project}-{digest}"


class HAProxyContainer:
    """Starts, finds and stops one project's HAProxy container; validates configs."""

    def __init__(self, files: HAProxyFiles, docker_host: str, image: str, project: str) -> None:
        self.files = files
        self.docker_host = local_docker_host(docker_host)
        self.image = image
        self.project = project
        self.name = container_name(project, files)

    @classmethod
    def from_settings(cls, settings: Settings, files: HAProxyFiles) -> HAProxyContainer | None:
        """None when `proxy_docker_host` is unset: HAProxy then runs as a local process."""
        docker_host = settings.get("proxy_docker_host")
        if not docker_host:
            return None
        from flowgate.engine.context import project_name

        image = str(settings.get("haproxy_image") or DEFAULT_IMAGE)
        return cls(files, str(docker_host), image, project_name(settings))

    def check(self) -> None:
        """The engine answers (connecting asks it for its API version); nothing changes."""
        with self._client():
            pass

    def running(self) -> bool:
        with self._client() as client:
            container = _find(client, self.name)
            return container is not None and container.status == "running"

    def start(self, timeout: float = 30.0) -> ProcInfo:
        """Replace any stopped container of ours with a fresh one and wait for its worker."""
        if control.master_pid(self.files) is not None:
            raise ReleaseFailed(
                "haproxy: a local HAProxy process serves this project; stop it "
                "(stop_haproxy) before running HAProxy as a container"
            )
        self.files.ensure()
        with self._client() as client:
            old = _find(client, self.name)
            if old is not None:
                old.remove(force=True)
            self._write_marker()
            container = self._run(client)
            return self._wait_for_worker(container, timeout)

    def validate(self, path: Path) -> None:
        """`haproxy -c` with the local binary when there is one, else in a one-off container."""
        if shutil.which("haproxy"):
            control.validate_config(path)
            return
        import docker.errors

        with self._client() as client:
            try:
                client.containers.run(
                    self.image,
                    entrypoint=["haproxy"],
                    command=["-c", "-f", str(path)],  # -q would hide the ALERT lines too
                    mounts=self._mounts(),
                    user=_user(),
                    network_mode="none",
                    remove=True,
                )
            except docker.errors.ContainerError as err:
                text = (err.stderr or b"").decode(errors="replace")
                lines = [ln for ln in text.splitlines() if "ALERT" in ln]
                detail = (lines or text.splitlines() or ["no output"])[0]
                raise ReleaseFailed(
                    f"haproxy: rendered config is invalid, nothing applied: {detail}"
                ) from err
            except docker.errors.DockerException as err:
                raise ReleaseFailed(
                    f"haproxy: cannot check the config in {self.image}: {docker_reason(err)}"
                ) from err

    # -- the container ------------------------------------------------------------------

    def _run(self, client: DockerClient) -> Container:
        import docker.errors

        try:
            return client.containers.run(
                self.image,
                entrypoint=["haproxy"],  # found on PATH in the official and Debian images
                command=[
                    "-W",
                    "-S",
                    f"{self.files.master_socket},mode,600",
                    "-f",
                    str(self.files.config),
                ],
                name=self.name,
                labels={LABEL_PROJECT: self.project, LABEL_STATE_DIR: str(self.files.root)},
                network_mode="host",
                mounts=self._mounts(),
                user=_user(),
                restart_policy={"Name": "unless-stopped"},
                detach=True,
            )
        except docker.errors.DockerException as err:
            self._marker.unlink(missing_ok=True)
            raise ReleaseFailed(
                f"haproxy: cannot start container {self.name} from {self.image} on "
                f"{self.docker_host}: {docker_reason(err)}"
            ) from err

    def _wait_for_worker(self, container: Container, timeout: float) -> ProcInfo:
        """Wait for a worker; a container that exited (or was restarted by its restart
        policy) or never answers is removed, so nothing half-started is left behind."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                info = control.show_proc(self.files)
                if info.workers:
                    return info
            container.reload()
            exited = container.status not in ("created", "running")
            if exited or container.attrs.get("RestartCount"):
                logs = container.logs(stdout=False, stderr=True).decode(errors="replace")
                alerts = [ln for ln in logs.splitlines() if "ALERT" in ln] or ["no output"]
                self._discard(container)
                raise ReleaseFailed(f"haproxy: container could not start: {alerts[0]}")
            if time.monotonic() > deadline:
                self._discard(container)
                raise ReleaseFailed(
                    f"haproxy: container {self.name} started but no worker answered "
                    f"within {timeout:g}s"
                )
            time.sleep(0.05)

    def _discard(self, container: Container) -> None:
        container.remove(force=True)
        self._marker.unlink(missing_ok=True)

    def _mounts(self) -> list[Any]:
        """The state dir, and the socket dir when a long path moved the sockets elsewhere.

        Mounts, not `-v` strings: those split on `:`, which a project path may hold.
        """
        from docker.types import Mount

        dirs = sorted({str(self.files.root), str(self.files.socket_dir)})
        return [Mount(path, path, type="bind") for path in dirs]

    @property
    def _marker(self) -> Path:
        return self.files.root / MARKER

    def _write_marker(self) -> None:
        data = {"docker_host": self.docker_host, "name": self.name}
        self._marker.write_text(json.dumps(data) + "\n")

    @contextlib.contextmanager
    def _client(self) -> Iterator[DockerClient]:
        with _connect(self.docker_host) as client:
            yield client


def stop_container(files: HAProxyFiles, timeout: float = 10.0) -> bool:
    """Stop and remove the container `container.json` names; True when one was running."""
    marker = files.root / MARKER
    try:
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    import docker.errors

    running = False
    with _connect(str(data["docker_host"])) as client:
        container = _find(client, str(data["name"]))
        if container is not None and container.labels.get(LABEL_STATE_DIR) == str(files.root):
            running = container.status == "running"
            container.stop(timeout=int(timeout))
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
    marker.unlink(missing_ok=True)
    for path in (files.master_socket, files.admin_socket):
        path.unlink(missing_ok=True)
    return running


def stop_haproxy(state_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the project's HAProxy, process or container; True when one was running.

    `state_dir` is the project dir or its `.flowgate/haproxy/` dir. Tests and the demo call
    this in their clean-up.
    """
    root = Path(state_dir)
    files = HAProxyFiles(root) if root.name == "haproxy" else HAProxyFiles.for_project(root)
    stopped = control.stop_master(files, timeout)
    return stop_container(files, timeout) or stopped


@contextlib.contextmanager
def _connect(docker_host: str) -> Iterator[DockerClient]:
    unreachable = f"haproxy: cannot reach the proxy's Docker host {docker_host}"
    client = open_client(docker_host, 30, unreachable)
    try:
        with docker_errors(f"haproxy: Docker host {docker_host}", unreachable):
            yield client
    finally:
        client.close()


def _find(client: DockerClient, name: str) -> Container | None:
    import docker.errors

    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _user() -> str:
    """Run as flowgate's own user, so the sockets HAProxy creates are flowgate's to use."""
    return f"{os.getuid()}:{os.getgid()}"
