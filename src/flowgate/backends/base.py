"""The three kinds of backend. A backend is one small class; its `name` is its config value.

Backends receive the resolved `Settings` and nothing else, and never import the CLI or
the engine. The engine only talks to them through these methods (via the step hooks).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flowgate.models import Route

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flowgate.config.compose import ServiceSpec
    from flowgate.config.keys import Key
    from flowgate.config.settings import Settings
    from flowgate.models import Color, Instance, Release, TargetState

__all__ = ["Backend", "DeploySpec", "LockHandle", "Proxy", "Registry", "Route", "Runtime"]


class Backend(ABC):
    name: ClassVar[str]
    kind: ClassVar[str]
    #: Configuration keys this backend adds (file key / FLOWGATE_<NAME> / no flag).
    config_keys: ClassVar[tuple[Key, ...]] = ()

    def __init__(self, settings: Settings) -> None:
        # Settings loaded without this backend's keys still carry their declared defaults.
        self.settings = settings.including(type(self).config_keys)

    @abstractmethod
    def check(self) -> None:
        """Raise BackendUnreachable when the backend cannot be reached; change nothing."""


@dataclass(frozen=True)
class DeploySpec:
    """Everything a runtime needs to start one color of a target."""

    project: str
    target: str
    service: ServiceSpec
    color: Color
    count: int
    release_id: str
    health_timeout: float


class Runtime(Backend):
    kind = "runtime"
    #: Compose keys of `config.compose.RUNTIME_KEYS` this runtime honours.
    supported_service_options: ClassVar[frozenset[str]] = frozenset()

    def check_service(self, service: ServiceSpec) -> None:
        """Refuse, naming it, a Compose key that changes how a container runs and that
        this runtime cannot honour: dropping it would run something else than asked."""
        from flowgate.errors import ConfigError

        refused = sorted(set(service.options) - self.supported_service_options)
        if refused:
            raise ConfigError(
                f"not supported by the {self.name} runtime: {', '.join(refused)} "
                "(remove it, or use a runtime that honours it)",
                source=f"services.{service.name}",
                key=refused[0],
            )

    @abstractmethod
    def instances(self, project: str, target: str, color: Color) -> list[Instance]:
        """Every instance of that color, running or stopped, ordered by index."""

    @abstractmethod
    def deploy(self, spec: DeploySpec) -> list[Instance]:
        """Replace that color's instances with `spec.count` new ones, in parallel.

        Returns once all are healthy. On failure it removes what it started and raises
        ReleaseFailed; the other color is never touched.
        """

    @abstractmethod
    def scale(self, spec: DeploySpec) -> list[Instance]:
        """Bring the color to `spec.count` healthy instances (adding or removing)."""

    @abstractmethod
    def start(self, spec: DeploySpec) -> list[Instance]:
        """Start the color's stopped instances again and wait until healthy (rollback)."""

    @abstractmethod
    def stop(self, project: str, target: str, color: Color) -> None:
        """Stop the color's instances but keep them, so a rollback is instant."""

    @abstractmethod
    def remove(self, project: str, target: str, color: Color) -> None:
        """Remove the color's instances."""

    @abstractmethod
    def ensure_side_target(self, project: str, service: ServiceSpec, pull: bool) -> None:
        """Start a side target once if it is not running; never color, scale or stop it."""

    def teardown(self, project: str, side_targets: list[str]) -> None:
        """`flowgate down`: remove the side targets this runtime started for the project and
        the project's networks once nothing of the project is attached. A runtime that
        starts neither has nothing to do; one that does must override this."""
        from flowgate.errors import ReleaseFailed

        if side_targets:
            raise ReleaseFailed(
                f"runtime {self.name} cannot take down side targets ({', '.join(side_targets)});"
                " remove them by hand"
            )

    def nodes(self, project: str, target: str) -> list[dict[str, Any]]:
        """The cluster's nodes as `status` reports them (a runtime spanning machines):
        each with `node` (its address), `state` (ready, down, ...), `availability`, and
        `lost`: the target's instances whose task was on it while it is down. A single
        engine has none: []."""
        return []


