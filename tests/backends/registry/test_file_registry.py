"""What only the file registry does: its layout, atomic writes, the flock guard, bad input."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from flowgate.backends.registry.file import FileRegistry
from flowgate.config.settings import load_settings
from flowgate.errors import (
    BackendUnreachable,
    ConfigError,
    ConflictError,
    FlowgateError,
    UsageError,
)
from flowgate.models import Color, Release, TargetState

SERVICE = "books-app"


def make(project_dir: Path) -> FileRegistry:
    return FileRegistry(load_settings(project_dir, flags={"registry": "file"}, env={}))


def test_layout_under_the_project(tmp_path: Path) -> None:
    registry = make(tmp_path)
    registry.save_state(TargetState(SERVICE, live_color=Color.BLUE))
    registry.save_release(Release(id="r1", service=SERVICE, target="app"))
    lock = registry.acquire_lock(SERVICE, {"pid": 7}, ttl=30)
    folder = tmp_path / ".flowgate" / "registry" / SERVICE
    state = json.loads((folder / "state.json").read_text())
    assert state == {"version": 1, "state": TargetState(SERVICE, Color.BLUE).to_dict()}
    assert json.loads((folder / "releases" / "r1.json").read_text())["id"] == "r1"
    record = json.loads((folder / "lock.json").read_text())
    assert record["holder"] == {"pid": 7} and record["token"] == lock.token
    lock.release()
    assert not (folder / "lock.json").exists()
    leftovers = [p.name for p in folder.rglob("*.tmp")]
    assert leftovers == []


def test_unwritable_project_is_unreachable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    registry = make(blocker / "project")
    with pytest.raises(BackendUnreachable, match="not writable"):
        registry.check()
    with pytest.raises(BackendUnreachable, match="cannot write the registry"):
        registry.save_state(TargetState(SERVICE))


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", ""])
def test_names_cannot_escape_the_registry(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="invalid service name"):
        make(tmp_path).load_state(name)


def test_corrupt_state_names_the_file(tmp_path: Path) -> None:
    registry = make(tmp_path)
    registry.save_state(TargetState(SERVICE))
    path = tmp_path / ".flowgate" / "registry" / SERVICE / "state.json"
    path.write_text("{not json")
    with pytest.raises(FlowgateError, match=str(path)):
        registry.load_state(SERVICE)


def test_stale_version_after_concurrent_write(tmp_path: Path) -> None:
    registry = make(tmp_path)
    saved = registry.save_state(TargetState(SERVICE, scale=1))
    make(tmp_path).save_state(dataclasses.replace(saved, scale=2))
    with pytest.raises(ConflictError, match="read version 1, now 2"):
        registry.save_state(dataclasses.replace(saved, scale=3))


INCREMENT = r"""
import dataclasses, sys
from pathlib import Path
from flowgate.backends.registry.file import FileRegistry
from flowgate.config.settings import load_settings
from flowgate.errors import ConflictError
registry = FileRegistry(load_settings(Path(sys.argv[1]), flags={}, env={}))
conflicts = done = 0
while done < int(sys.argv[2]):
    state = registry.load_state("books-app")
    try:
        registry.save_state(dataclasses.replace(state, scale=(state.scale or 0) + 1))
        done += 1
    except ConflictError:
        conflicts += 1
print(conflicts)
"""


def test_check_and_set_holds_across_processes(tmp_path: Path) -> None:
    """Four processes increment one counter with load/save; none of them loses an update."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", INCREMENT, str(tmp_path), "60"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0]
    state = make(tmp_path).load_state(SERVICE)
    assert state.scale == 240
    assert state.version == 240
    assert all(out.strip().isdigit() for out in outputs)


def test_the_newest_releases_are_read_without_the_older_ones(tmp_path: Path) -> None:
    """Flat cost: `releases(limit=N)`, `release(id)` and a search from the newest end
    read only what they return; a damaged old record shows it is never opened."""
    registry = make(tmp_path)
    ids = [f"2026010{day}T000000-000{day}" for day in range(1, 6)]
    for rid in ids:
        registry.save_release(Release(id=rid, service=SERVICE, target="app"))
    folder = tmp_path / ".flowgate" / "registry" / SERVICE / "releases"
    (folder / f"{ids[0]}.json").write_text("{damaged")
    assert [r.id for r in registry.releases(SERVICE, limit=4)] == ids[:0:-1]
    assert registry.release(SERVICE, ids[2]) is not None
    assert next(registry.iter_releases(SERVICE)).id == ids[-1]
    with pytest.raises(ConfigError, match=r"not JSON: .*the registry file is damaged"):
        registry.releases(SERVICE)  # everything: the damaged one too
