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
from flowgate.files import private_dir
from flowgate.models import Release, TargetState

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _safe(name: str, what: str) -> str:
    """Service and release names become path parts: refuse anything that could escape."""
    if not _SAFE_NAME.match(name):
        raise UsageError(f"invalid {what} name {name!r}: use letters, digits, '.', '_', '-'")
    return name


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old file or the new one, never a torn one.
    The file is the owner's only (0600, mkstemp's mode). A full disk or a read-only
    folder is BackendUnreachable (exit 5) naming the file; the old file stays as it was."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _unwritable(path, err) from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise _unwritable(path, err) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _unwritable(path: Path, err: OSError) -> BackendUnreachable:
    reason = err.strerror or str(err)
    return BackendUnreachable(f"cannot write the registry file {path}: {reason}")


def read_json(path: Path) -> dict[str, Any] | None:
    """A registry file's object, None when absent. A damaged file is a ConfigError (exit 4)
    naming it; one that cannot be read at all is BackendUnreachable (exit 5)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as err:
        if isinstance(err, UnicodeDecodeError):
            raise _damaged(path, "not UTF-8 text") from err
        raise BackendUnreachable(
            f"cannot read the registry file {path}: {err.strerror or err}"
        ) from err
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _damaged(path, f"not JSON: {str(err)[:80]}") from err
    if not isinstance(data, dict):
        raise _damaged(path, "not a JSON object")
    return data


def _read_release(path: Path) -> Release | None:
    data = read_json(path)
    if data is None:
        return None
    try:
        return Release.from_dict(data)
    except (ValueError, TypeError) as err:
        raise _damaged(path, str(err)) from None


def _damaged(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"{problem}; the registry file is damaged: restore it from a backup (deleting it "
        "makes flowgate forget which color is live)",
        source=str(path),
    )


class FileRegistry(Registry):
    name = "file"

    @property
    def root(self) -> Path:
        return Path(self.settings.project_dir) / ".flowgate" / "registry"

    def _folder(self, service: str) -> Path:
        folder = self.root / _safe(service, "service")
        try:
            private_dir(folder)
        except OSError as err:
            raise BackendUnreachable(f"cannot write the registry at {folder}: {err}") from err
        return folder

    @contextmanager
    def _guard(self, service: str) -> Iterator[Path]:
        """Serialise read-compare-write sequences across processes (and threads)."""
        folder = self._folder(service)
        try:
            fd = os.open(folder / ".guard", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise _unwritable(folder / ".guard", err) from err
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
            version = data.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise ValueError(f"version: expected a whole number >= 0, got {version!r}")
            return TargetState.from_dict(data["state"], version=version, service=service)
        except ValueError as err:
            raise ConfigError(
                f"{err}; the registry's state is damaged: restore it from a backup "
                "(deleting it makes flowgate forget which color is live)",
                source=str(path),
            ) from None

    def save_state(self, state: TargetState) -> TargetState:
        with self._guard(state.service) as folder:
            current = read_json(folder / "state.json")
            version = current.get("version") if current else 0
            if not isinstance(version, int) or isinstance(version, bool) or version < 0:
                raise _damaged(folder / "state.json", f"version: {version!r} is not a number")
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
        try:
            private_dir(folder)
        except OSError as err:
            raise _unwritable(folder, err) from err
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
        yield from newest_first(names, lambda name: _read_release(folder / f"{name}.json"))

    def release(self, service: str, release_id: str) -> Release | None:
        if not _SAFE_NAME.match(release_id):
            return None
        return _read_release(
            self.root / _safe(service, "service") / "releases" / f"{release_id}.json"
        )

    # -- lock -----------------------------------------------------------------------------

    def _live_lock(self, folder: Path) -> dict[str, Any] | None:
        data = read_json(folder / "lock.json")
        if data is None:
            return None
        expires_at = data.get("expires_at", 0)
        if not isinstance(expires_at, (int, float)) or isinstance(expires_at, bool):
            raise _damaged(folder / "lock.json", f"expires_at: {expires_at!r} is not a time")
        if not isinstance(data.get("holder", {}), dict):
            raise _damaged(folder / "lock.json", "holder: not an object")
        return data if expires_at > time.time() else None

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
                try:
                    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lock.json.", suffix=".tmp")
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        json.dump(record, handle)
                except OSError as err:
                    raise _unwritable(path, err) from err
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
            data["expires_at"] = time.time() + float(lock.extra["ttl"])
            write_atomic(folder / "lock.json", data)

    def release_lock(self, lock: LockHandle) -> None:
        with self._guard(lock.service) as folder:
            data = read_json(folder / "lock.json")
            if data is not None and data.get("token") == lock.token:
                _unlink(folder / "lock.json")

    def lock_holder(self, service: str) -> dict[str, Any] | None:
        folder = self.root / _safe(service, "service")
        live = self._live_lock(folder) if folder.is_dir() else None
        return dict(live.get("holder") or {}) if live else None

    def break_lock(self, service: str, holder: dict[str, Any]) -> bool:
        with self._guard(service) as folder:
            data = read_json(folder / "lock.json")
            if data is None or data.get("holder") != holder:
                return False  # freed or taken by someone else meanwhile: leave it
            _unlink(folder / "lock.json")
            return True


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError as err:
        raise _unwritable(path, err) from err


def _held(service: str, record: dict[str, Any]) -> LockHeld:
    expires_at = record.get("expires_at")
    expires_in = float(expires_at) - time.time() if expires_at is not None else None
    return LockHeld(service, record.get("holder") or {}, expires_in=expires_in)


@hookimpl
def flowgate_backends() -> list[type[Backend]]:
    return [FileRegistry]
