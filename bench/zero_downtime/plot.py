"""The PNG: request latency over time per phase, each step a vertical line, failures in red."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from figures import Step
from load import PhaseResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_STEP_COLORS = {"release": "black", "scale": "tab:orange", "rollback": "tab:purple"}
# Answers of the blue color in blue, green in green; compose's colorless answers by version.
_ANSWER_COLORS = {"(blue)": "tab:blue", "(green)": "tab:green"}
_OTHER_ANSWER_COLORS = ("tab:cyan", "tab:olive", "tab:brown", "tab:pink")


def _step_color(name: str) -> str:
    return _STEP_COLORS.get(name.split()[0], "tab:gray")


def plot(phases: Sequence[tuple[PhaseResult, Sequence[Step]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(phases), 1, figsize=(12, 3.4 * len(phases)), squeeze=False)
    for ax, (phase, steps) in zip(axes[:, 0], phases, strict=True):
        _draw_phase(ax, phase, steps)
    axes[-1, 0].set_xlabel("seconds since the load started")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_phase(ax: Axes, phase: PhaseResult, steps: Sequence[Step]) -> None:
    t0 = phase.started
    labels = sorted({s.answer for s in phase.samples if s.ok})
    for index, label in enumerate(labels):
        mine = [s for s in phase.samples if s.ok and s.answer == label]
        ax.scatter(
            [s.started - t0 for s in mine],
            [s.latency * 1000 for s in mine],
            s=3,
            color=_ANSWER_COLORS.get(
                label.split()[-1], _OTHER_ANSWER_COLORS[index % len(_OTHER_ANSWER_COLORS)]
            ),
            label=f"answered by {label}",
            rasterized=True,
        )
    failed = phase.recorder_failures
    if failed:
        ax.scatter(
            [s.started - t0 for s in failed],
            [max(s.latency * 1000, 0.1) for s in failed],
            s=30,
            marker="x",
            color="red",
            label=f"failed (recording client): {len(failed)}",
            zorder=5,
        )
    if phase.wrk_bad:
        ax.scatter(
            [b.at - t0 for b in phase.wrk_bad],
            [0.2] * len(phase.wrk_bad),
            s=30,
            marker="|",
            color="darkred",
            label=f"non-2xx (wrk): {phase.wrk_non_2xx_total}",
            zorder=5,
        )
    for step in steps:
        color = _step_color(step.name)
        ax.axvline(step.called - t0, color=color, linestyle="--", linewidth=0.8)
        if step.switch_confirmed is not None:
            ax.axvline(step.switch_confirmed - t0, color=color, linewidth=1.2)
        ax.annotate(
            step.name,
            (step.called - t0, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            fontsize=7,
            va="top",
            ha="right",
            color=color,
        )
    wrk = phase.wrk
    ax.set_title(
        f"{phase.name}: {len(phase.samples)} recorded requests, "
        f"{len(failed)} failed; wrk {wrk.requests} requests, {wrk.failures} failed "
        "(dashed: command called, solid: switch confirmed)",
        fontsize=9,
    )
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    ax.set_xlim(0, phase.duration)
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
