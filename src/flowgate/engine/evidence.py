"""The state is evidence, not gospel: before a verb changes anything, the registry's state
is compared with what runs (the instances the `instances` hook answers, found by their
`io.flowgate.*` labels). When they disagree, the verb stops, names the difference and the
command that rebuilds the state from what runs (`flowgate reconcile`), and changes nothing:
deploying on a guess is how a lost state file took the live color down.
"""

from __future__ import annotations

from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.routing import live_release
from flowgate.errors import ExitCode, FlowgateError
from flowgate.models import Color, Instance, Release


class StateDisagrees(FlowgateError):
    """The registry's state contradicts what runs; nothing was changed (exit 4)."""

    exit_code = ExitCode.CONFIG


def facts(context: ReleaseContext) -> dict[Color, list[Instance]]:
    """Every instance of each color, as the `instances` hook answers now."""
    return {color: calls.instances(context, color, fresh=True) for color in Color}


def summary(instances: list[Instance]) -> str:
    running = [i for i in instances if i.running]
    releases = sorted({i.release for i in instances if i.release})
    what = f"{len(running)} running" + (
        f", {len(instances) - len(running)} stopped" if len(running) < len(instances) else ""
    )
    return what + (f" (release {', '.join(releases)})" if releases else "")


def disagreement(context: ReleaseContext, found: dict[Color, list[Instance]]) -> str | None:
    """Why the state cannot be trusted, or None when it agrees with what runs."""
    state = context.state
    present = {color: found[color] for color in Color if found[color]}
    if state.version == 0 and present:
        colors = "; ".join(f"{color}: {summary(i)}" for color, i in present.items())
        return f"no state is stored, but instances exist ({colors})"
    live = state.live_color
    if live is None:
        return None
    running = {color: [i for i in found[color] if i.running] for color in Color}
    other = live.other
    if not running[live] and running[other] and state.new_color != other:
        return (
            f"the state says {live} is live, but {live} has no running instance while "
            f"{other} runs {len(running[other])}"
        )
    record = live_release(context)
    labels = {i.release for i in running[live] if i.release}
    legacy = record is not None and record.kind == "rollback" and not record.restores
    if record is None or legacy or not labels:
        return None
    if not any(runs_same_release(context, record, label) for label in sorted(labels)):
        return (
            f"the state says {live} runs release {record.id}, but its instances run "
            f"release {', '.join(sorted(labels))}"
        )
    return None


def runs_same_release(context: ReleaseContext, release: Release, label: str) -> bool:
    """Whether instances labelled with release `label` may be `release`'s: the same id, or
    a release re-running the same record (a rollback starting a warm copy keeps the
    copy's labels). Records are looked up by id, so the cost does not grow with history."""
    if label == release.id:
        return True
    labelled = context.registry.release(context.service_name, label)
    return labelled is not None and source_id(context, labelled) == source_id(context, release)


def source_id(context: ReleaseContext, release: Release) -> str:
    """The id of the release whose record `release` re-ran (its own for a release),
    following each rollback's `restores` by id (engine.wayback.source_of, without the
    whole history)."""
    seen = {release.id}
    while release.kind == "rollback" and release.restores not in (None, "", *seen):
        found = context.registry.release(context.service_name, str(release.restores))
        if found is None:
            break
        seen.add(found.id)
        release = found
    return release.id


def check_evidence(context: ReleaseContext) -> None:
    """Raise StateDisagrees when the state contradicts what runs."""
    why = disagreement(context, facts(context))
    if why is not None:
        raise StateDisagrees(
            f"the registry's state of {context.service_name} disagrees with what runs: {why}; "
            "nothing was changed: `flowgate reconcile` rebuilds the state from what runs"
        )
