"""Owner-only files under `.flowgate/`: folders 0700, files 0600.

What flowgate keeps there (the registry's state and lock, HAProxy's configuration and
routes, gate reports, the release document a gate's pytest reads, preview secrets) is
nobody else's business on a shared machine, so it is written readable by its owner only,
whatever the umask. Folders created by older versions are tightened when next used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

STATE_DIR = ".flowgate"
DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    """chmod to `mode` when it is ours and looser (a folder of another user is left)."""
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o777 & ~mode:
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only. Every level from the nearest
    `.flowgate` folder down is made 0700 (existing ones tightened); folders above it,
    such as the project folder, are created if missing but never changed."""
    path = Path(path)
    parts = path.parts
    base = len(parts)
    if STATE_DIR in parts:
        base = len(parts) - parts[::-1].index(STATE_DIR) - 1
    for depth in range(1, len(parts) + 1):
        level = Path(*parts[:depth])
        inside = depth - 1 >= base
        if level.is_dir():
            if inside:
                _tighten(level, DIR_MODE)
            continue
        try:
            level.mkdir(mode=DIR_MODE if inside or depth == len(parts) else 0o777)
        except FileExistsError:  # made meanwhile by another process
            if not level.is_dir():
                raise
    if base == len(parts):
        _tighten(path, DIR_MODE)
    return path


def write_private(path: Path, data: str | bytes) -> None:
    """Write a file atomically (temp file, fsync, rename), mode 0600, in a private folder."""
    path = Path(path)
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_private(path: Path) -> None:
    """Tighten a file someone else wrote (pytest's JUnit report) to 0600."""
    if Path(path).exists():
        _tighten(Path(path), FILE_MODE)
