"""Small value types shared by the engine, the backends and the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Color(StrEnum):
    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class ColorState(StrEnum):
    """What `status` reports for a color."""

    LIVE = "live"
    NEW = "new"
    STOPPED = "stopped"
    ABSENT = "absent"


@dataclass(frozen=True)
class Instance:
    """One running (or stopped) copy of a target in one color."""

    name: str
    address: str  # "host:port" of the target's first published port, "" when not running
    state: str  # the runtime's word: running, exited, created, ...
    healthy: bool
    color: Color | None = None
    id: str = ""
    node: str = ""  # the swarm node it runs on (its address); "" on a single engine
    image: str = ""  # the image id the instance runs (sha256:...), "" when unknown
    release: str = ""  # the release that started it (its io.flowgate.release label)

    @property
    def running(self) -> bool:
        return self.state == "running"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "address": self.address,
            "state": self.state,
            "healthy": self.healthy,
        }
        if self.node:
            data["node"] = self.node
        return data


@dataclass
class TestResult:
    __test__ = False  # a result, not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failed_ids: list[str] = field(default_factory=list)
    exit_code: int | None = None
    report: str | None = None  # path of the JUnit XML report
    suites: list[str] = field(default_factory=list)
    kind: str = "gate"  # "gate" (before promotion) or "post" (after the switch)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Step:
    name: str
    started: str = field(default_factory=now_iso)
    ended: str | None = None
    outcome: str | None = None  # ok | failed | skipped
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ReleaseState(StrEnum):
    RUNNING = "running"  # a step is in progress (or the process died in one: see `status`)
    DEPLOYED = "deployed"  # the new color runs beside the live one, not promoted
    LIVE = "live"  # promoted
    FAILED = "failed"
    GATE_FAILED = "gate-failed"
    ABORTED = "aborted"
    ROLLED_BACK = "rolled-back"
    INTERRUPTED = "interrupted"


@dataclass
class Release:
    """One attempt to bring a new color live, kept as history."""

    id: str
    service: str
    target: str
    color: Color | None = None  # None until pick_color has run
    images: list[str] = field(default_factory=list)
    instances: int = 1
    state: ReleaseState = ReleaseState.RUNNING
    step: str | None = None
    steps: list[Step] = field(default_factory=list)
    tests: TestResult | None = None
    post_tests: TestResult | None = None
    outcome: str | None = None
    error: str | None = None
    started: str = field(default_factory=now_iso)
    ended: str | None = None
    previous_color: Color | None = None
    kind: str = "release"  # "release", or "rollback" for a switch back to the previous color
    #: The public route it serves once live: {"paths": [...], "domains": [...]}.
    route: dict[str, Any] | None = None
    #: What brings it back when its containers are gone (engine/wayback.py): the image
    #: ids its instances ran, the resolved service definition, the scale.
    restore: dict[str, Any] | None = None
    #: For a rollback: the release whose record it brought back.
    restores: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["color"] = str(self.color) if self.color else None
        data["state"] = str(self.state)
        data["previous_color"] = str(self.previous_color) if self.previous_color else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        """Raises ValueError naming the key when a stored record is damaged."""
        from flowgate.records import check_release

        check_release(data)
        data = dict(data)
        data["color"] = Color(data["color"]) if data.get("color") else None
        data["state"] = ReleaseState(data.get("state", "running"))
        step_names = {f.name for f in dataclasses.fields(Step)}
        data["steps"] = [
            Step(**{k: v for k, v in s.items() if k in step_names}) for s in data.get("steps", [])
        ]
        for key in ("tests", "post_tests"):
            if data.get(key):
                data[key] = TestResult.from_dict(data[key])
        if data.get("previous_color"):
            data["previous_color"] = Color(data["previous_color"])
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def duration(self) -> float | None:
        if not self.ended:
            return None
        start = datetime.fromisoformat(self.started)
        return (datetime.fromisoformat(self.ended) - start).total_seconds()


@dataclass
class TargetState:
    """What the registry remembers about one service (`<project>-<target>`).

    `live_color` is what the proxy serves; `deployed_color` is the color deployed last.
    They differ while a new color waits for promotion, and deploying twice without
    promoting never changes `live_color`.
    """

    service: str
    live_color: Color | None = None
    deployed_color: Color | None = None
    scale: int | None = None  # instance count of the live color
    release_id: str | None = None  # the current or last release
    version: int = 0  # registry's modify index, for check-and-set writes

    @property
    def new_color(self) -> Color | None:
        """The deployed but not yet live color, if any."""
        if self.deployed_color and self.deployed_color != self.live_color:
            return self.deployed_color
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "live_color": str(self.live_color) if self.live_color else None,
            "deployed_color": str(self.deployed_color) if self.deployed_color else None,
            "scale": self.scale,
            "release_id": self.release_id,
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], version: int = 0, service: str | None = None
    ) -> TargetState:
        """Raises ValueError naming the key when a stored state is damaged or out of range
        (a scale outside 1..MAX_SCALE, an unknown color, another service's state)."""
        from flowgate.records import check_state

        check_state(data, service)
        scale = data.get("scale")
        return cls(
            service=data["service"],
            live_color=_stored_color(data, "live_color"),
            deployed_color=_stored_color(data, "deployed_color"),
            scale=scale,
            release_id=data.get("release_id"),
            version=version,
        )


def _stored_color(data: dict[str, Any], key: str) -> Color | None:
    value = data.get(key)
    if not value:
        return None
    try:
        return Color(value)
    except ValueError:
        raise ValueError(f"{key}: expected blue or green, got {value!r}") from None
