"""The benchmark's arithmetic, with no I/O: wrk's report, percentiles, switch latencies.

Times are `time.monotonic()` seconds everywhere (CLOCK_MONOTONIC, one clock for the whole
machine), so the recording client's samples, the step events written by flowgate's
subprocesses and the failure times wrk's Lua script writes can be compared directly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9.]+)(us|ms|s|m|h)$")


class Sample(Protocol):
    """What the recording client keeps per request (`flowgate.testing.traffic.Sample`)."""

    @property
    def started(self) -> float: ...
    @property
    def latency(self) -> float: ...
    @property
    def status(self) -> int: ...
    @property
    def answer(self) -> str: ...
    @property
    def ok(self) -> bool: ...


def seconds(text: str) -> float:
    """wrk's durations ("812.00us", "8.77ms", "1.02s", "2.00m") in seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class WrkReport:
    """What wrk printed: counts, socket errors by kind, and latency (seconds)."""

    requests: int
    duration: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    latency_percentiles: dict[int, float]
    latency_max: float

    @property
    def failures(self) -> int:
        """Requests that got no 2xx/3xx: wrk never retries, so each one was lost."""
        return self.non_2xx_3xx + sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkReport:
    """Read wrk's text report (run with `--latency`); a missing line means zero."""
    totals = re.search(r"^\s*(\d+) requests in ([0-9.]+\w+),", output, re.M)
    latency = re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    if totals is None or latency is None:
        raise ValueError("not a wrk report: no 'requests in' or 'Latency' line")
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    found = re.search(r"^\s*Socket errors:(.*)$", output, re.M)
    if found:
        for kind, count in re.findall(r"(\w+) (\d+)", found.group(1)):
            errors[kind] = int(count)
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses: (\d+)", output, re.M)
    percentiles = {
        int(p): seconds(value) for p, value in re.findall(r"^\s*(\d+)%\s+(\S+)\s*$", output, re.M)
    }
    return WrkReport(
        requests=int(totals.group(1)),
        duration=seconds(totals.group(2)),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors,
        latency_percentiles=percentiles,
        latency_max=seconds(latency.group(3)),
    )


@dataclass(frozen=True)
class WrkBadAnswer:
    at: float
    status: int


def parse_wrk_bad_answers(text: str) -> tuple[int, list[WrkBadAnswer]]:
    """Read the file our Lua script writes: `non2xx N`, then `bad <time> <status>` lines."""
    total, bad = 0, []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["non2xx"]:
            total = int(parts[1])
        elif parts[:1] == ["bad"]:
            bad.append(WrkBadAnswer(float(parts[1]), int(parts[2])))
    return total, sorted(bad, key=lambda b: b.at)


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q% of values at or below)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50: float
    p99: float
    max: float


def summarize(latencies: Sequence[float]) -> LatencySummary:
    return LatencySummary(
        len(latencies), percentile(latencies, 50), percentile(latencies, 99), max(latencies)
    )


@dataclass
class Step:
    """One command run under load: when it was called and returned; for a release or a
    rollback also when its proxy switch started ("promote called") and ended (confirmed)."""

    name: str
    called: float
    returned: float
    ok: bool = True
    switch_called: float | None = None
    switch_confirmed: float | None = None
    events: list[tuple[float, str, str]] = field(default_factory=list)


def attach_switch(step: Step, events: Iterable[tuple[float, str, str]]) -> None:
    """Find the step's switch among flowgate's `release_event`s: the last
    `reconfigure_proxy` step it ran (in a release the earlier one only adds the preview)."""
    mine = sorted(e for e in events if step.called <= e[0] <= step.returned)
    step.events = mine
    started = [
        t for t, event, name in mine if name == "reconfigure_proxy" and event == "step-started"
    ]
    finished = [
        t for t, event, name in mine if name == "reconfigure_proxy" and event == "step-finished"
    ]
    if started and finished and finished[-1] >= started[-1]:
        step.switch_called, step.switch_confirmed = started[-1], finished[-1]


def answer_before(samples: Iterable[Sample], moment: float) -> str | None:
    """The label of the last good answer that arrived before `moment` (who was live)."""
    best: tuple[float, str] | None = None
    for s in samples:
        done = s.started + s.latency
        if s.ok and done < moment and (best is None or done > best[0]):
            best = (done, s.answer)
    return best[1] if best else None


def first_new_answer(samples: Iterable[Sample], moment: float, old: str) -> float | None:
    """When the first good answer from anything but `old` arrived at or after `moment`."""
    arrivals = [
        s.started + s.latency
        for s in samples
        if s.ok and s.answer != old and s.started + s.latency >= moment
    ]
    return min(arrivals) if arrivals else None


def old_answers_after(
    samples: Iterable[Sample], moment: float, old: str, until: float = math.inf
) -> list[Sample]:
    """Requests sent between `moment` and `until` (the next step, which may bring the old
    version back) that the old color still answered."""
    return [s for s in samples if s.ok and s.answer == old and moment <= s.started < until]


@dataclass(frozen=True)
class Switch:
    step: str
    old: str
    new: str | None
    latency: float | None  # promote called -> first answer from the new color
    confirm: float  # promote called -> switch confirmed (the proxy step returned)
    old_after_confirm: int


def measure_switch(step: Step, samples: Sequence[Sample], until: float = math.inf) -> Switch | None:
    """The switch of `step`; `until` is when the next step was called."""
    if step.switch_called is None or step.switch_confirmed is None:
        return None
    old = answer_before(samples, step.switch_called) or "?"
    arrived = first_new_answer(samples, step.switch_called, old)
    new = None
    if arrived is not None:
        new = next(
            s.answer
            for s in samples
            if s.ok and s.answer != old and s.started + s.latency == arrived
        )
    return Switch(
        step=step.name,
        old=old,
        new=new,
        latency=None if arrived is None else arrived - step.switch_called,
        confirm=step.switch_confirmed - step.switch_called,
        old_after_confirm=len(old_answers_after(samples, step.switch_confirmed, old, until)),
    )


def step_at(steps: Sequence[Step], moment: float) -> str:
    """Which step was running at `moment` (for saying when a request was lost)."""
    for step in steps:
        if step.called <= moment <= step.returned:
            return step.name
    return "between steps"


def latencies_by_step(
    samples: Iterable[Sample], steps: Sequence[Step]
) -> tuple[list[float], list[float]]:
    """Good answers' latencies of requests sent while a step ran, and of the others: tells
    a slowdown caused by the steps from one the machine had anyway."""
    during: list[float] = []
    between: list[float] = []
    for s in samples:
        if s.ok:
            ran = any(step.called <= s.started <= step.returned for step in steps)
            (during if ran else between).append(s.latency)
    return during, between


@dataclass(frozen=True)
class Outage:
    """A compose recreate: how long the service gave no good answer around it."""

    step: str
    failures: int
    first_failure: float | None
    last_failure: float | None
    new_answer: float | None  # command called -> first answer of the new version


def measure_outage(step: Step, samples: Sequence[Sample], new: str, until: float) -> Outage:
    """Failures between the command's call and `until` (the next step), and when `new`
    first answered."""
    failed = sorted(s.started for s in samples if not s.ok and step.called <= s.started < until)
    arrivals = [
        s.started + s.latency
        for s in samples
        if s.ok and s.answer == new and s.started + s.latency >= step.called
    ]
    return Outage(
        step=step.name,
        failures=len(failed),
        first_failure=failed[0] - step.called if failed else None,
        last_failure=failed[-1] - step.called if failed else None,
        new_answer=min(arrivals) - step.called if arrivals else None,
    )
