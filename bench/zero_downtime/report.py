"""The printed figures: one line per phase, per switch, per compose recreate, per loss."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from figures import Outage, Step, Switch, latencies_by_step, step_at, summarize
from load import PhaseResult


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def phase_line(phase: PhaseResult) -> str:
    wrk = phase.wrk
    p = wrk.latency_percentiles
    rec = summarize([s.latency for s in phase.samples if s.ok] or [0.0])
    errors = ", ".join(f"{k} {v}" for k, v in wrk.socket_errors.items() if v) or "none"
    return (
        f"{phase.name:<9} {phase.duration:6.1f} s | wrk {wrk.requests:6d} req, "
        f"{wrk.failures} failed (non-2xx {phase.wrk_non_2xx_total}, socket errors: {errors}), "
        f"p50 {ms(p.get(50))} p99 {ms(p.get(99))} max {ms(wrk.latency_max)} | "
        f"recorder {len(phase.samples):5d} req, {len(phase.recorder_failures)} failed, "
        f"p50 {ms(rec.p50)} p99 {ms(rec.p99)} max {ms(rec.max)}"
    )


def during_steps_line(phase: PhaseResult, steps: Sequence[Step]) -> str:
    parts = []
    for name, latencies in zip(
        ("while a step ran", "between steps"), latencies_by_step(phase.samples, steps), strict=True
    ):
        if latencies:
            rec = summarize(latencies)
            parts.append(
                f"{name}: {rec.count} req, p50 {ms(rec.p50)} p99 {ms(rec.p99)} max {ms(rec.max)}"
            )
    return "  recorder " + "; ".join(parts)


def switch_lines(switches: Sequence[Switch]) -> list[str]:
    lines = [
        f"  {s.step:<14} {s.old} -> {s.new or 'NO NEW ANSWER'}: first new answer "
        f"{ms(s.latency)} after promote was called, switch confirmed after "
        f"{ms(s.confirm)}; old-color answers to requests sent after confirmation: "
        f"{s.old_after_confirm}"
        for s in switches
    ]
    latencies = [s.latency for s in switches if s.latency is not None]
    if latencies:
        lines.append(
            f"  switch latency over {len(latencies)} switches: median "
            f"{ms(statistics.median(latencies))}, max {ms(max(latencies))}; old-color "
            f"answers after confirmation: {sum(s.old_after_confirm for s in switches)}"
        )
    return lines


def step_lines(steps: Sequence[Step]) -> list[str]:
    return [
        f"  {s.name:<14} took {s.returned - s.called:5.1f} s{'' if s.ok else '  FAILED'}"
        for s in steps
    ]


def loss_lines(phase: PhaseResult, steps: Sequence[Step]) -> list[str]:
    """Every lost request with its time and the step running then: nothing is hidden."""
    t0 = phase.started
    lines = [
        f"  recorder  +{s.started - t0:7.3f} s during {step_at(steps, s.started)}: "
        f"status {s.status or 'none'}, {s.answer}"
        for s in phase.recorder_failures
    ]
    lines += [
        f"  wrk       +{b.at - t0:7.3f} s during {step_at(steps, b.at)}: status {b.status}"
        for b in phase.wrk_bad
    ]
    errors = sum(phase.wrk.socket_errors.values())
    if errors:
        lines.append(f"  wrk       {errors} socket errors (wrk gives no time for these)")
    return lines


def outage_lines(outages: Sequence[Outage]) -> list[str]:
    return [
        f"  {o.step:<14} {o.failures} recorded requests failed"
        + (
            f" (from {ms(o.first_failure)} to {ms(o.last_failure)} after the call)"
            if o.failures
            else ""
        )
        + f"; new version first answered {ms(o.new_answer)} after the call"
        for o in outages
    ]
