"""The Consul registry: state, history and the release lock in Consul's KV store, and each
instance in Consul's catalog (what Registrator did for Docker Flow).

Keys, per service `<project>-<target>`:
- `flowgate/<service>/state`: flowgate's state as JSON. Its version is the key's
  `ModifyIndex`; writes use `?cas=<ModifyIndex>` (`cas=0` to create), so two writers never
  silently overwrite each other: the loser gets ConflictError.
- `flowgate/<service>/releases/<id>`: one release record each.
- `flowgate/<service>/lock`: the release lock, acquired with a Consul session
  (see `consul_lock`).
- `docker-flow/<service>/color` and `docker-flow/<service>/scale`: Docker Flow's keys
  (last deployed color, live instance count), kept up to date for people migrating.

Everything on Consul is shared, so a second machine pointed at the same Consul sees the
same state, history and lock holder.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from flowgate import hookimpl
from flowgate.backends.base import Backend, LockHandle, Registry
from flowgate.backends.registry import consul_history
from flowgate.backends.registry.consul_client import ConsulEndpoint, consul_errors, env_from_os
from flowgate.backends.registry.consul_lock import SessionLock
from flowgate.errors import BackendUnreachable, ConfigError, ConflictError
from flowgate.models import Color, Instance, Release, TargetState

if TYPE_CHECKING:
    from flowgate.config.settings import Settings


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


class ConsulRegistry(Registry):
    name = "consul"
    #: Seconds a request may take before Consul counts as unreachable.
    timeout: ClassVar[float] = 10.0
    #: `check()` must fail fast when the address is a black hole: seconds to connect.
    #: An agent that accepted the connection but answers slowly (a busy machine) is
    #: alive, and gets the full `timeout` to answer: it is not "unreachable".
    check_timeout: ClassVar[float] = 2.0
    #: Consul refuses session TTLs under 10s, so shorter lock TTLs are raised to 10s.
    #: Tests against `flowgate.testing.consul_server` (with its own minimum lowered) may
    #: lower this on an instance to exercise expiry without sleeping 10 seconds.
    min_session_ttl: float = 10.0

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.endpoint = ConsulEndpoint.resolve(settings.get("consul_address"), env_from_os())
        self._client: Any = None
        self._indexed: set[tuple[str, str]] = set()  # release ids this process indexed

    @property
    def consul(self) -> Any:
        if self._client is None:
            self._client = self.endpoint.client(self.timeout)
        return self._client

    def _errors(self, what: str) -> Any:
        return consul_errors(self.endpoint, what)

    def check(self) -> None:
        client = self.endpoint.client((self.check_timeout, self.timeout))
        with self._errors("a status query"):
            leader = client.status.leader()
        if not leader:
            raise BackendUnreachable(
                f"Consul at {self.endpoint.url} has no cluster leader; it cannot store state"
            )

    # -- KV helpers -----------------------------------------------------------------------

    def _get(self, key: str) -> dict[str, Any] | None:
        with self._errors(f"reading {key}"):
            _, entry = self.consul.kv.get(key)
        return entry

    def _put(self, key: str, value: bytes, **params: Any) -> bool:
        with self._errors(f"writing {key}"):
            return bool(self.consul.kv.put(key, value, **params))

    @staticmethod
    def _json(entry: dict[str, Any], key: str) -> dict[str, Any]:
        try:
            data = json.loads(entry.get("Value") or b"null")
        except (ValueError, RecursionError) as err:
            raise _damaged(key, "not JSON") from err
        if not isinstance(data, dict):
            raise _damaged(key, "not a JSON object")
        return data

    # -- state ----------------------------------------------------------------------------

    def load_state(self, service: str) -> TargetState:
        key = f"flowgate/{service}/state"
        entry = self._get(key)
        if entry is None:
            return TargetState(service=service)
        try:
            return TargetState.from_dict(
                self._json(entry, key), version=int(entry["ModifyIndex"]), service=service
            )
        except ValueError as err:
            raise _damaged(key, str(err)) from None

    def save_state(self, state: TargetState) -> TargetState:
        key = f"flowgate/{state.service}/state"
        value = _dump(state.to_dict())
        if not self._put(key, value, cas=state.version):
            raise ConflictError(
                f"the state of {state.service} in Consul changed while this command ran; "
                "run it again"
            )
        # The write does not answer its index: read it back. If someone wrote again in
        # between, keep the old version so our next write fails instead of clobbering.
        entry = self._get(key)
        version = state.version
        if entry is not None and (entry.get("Value") or b"") == value:
            version = int(entry["ModifyIndex"])
        self._docker_flow_keys(state)
        return TargetState.from_dict(state.to_dict(), version=version)

    def _docker_flow_keys(self, state: TargetState) -> None:
        if state.deployed_color is not None:
            self._put(f"docker-flow/{state.service}/color", str(state.deployed_color).encode())
        if state.scale is not None:
            self._put(f"docker-flow/{state.service}/scale", str(state.scale).encode())

    def docker_flow_keys(self, service: str) -> dict[str, str]:
        prefix = f"docker-flow/{service}/"
        with self._errors(f"reading {prefix}"):
            _, entries = self.consul.kv.get(prefix, recurse=True)
        found = {}
        for entry in entries or ():
            value = (entry.get("Value") or b"").decode("utf-8", "replace").strip()
            if value:
                found[entry["Key"][len(prefix) :]] = value
        return found

    def put_docker_flow_key(self, service: str, key: str, value: str) -> None:
        self._put(f"docker-flow/{service}/{key}", value.encode())

    # -- releases -------------------------------------------------------------------------

    def save_release(self, release: Release) -> None:
        self._put(f"flowgate/{release.service}/releases/{release.id}", _dump(release.to_dict()))
        if (release.service, release.id) not in self._indexed:
            consul_history.remember(self, release.service, release.id)
            self._indexed.add((release.service, release.id))

    def releases(self, service: str, limit: int | None = None) -> list[Release]:
        if limit is None:  # everything: one recursive read beats a request per record
            prefix = f"flowgate/{service}/releases/"
            with self._errors(f"reading {prefix}"):
                _, entries = self.consul.kv.get(prefix, recurse=True)
            found = []
            for entry in entries or ():
                try:
                    found.append(Release.from_dict(self._json(entry, entry["Key"])))
                except (ValueError, TypeError) as err:
                    raise _damaged(entry["Key"], str(err)) from None
            return sorted(found, key=lambda r: (r.started, r.id), reverse=True)
        return list(itertools.islice(self.iter_releases(service), limit))

    def iter_releases(self, service: str) -> Iterator[Release]:
        """The newest from the service's small index key, then, only if the caller goes
        past them, the older ones from a `?keys` listing (see consul_history)."""
        prefix = f"flowgate/{service}/releases/"
        return consul_history.iter_recent(self, service, lambda rid: self._release(prefix + rid))

    def _list_ids(self, service: str) -> list[str]:
        prefix = f"flowgate/{service}/releases/"
        with self._errors(f"listing {prefix}"):
            _, keys = self.consul.kv.get(prefix, keys=True, separator="/")
        return [key[len(prefix) :] for key in keys or () if not key.endswith("/")]

    def release(self, service: str, release_id: str) -> Release | None:
        return self._release(f"flowgate/{service}/releases/{release_id}")

    def _release(self, key: str) -> Release | None:
        entry = self._get(key)
        if entry is None:
            return None
        try:
            return Release.from_dict(self._json(entry, key))
        except (ValueError, TypeError) as err:
            raise _damaged(key, str(err)) from None

    def forget(self, service: str) -> None:
        """Delete the state, the release records and Docker Flow's keys of the service."""
        with self._errors(f"deleting flowgate/{service}/"):
            self.consul.kv.delete(f"flowgate/{service}/state")
            self.consul.kv.delete(f"flowgate/{service}/releases/", recurse=True)
            self.consul.kv.delete(f"docker-flow/{service}/", recurse=True)

    # -- lock -----------------------------------------------------------------------------

    def _lock(self) -> SessionLock:
        return SessionLock(self, self.min_session_ttl)

    def acquire_lock(self, service: str, holder: dict[str, Any], ttl: float) -> LockHandle:
        return self._lock().acquire(service, holder, ttl)

    def renew_lock(self, lock: LockHandle) -> None:
        self._lock().renew(lock)

    def release_lock(self, lock: LockHandle) -> None:
        self._lock().release(lock)

    def lock_holder(self, service: str) -> dict[str, Any] | None:
        return self._lock().holder(service)

    def break_lock(self, service: str, holder: dict[str, Any]) -> bool:
        return self._lock().break_(service, holder)

    # -- service discovery ----------------------------------------------------------------

    def register_instances(self, service: str, color: Color, instances: list[Instance]) -> None:
        """Register each running instance as `<service>-<color>` with a TCP check, and
        withdraw instances of that color that are no longer in the list (scaled down)."""
        import consul

        name = f"{service}-{color}"
        wanted = {i.name for i in instances if i.address}
        for instance in instances:
            if not instance.address:
                continue
            host, _, port = instance.address.rpartition(":")
            check = consul.Check.tcp(host, int(port), "10s", timeout="2s")
            check["status"] = "passing" if instance.healthy else "critical"
            with self._errors(f"registering {instance.name}"):
                self.consul.agent.service.register(
                    name=name,
                    service_id=instance.name,
                    address=host,
                    port=int(port),
                    tags=[str(color), "flowgate"],
                    meta={"flowgate_service": service, "color": str(color)},
                    check=check,
                )
        for service_id in self._registered(name) - wanted:
            with self._errors(f"deregistering {service_id}"):
                self.consul.agent.service.deregister(service_id)

    def deregister_instances(self, service: str, color: Color) -> None:
        for service_id in self._registered(f"{service}-{color}"):
            with self._errors(f"deregistering {service_id}"):
                self.consul.agent.service.deregister(service_id)

    def _registered(self, name: str) -> set[str]:
        """Service ids of `name` on this agent (an agent only deregisters its own)."""
        with self._errors("listing the agent's services"):
            services = self.consul.agent.services()
        return {sid for sid, s in services.items() if s.get("Service") == name}


def _damaged(key: str, problem: str) -> ConfigError:
    return ConfigError(
        f"{problem}; the registry's record is damaged: restore it from a backup (deleting "
        "the state makes flowgate forget which color is live)",
        source=f"Consul key {key}",
    )


@hookimpl
def flowgate_backends() -> list[type[Backend]]:
    return [ConsulRegistry]
