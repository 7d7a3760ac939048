"""The data behind the Consul API test double (see `flowgate.testing.consul_server`).

KV entries, sessions and the agent's services, held under one lock, with Consul's
documented semantics for check-and-set, lock acquisition and session invalidation.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from typing import Any

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"([\d.]+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """A Go duration ("15s", "500ms", "1m30s") in seconds; ValueError when malformed."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _ci(data: dict[str, Any], name: str, default: Any = None) -> Any:
    """Consul decodes request bodies case-insensitively (py-consul sends lower case)."""
    for key, value in data.items():
        if key.lower() == name.lower():
            return value
    return default


class ConsulState:
    """The data behind the API: KV, sessions and the agent's services, under one lock."""

    def __init__(self, node: str, min_session_ttl: float) -> None:
        self.node = node
        self.min_session_ttl = min_session_ttl
        self.lock = threading.RLock()
        self.index = 1
        self.kv: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.lock_delays: dict[str, float] = {}
        self.services: dict[str, dict[str, Any]] = {}

    def _bump(self) -> int:
        self.index += 1
        return self.index

    # -- sessions -------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        with self.lock:
            now = time.monotonic()
            for sid, session in list(self.sessions.items()):
                if session["expires"] is not None and session["expires"] <= now:
                    self.invalidate(sid)

    def invalidate(self, sid: str) -> bool:
        session = self.sessions.pop(sid, None)
        if session is None:
            return False
        index = self._bump()
        for key, entry in list(self.kv.items()):
            if entry.get("Session") != sid:
                continue
            if session["lock_delay"] > 0:
                self.lock_delays[key] = time.monotonic() + session["lock_delay"]
            if session["Behavior"] == "delete":
                del self.kv[key]
            else:
                entry.pop("Session", None)
                entry["ModifyIndex"] = index
        return True

    def create_session(self, body: dict[str, Any]) -> str:
        behavior = _ci(body, "Behavior", "release") or "release"
        if behavior not in ("release", "delete"):
            raise ApiError(400, f"Invalid Behavior setting '{behavior}'")
        ttl_text = _ci(body, "TTL", "") or ""
        ttl = None
        if ttl_text:
            try:
                ttl = parse_duration(ttl_text)
            except ValueError as err:
                raise ApiError(400, f"Request decode failed: {err}") from None
            if ttl and not self.min_session_ttl <= ttl <= 86400:
                raise ApiError(
                    500, f"Session TTL '{ttl_text}' must be between [{self.min_session_ttl}s=24h]"
                )
        raw_delay = _ci(body, "LockDelay", "15s")
        if isinstance(raw_delay, int | float):  # < 1000 means seconds, else nanoseconds
            delay = float(raw_delay) if raw_delay < 1000 else raw_delay / 1e9
        else:
            delay = parse_duration(raw_delay) if raw_delay else 0.0
        with self.lock:
            sid = str(uuid.uuid4())
            index = self._bump()
            self.sessions[sid] = {
                "ID": sid,
                "Name": _ci(body, "Name", "") or "",
                "Node": _ci(body, "Node", self.node) or self.node,
                "LockDelay": int(delay * 1e9),
                "Behavior": behavior,
                "TTL": ttl_text,
                "NodeChecks": ["serfHealth"],
                "ServiceChecks": None,
                "CreateIndex": index,
                "ModifyIndex": index,
                "ttl": ttl,
                "lock_delay": delay,
                "expires": time.monotonic() + ttl if ttl else None,
            }
        return sid

    def session_view(self, sid: str) -> list[dict[str, Any]]:
        session = self.sessions.get(sid)
        if session is None:
            return []
        return [{k: v for k, v in session.items() if k[0].isupper()}]

    def renew_session(self, sid: str) -> list[dict[str, Any]]:
        with self.lock:
            session = self.sessions.get(sid)
            if session is None:
                raise ApiError(404, f"Session id '{sid}' not found")
            if session["ttl"]:
                session["expires"] = time.monotonic() + session["ttl"]
            return self.session_view(sid)

    # -- kv -------------------------------------------------------------------------------

    def kv_put(self, key: str, value: bytes, params: dict[str, str]) -> bool:
        with self.lock:
            entry = self.kv.get(key)
            if "cas" in params:
                cas = int(params["cas"])
                if (cas == 0 and entry is not None) or (
                    cas != 0 and (entry is None or entry["ModifyIndex"] != cas)
                ):
                    return False
            flags = int(params.get("flags") or (entry or {}).get("Flags", 0))
            acquire, release = params.get("acquire"), params.get("release")
            if acquire:
                if acquire not in self.sessions:
                    raise ApiError(500, f'invalid session "{acquire}"')
                held_by = (entry or {}).get("Session")
                if held_by and held_by != acquire:
                    return False
                if not held_by and self.lock_delays.get(key, 0) > time.monotonic():
                    return False
            if release and (entry is None or entry.get("Session") != release):
                return False
            index = self._bump()
            if entry is None:
                entry = {"Key": key, "CreateIndex": index, "LockIndex": 0}
                self.kv[key] = entry
            entry.update(Flags=flags, Value=value, ModifyIndex=index)
            if acquire and entry.get("Session") != acquire:
                entry["LockIndex"] += 1
                entry["Session"] = acquire
            if release:
                entry.pop("Session", None)
            return True

    def kv_delete(self, key: str, params: dict[str, str]) -> bool:
        with self.lock:
            if "recurse" in params:
                doomed = [k for k in self.kv if k.startswith(key)]
            else:
                entry = self.kv.get(key)
                cas = params.get("cas")
                if cas is not None and entry is not None and entry["ModifyIndex"] != int(cas):
                    return False
                doomed = [key] if entry is not None else []
            for name in doomed:
                del self.kv[name]
            self._bump()
            return True

    def kv_get(self, key: str, params: dict[str, str]) -> tuple[int, Any]:
        with self.lock:
            if "recurse" in params or "keys" in params:
                found = [e for k, e in sorted(self.kv.items()) if k.startswith(key)]
            else:
                found = [self.kv[key]] if key in self.kv else []
            index = max((e["ModifyIndex"] for e in found), default=self.index)
            if not found:
                return index, None
            if "keys" in params:
                separator = params.get("separator", "")
                names: dict[str, None] = {}  # ordered and unique, in O(1) per key
                for entry in found:
                    name, rest = entry["Key"], entry["Key"][len(key) :]
                    if separator and separator in rest:
                        name = key + rest[: rest.index(separator) + len(separator)]
                    names.setdefault(name)
                return index, list(names)
            return index, [self._entry_view(e) for e in found]

    @staticmethod
    def _entry_view(entry: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in entry.items() if k != "Value"}
        value = entry.get("Value")
        view["Value"] = base64.b64encode(value).decode() if value else None
        return view

    # -- agent, catalog, health -----------------------------------------------------------

    def register_service(self, body: dict[str, Any]) -> None:
        name = _ci(body, "Name")
        if not name:
            raise ApiError(400, "Missing service name")
        sid = _ci(body, "ID") or name
        checks = list(_ci(body, "Checks") or [])
        if _ci(body, "Check"):
            checks.append(_ci(body, "Check"))
        with self.lock:
            index = self._bump()
            self.services[sid] = {
                "ID": sid,
                "Service": name,
                "Tags": _ci(body, "Tags") or [],
                "Meta": _ci(body, "Meta") or {},
                "Address": _ci(body, "Address") or "",
                "Port": int(_ci(body, "Port") or 0),
                "CreateIndex": index,
                "ModifyIndex": index,
                "Checks": [
                    {
                        "Node": self.node,
                        "CheckID": f"service:{sid}" + (f":{n + 1}" if len(checks) > 1 else ""),
                        "Name": _ci(check, "Name") or f"Service '{name}' check",
                        "Status": _ci(check, "Status") or "critical",
                        "ServiceID": sid,
                        "ServiceName": name,
                        "Definition": check,
                    }
                    for n, check in enumerate(checks)
                ],
            }

    def deregister_service(self, sid: str) -> None:
        with self.lock:
            if self.services.pop(sid, None) is None:
                raise ApiError(
                    404,
                    f'Unknown service ID "{sid}". Ensure that the service ID is passed, '
                    "not the service name.",
                )
            self._bump()

    def agent_services(self) -> dict[str, Any]:
        with self.lock:
            return {
                sid: {k: v for k, v in s.items() if k != "Checks"}
                for sid, s in self.services.items()
            }

    def catalog_service(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "Node": self.node,
                    "Address": "127.0.0.1",
                    "Datacenter": "dc1",
                    "ServiceID": s["ID"],
                    "ServiceName": s["Service"],
                    "ServiceAddress": s["Address"],
                    "ServicePort": s["Port"],
                    "ServiceTags": s["Tags"],
                    "ServiceMeta": s["Meta"],
                    "CreateIndex": s["CreateIndex"],
                    "ModifyIndex": s["ModifyIndex"],
                }
                for s in self.services.values()
                if s["Service"] == name
            ]

    def health_service(self, name: str, passing: bool) -> list[dict[str, Any]]:
        serf = {
            "Node": self.node,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": "passing",
            "ServiceID": "",
            "ServiceName": "",
        }
        result = []
        with self.lock:
            for s in self.services.values():
                checks = [serf] + [
                    {k: v for k, v in c.items() if k != "Definition"} for c in s["Checks"]
                ]
                if s["Service"] != name or (
                    passing and any(c["Status"] != "passing" for c in checks)
                ):
                    continue
                service = {k: v for k, v in s.items() if k != "Checks"}
                node = {"Node": self.node, "Address": "127.0.0.1", "Datacenter": "dc1"}
                result.append({"Node": node, "Service": service, "Checks": checks})
        return result
