"""The embedded registry: JSON files under `<project>/.flowgate/registry/<service>/`.

Needs no server, so it is the default. Several processes on one machine (or one shared
folder with working `flock`) may use it at once: every read-compare-write runs under an
OS-level `fcntl.flock` on a sidecar `.guard` file, and every write is atomic (a temp file
in the same folder, then `os.replace`), so a reader never sees half a file.

Layout: `state.json` ({"version": N, "state": {...}}), `releases/<id>.json`, `lock.json`
({"holder", "token", "ttl", "acquired_at", "expires_at"}).
"""

from __future__ import annotations

import dataclasses
import fcntl
import itertools
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowgate import hookimpl
from flowgate.backends.base import Backend, LockHandle, Registry
from flowgate.backends.registry.history import newest_first
from flowgate.errors import (
    BackendUnreachable,
    ConfigError,
    ConflictError,
    FlowgateError,
    LockHeld,
    UsageError,
)
from flowgate.models import Release, TargetState

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _safe(name: str, what: str) -> str:
    """Service and release names become path parts: refuse anything that could escape."""
    if not _SAFE_NAME.match(name):
        raise UsageError(f"invalid {what} name {name!r}: use letters, digits, '.', '_', '-'")
    return name


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the new one, never a torn one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise FlowgateError(f"registry file {path} is unreadable ({err}); remove it") from err
    if not isinstance(data, dict):
        raise FlowgateError(f"registry file {path} does not hold an object; remove it")
    return data


class FileRegistry(Registry):
    name = "file"

    @property
    def root(self) -> Path:
        return Path(self.settings.project_dir) / ".flowgate" / "registry"

    def _folder(self, service: str) -> Path:
        folder = self.root / _safe(service, "service")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BackendUnreachable(f"cannot write the registry at {folder}: {err}") from err
        return folder

    @contextmanager
    def _guard(self, service: str) -> Iterator[Path]:
        """Serialise read-compare-write sequences across processes (and threads)."""
        folder = self._folder(service)
        fd = os.open(folder / ".guard", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield folder
        finally:
            os.close(fd)  # closing drops the flock

    def check(self) -> None:
        path = Path(self.settings.project_dir)
        while not path.exists() and path != path.parent:
            path = path.parent
        candidate = self.root if self.root.exists() else path
        if not candidate.is_dir() or not os.access(candidate, os.W_OK | os.X_OK):
            raise BackendUnreachable(f"the registry folder {candidate} is not writable")

    # -- state ----------------------------------------------------------------------------

    def load_state(self, service: str) -> TargetState:
        path = self.root / _safe(service, "service") / "state.json"
        data = read_json(path)
        if data is None:
            return TargetState(service=service)
        try:
            if not isinstance(data.get("state"), dict):
                raise ValueError('state: missing (expected {"version": N, "state": {...}})')
            if not isinstance(data.get("version"), int):
                raise ValueError(f"version: expected a number, got {data.get('version')!r}")
            return TargetState.from_dict(data["state"], version=data["version"])
        except ValueError as err:
            raise ConfigError(
                f"{err}; the registry's state is damaged: restore it, or remove the file "
                "(flowgate then forgets which color is live)",
                source=str(path),
            ) from None

    def save_state(self, state: TargetState) -> TargetState:
        with self._guard(state.service) as folder:
            current = read_json(folder / "state.json")
            version = int(current["version"]) if current else 0
            if version != state.version:
                raise ConflictError(
                    f"the state of {state.service} changed while this command ran "
                    f"(read version {state.version}, now {version}); run it again"
                )
            write_atomic(folder / "state.json", {"version": version + 1, "state": state.to_dict()})
        return dataclasses.replace(state, version=version + 1)

    # -- releases -------------------------------------------------------------------------

    def save_release(self, release: Release) -> None:
        folder = self._folder(release.service) / "releases"
        folder.mkdir(exist_ok=True)
        write_atomic(folder / f"{_safe(release.id, 'release')}.json", release.to_dict())

    def releases(self, service: str, limit: int | None = None) -> list[Release]:
        return list(itertools.islice(self.iter_releases(service), limit))

    def iter_releases(self, service: str) -> Iterator[Release]:
        folder = self.root / _safe(service, "service") / "releases"
        try:
            names = [
                entry.name[: -len(".json")]
                for entry in os.scandir(folder)
                if entry.name.endswith(".json") and not entry.name.startswith(".")
            ]
        except (FileNotFoundError, NotADirectoryError):
            return
        yield from newest_first(names, lambda name: read_json(folder / f"{name}.json"))

    def release(self, service: str, release_id: str) -> Release | None:
        if not _SAFE_NAME.match(release_id):
            return None
        data = read_json(self.root / _safe(service, "service") / "releases" / f"{release_id}.json")
        return None if data is None else Release.from_dict(data)

    # -- lock -----------------------------------------------------------------------------

    def _live_lock(self, folder: Path) -> dict[str, Any] | None:
        data = read_json(folder / "lock.json")
        if data is None or float(data.get("expires_at", 0)) <= time.time():
            return None
        return data

    def acquire_lock(self, service: str, holder: dict[str, Any], ttl: float) -> LockHandle:
        token = secrets.token_hex(16)
        record = {
            "holder": holder,
            "token": token,
            "ttl": ttl,
            "acquired_at": time.time(),
            "expires_at": time.time() + ttl,
        }
        with self._guard(service) as folder:
            path = folder / "lock.json"
            if path.exists():
                live = self._live_lock(folder)
                if live is not None:
                    raise _held(service, live)
                write_atomic(path, record)  # the old holder expired: take over
            else:
                # Create-exclusive with the full content: link fails if the file exists.
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lock.json.", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(record, handle)
                try:
                    os.link(tmp, path)
                except FileExistsError as err:
                    raise _held(service, read_json(path) or {}) from err
                finally:
                    os.unlink(tmp)
        return LockHandle(service, holder, self, token=token, extra={"ttl": ttl})

    def renew_lock(self, lock: LockHandle) -> None:
        with self._guard(lock.service) as folder:
            data = read_json(folder / "lock.json")
            if data is None or data.get("token") != lock.token:
                if data is not None and self._live_lock(folder) is not None:
                    raise LockHeld(lock.service, data.get("holder") or {})
                raise FlowgateError(
                    f"the release lock of {lock.service} was lost (it expired unrenewed)"
                )
            data["expires_at"] = time.time() + float(lock.extra.get("ttl", data["ttl"]))
            write_atomic(folder / "lock.json", data)

    def release_lock(self, lock: LockHandle) -> None:
        with self._guard(lock.service) as folder:
            data = read_json(folder / "lock.json")
            if data is not None and data.get("token") == lock.token:
                (folder / "lock.json").unlink()

    def lock_holder(self, service: str) -> dict[str, Any] | None:
        folder = self.root / _safe(service, "service")
        live = self._live_lock(folder) if folder.is_dir() else None
        return dict(live.get("holder") or {}) if live else None

    def break_lock(self, service: str, holder: dict[str, Any]) -> bool:
        with self._guard(service) as folder:
            data = read_json(folder / "lock.json")
            if data is None or data.get("holder") != holder:
                return False  # freed or taken by someone else meanwhile: leave it
            (folder / "lock.json").unlink()
            return True


def _held(service: str, record: dict[str, Any]) -> LockHeld:
    expires_at = record.get("expires_at")
    expires_in = float(expires_at) - time.time() if expires_at is not None else None
    return LockHeld(service, record.get("holder") or {}, expires_in=expires_in)


@hookimpl
def flowgate_backends() -> list[type[Backend]]:
    return [FileRegistry]
