"""The Consul registry's release history, read newest first at a cost that stays flat.

Consul's KV store can list keys but not "the newest N": a `?keys` listing of 10,000
releases is itself a 10,000-entry answer. So each service keeps a small index key,
`flowgate/<service>/recent`: `{"ids": [newest first, at most RECENT], "older": bool}`,
updated when a release record is first written (one release per target runs at a time:
the release lock serialises the writers; the check-and-set write guards the rest). A
reader takes the newest releases from it and lists the keys only when it goes past them
(`older`), or when a history was written before the index existed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from flowgate.backends.registry.history import newest_first
from flowgate.models import Release

RECENT = 256


class KV(Protocol):
    def _get(self, key: str) -> dict[str, Any] | None: ...
    def _put(self, key: str, value: bytes, **params: Any) -> bool: ...
    def _list_ids(self, service: str) -> list[str]: ...


def index_key(service: str) -> str:
    return f"flowgate/{service}/recent"


def _read(kv: KV, service: str) -> tuple[dict[str, Any] | None, list[str], bool]:
    """(entry, ids newest first, older ones exist); ids None-safe for a damaged index."""
    entry = kv._get(index_key(service))
    if entry is None:
        return None, [], True
    try:
        data = json.loads(entry.get("Value") or b"null")
        ids = [str(i) for i in data["ids"]]
        return entry, ids, bool(data["older"])
    except (ValueError, TypeError, KeyError):
        return entry, [], True  # unreadable: rebuilt from a listing on the next write


def remember(kv: KV, service: str, release_id: str) -> None:
    """Put `release_id` into the service's index (built from a listing the first time)."""
    for _ in range(5):
        entry, ids, older = _read(kv, service)
        if entry is not None and release_id in ids:
            return
        if entry is None or (older and not ids):
            ids, older = kv._list_ids(service), False
        ids = sorted({*ids, release_id}, reverse=True)
        older = older or len(ids) > RECENT
        value = json.dumps({"ids": ids[:RECENT], "older": older}).encode()
        cas = int(entry["ModifyIndex"]) if entry is not None else 0
        if kv._put(index_key(service), value, cas=cas):
            return


def iter_recent(kv: KV, service: str, read: Callable[[str], Release | None]) -> Iterator[Release]:
    """Newest first: the indexed ids, then (only if the caller goes on) the older ones."""
    entry, ids, older = _read(kv, service)
    yield from newest_first(ids, read)
    if entry is not None and not older:
        return
    rest = kv._list_ids(service)
    if ids:
        rest = [i for i in rest if i < ids[-1]]
    yield from newest_first(rest, read)
