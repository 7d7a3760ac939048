"""The context every step hook receives: the project, its target and the chosen backends."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy

    from flowgate.backends.base import Proxy, Registry, Runtime
    from flowgate.config.compose import ComposeFile, ServiceSpec
    from flowgate.config.settings import Settings
    from flowgate.models import Color, Instance, Release, TargetState


def project_name(settings: Settings) -> str:
    """The project's name by Compose's rules (see flowgate.config.names)."""
    from flowgate.config.names import compose_project_name

    return compose_project_name(settings)


@dataclass
class ReleaseContext:
    """What a step needs. `state` and `release` are the engine's, saved after every step."""

    pm: pluggy.PluginManager
    settings: Settings
    compose: ComposeFile
    project: str
    target: str
    runtime: Runtime
    proxy: Proxy
    registry: Registry
    state: TargetState
    release: Release | None = None
    deadline: float | None = None  # time.monotonic() by which the release must end
    echo_test_output: bool = True  # stream the suites' pytest output to stderr (off with -q)
    #: The registry's name for the target when it is not `<project>-<target>` (Docker
    #: Flow keeps the project's case in its Consul keys; containers use the Compose name).
    service_name_override: str | None = None
    #: Each color's instances as the hooks last answered in this verb (`deploy`,
    #: `scale`, `start`, `instances`): those ARE the color's instances (engine/calls.py).
    known_instances: dict[Color, list[Instance]] = field(default_factory=dict)
    #: The public route's paths and domains when they are not the settings' (engine/
    #: routing.py): a verb that must not change the public route keeps the live one's.
    route_override: dict[str, Any] | None = None
    #: The service definition to deploy instead of the Compose file's: a rollback that
    #: re-creates a release from its record (engine/wayback.py).
    service_override: ServiceSpec | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def remaining(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def health_timeout(self) -> float:
        """The configured health wait, cut short by the release's own `--timeout`."""
        timeout = float(self.settings.health_timeout)
        remaining = self.remaining()
        return timeout if remaining is None else min(timeout, remaining)

    @property
    def service(self) -> ServiceSpec:
        if self.service_override is not None:
            return self.service_override
        return self.compose.service(self.target)

    @property
    def service_name(self) -> str:
        return self.service_name_override or f"{self.project}-{self.target}"

    @property
    def project_dir(self) -> Path:
        return self.settings.project_dir

    @property
    def state_dir(self) -> Path:
        """Where flowgate keeps local files (reports, HAProxy's files): `.flowgate/`."""
        return self.settings.project_dir / ".flowgate"

    def side_services(self) -> list[ServiceSpec]:
        return [self.compose.service(name) for name in self.settings.side_targets]


def holder_identity(release_id: str | None = None) -> dict[str, Any]:
    """Who holds a lock, readable by whoever is refused it."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": user,
        "release": release_id,
        "pid_namespace": pid_namespace(),
    }


def pid_namespace() -> str | None:
    """This process's PID namespace (`pid:[4026531836]`): two containers may share a
    hostname, but a pid means the same process only within one namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def abandoned(holder: dict[str, Any]) -> bool:
    """True when the lock's holder ran on this host, in this PID namespace, and its
    process is gone (`kill -9`, a crash), so waiting for the lock to expire would only
    block everyone for nothing. A holder whose namespace cannot be compared never is."""
    import socket

    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    namespace = pid_namespace()
    if namespace is None or holder.get("pid_namespace") != namespace:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