class Proxy(Backend):
    kind = "proxy"

    @abstractmethod
    def apply(self, route: Route) -> None:
        """Serve `route.live` publicly and `route.preview` on the preview route.

        Must not drop a request, and must leave the previous routing in place when
        it fails (raising FlowgateError).
        """

    @abstractmethod
    def remove(self, service: str) -> None:
        """Stop routing the service."""

    def public_url(self, route: Route) -> str | None:
        """Base URL of the live color through the proxy, if this proxy has one."""
        return None

    def preview_url(self, route: Route) -> str | None:
        """Base URL of the new color through the proxy's preview route."""
        return None

    def preview_headers(self, route: Route) -> dict[str, str]:
        """Request headers that select the preview route, if that is how it works."""
        return {}

    def wait_drained(self, service: str, instances: list[Instance], timeout: float) -> None:
        """Return once the proxy holds no open connection to `instances` (at most
        `timeout` seconds), so stopping them cuts no request. No proxy: nothing to drain."""


@dataclass
class LockHandle:
    """A held release lock; `renew` extends it, `release` gives it up."""

    service: str
    holder: dict[str, Any]
    registry: Registry
    token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def renew(self) -> None:
        self.registry.renew_lock(self)

    def release(self) -> None:
        self.registry.release_lock(self)


class Registry(Backend):
    kind = "registry"

    @abstractmethod
    def load_state(self, service: str) -> TargetState:
        """The stored state, or a fresh one (version 0) for a service never deployed."""

    @abstractmethod
    def save_state(self, state: TargetState) -> TargetState:
        """Write if nobody wrote since `state.version` was read; returns it with the new
        version. Raises ConflictError otherwise (check-and-set)."""

    @abstractmethod
    def save_release(self, release: Release) -> None:
        """Create or replace a release record (keyed by its id)."""

    @abstractmethod
    def releases(self, service: str, limit: int | None = None) -> list[Release]:
        """Release records of the service, newest first; only the newest `limit` ones
        when given (a registry reads no more records than it returns)."""

    def iter_releases(self, service: str) -> Iterator[Release]:
        """Release records, newest first, read one by one as the caller goes on, so a
        search for a recent one costs the same with 10 or 10,000 past releases."""
        return iter(self.releases(service))

    def release(self, service: str, release_id: str) -> Release | None:
        """One release record by id, or None when there is none."""
        return next((r for r in self.iter_releases(service) if r.id == release_id), None)

    @abstractmethod
    def acquire_lock(self, service: str, holder: dict[str, Any], ttl: float) -> LockHandle:
        """Take the service's release lock, or raise LockHeld naming the holder.
        A lock whose holder did not renew it within `ttl` seconds has expired."""

    @abstractmethod
    def renew_lock(self, lock: LockHandle) -> None: ...

    @abstractmethod
    def release_lock(self, lock: LockHandle) -> None: ...

    def lock_holder(self, service: str) -> dict[str, Any] | None:
        """Who holds the lock now (None when free or expired)."""
        return None

    def break_lock(self, service: str, holder: dict[str, Any]) -> bool:
        """Free the lock if `holder` (known to be dead) still holds it, atomically with
        that check; True when freed. A registry that cannot do so answers False, and the
        lock then only frees when it expires."""
        return False

    def forget(self, service: str) -> None:
        """`flowgate down` without `--keep-state`: delete the service's state and release
        records (the lock, held by the caller, stays until released)."""
        from flowgate.errors import ReleaseFailed

        raise ReleaseFailed(
            f"registry {self.name} cannot forget {service}'s state; use `flowgate down "
            "--keep-state`"
        )

    def register_instances(self, service: str, color: Color, instances: list[Instance]) -> None:
        """Announce a color's instances to service discovery (Consul's catalog)."""

    def deregister_instances(self, service: str, color: Color) -> None:
        """Withdraw a color's instances from service discovery."""

    def docker_flow_keys(self, service: str) -> dict[str, str]:
        """Docker Flow's keys of the service (`color`, `scale`), where Docker Flow kept
        them (Consul's `docker-flow/<service>/`); {} for a registry Docker Flow never had."""
        return {}

    def put_docker_flow_key(self, service: str, key: str, value: str) -> None:
        """Write one of Docker Flow's keys; a registry Docker Flow never had ignores it."""
