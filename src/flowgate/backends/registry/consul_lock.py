"""The release lock on Consul: a KV key acquired with a TTL session.

`acquire` creates a session (TTL, `Behavior=delete`, `LockDelay=0s`) and puts the holder
as JSON on `flowgate/<service>/lock` with `?acquire=<session>`; Consul grants it to one
session only. The holder renews the session; if it crashes, Consul invalidates the session
once its TTL has passed (Consul documents it may take up to twice the TTL) and, with
`delete`, removes the key, so a dead holder never blocks forever.

Consul's TTL minimum is 10 seconds: shorter lock TTLs are raised to `min_ttl` (10 unless a
test lowers it against the Consul test double). The session is created with a raw
request because py-consul's `session.create` refuses TTLs that are not whole seconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flowgate.backends.base import LockHandle
from flowgate.errors import FlowgateError, LockHeld

if TYPE_CHECKING:
    from flowgate.backends.registry.consul import ConsulRegistry


def go_duration(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


class SessionLock:
    def __init__(self, registry: ConsulRegistry, min_ttl: float) -> None:
        self.registry = registry
        self.min_ttl = min_ttl

    @staticmethod
    def key(service: str) -> str:
        return f"flowgate/{service}/lock"

    def _create_session(self, service: str, ttl: float) -> str:
        from consul.callback import CB

        client = self.registry.consul
        body = {
            "Name": f"flowgate release lock {service}",
            "TTL": go_duration(ttl),
            "Behavior": "delete",
            "LockDelay": "0s",
        }
        with self.registry._errors("creating a lock session"):
            session_id: str = client.http.put(
                CB.json(is_id=True),
                "/v1/session/create",
                data=json.dumps(body),
                headers=client.prepare_headers(),
            )
        return session_id

    def _destroy(self, session_id: str) -> None:
        with self.registry._errors("destroying a lock session"):
            self.registry.consul.session.destroy(session_id)

    def acquire(self, service: str, holder: dict[str, Any], ttl: float) -> LockHandle:
        ttl = max(float(ttl), self.min_ttl)
        session_id = self._create_session(service, ttl)
        value = json.dumps({"holder": holder, "ttl": ttl}, sort_keys=True).encode()
        try:
            acquired = self.registry._put(self.key(service), value, acquire=session_id)
            if not acquired:
                other = self.holder(service) or {"holder": "unknown (lock just released)"}
                raise LockHeld(service, other, ttl=self._held_ttl(service))
        except BaseException:
            self._destroy(session_id)
            raise
        return LockHandle(service, holder, self.registry, token=session_id, extra={"ttl": ttl})

    def renew(self, lock: LockHandle) -> None:
        import consul

        with self.registry._errors("renewing the lock session"):
            try:
                self.registry.consul.session.renew(lock.token)
            except consul.NotFound as err:
                raise FlowgateError(
                    f"the release lock of {lock.service} was lost (its Consul session expired)"
                ) from err

    def release(self, lock: LockHandle) -> None:
        entry = self.registry._get(self.key(lock.service))
        if entry is not None and entry.get("Session") == lock.token:
            self.registry._put(
                self.key(lock.service), entry.get("Value") or b"", release=lock.token
            )
        self._destroy(lock.token)

    def _held_ttl(self, service: str) -> float | None:
        """The TTL the holder's session was created with (Consul does not tell how much
        of it is left: a session expires between one and two TTLs after its last renewal)."""
        entry = self.registry._get(self.key(service))
        try:
            ttl = json.loads((entry or {}).get("Value") or b"{}").get("ttl")
        except (ValueError, AttributeError):
            return None
        return float(ttl) if isinstance(ttl, int | float) else None

    def break_(self, service: str, holder: dict[str, Any]) -> bool:
        """Destroy the session of a dead holder; its key goes with it (`Behavior=delete`).
        The session is the one read with that holder, so a lock taken meanwhile by
        someone else (a new session) is never touched."""
        entry = self.registry._get(self.key(service))
        if entry is None or not entry.get("Session") or _holder_of(entry) != holder:
            return False
        self._destroy(entry["Session"])
        return True

    def holder(self, service: str) -> dict[str, Any] | None:
        return _holder_of(self.registry._get(self.key(service)))


def _holder_of(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    """The holder recorded on the lock key's entry; None when no session holds it."""
    if entry is None or not entry.get("Session"):
        return None
    try:
        data = json.loads(entry.get("Value") or b"{}")
    except ValueError:
        return {"session": entry["Session"]}
    holder = data.get("holder") if isinstance(data, dict) else None
    return dict(holder) if isinstance(holder, dict) else {"session": entry["Session"]}
