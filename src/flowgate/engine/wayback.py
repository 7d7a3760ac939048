"""Always a way back: what each release records to be brought back, and which release a
rollback brings back.

A release records, once its color is deployed, the image ids its instances run, the
resolved service definition (Compose service after interpolation) and its scale
(`Release.restore`). `rollback` starts the warm copy when the not-live color still holds
that release (instant); when it does not (removed, replaced by a failed or aborted
deploy, or `--to` an older release), it re-creates the release from this record on the
not-live color, waits until healthy, and only then switches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from flowgate.config.compose import Healthcheck, ServiceSpec
from flowgate.engine.context import ReleaseContext
from flowgate.errors import ConfigError, UsageError
from flowgate.models import Instance, Release, ReleaseState

#: Bumped when the record's shape changes; a record of another version is not used.
RECORD_VERSION = 1


def snapshot(context: ReleaseContext, instances: Sequence[Instance]) -> dict[str, Any]:
    """What brings the release back: image ids, the service definition, the scale."""
    service = context.service
    images = sorted({i.image for i in instances if i.image})
    definition = dataclasses.asdict(service)
    if definition.get("build"):
        definition["build"]["context"] = str(definition["build"]["context"])
    return {
        "version": RECORD_VERSION,
        "image": images[0] if len(images) == 1 else (service.image or ""),
        "image_tag": service.image,
        "service": definition,
        "scale": len(instances) or 1,
    }


def restored_service(record: dict[str, Any]) -> ServiceSpec:
    """The recorded service definition, running the recorded image (never rebuilt)."""
    if record.get("version") != RECORD_VERSION or not isinstance(record.get("service"), dict):
        raise UsageError("its record cannot re-create it (written by another flowgate)")
    data = dict(record["service"])
    names = {f.name for f in dataclasses.fields(ServiceSpec)}
    data = {k: v for k, v in data.items() if k in names}
    image = record.get("image") or record.get("image_tag")
    if not image:
        raise UsageError("its record names no image to re-create it from")
    data["image"] = image
    data["build"] = None  # the recorded bits, never a fresh build of today's sources
    try:
        if data.get("healthcheck"):
            data["healthcheck"] = Healthcheck(**data["healthcheck"])
        return ServiceSpec(**data)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"its record's service definition is damaged: {err}") from None


def live_history(releases: Sequence[Release]) -> list[Release]:
    """Releases that went live (promoted or rolled back to), newest first."""
    return [r for r in releases if r.state is ReleaseState.LIVE and r.color is not None]


def rollback_target(
    context: ReleaseContext, releases: Sequence[Release], to: str | None
) -> Release:
    """The release `rollback` brings back: `to` (any release that was live), else the one
    that was live before the current live release."""
    went_live = live_history(releases)
    if to is not None:
        wanted = next((r for r in releases if r.id == to), None)
        if wanted is None:
            raise UsageError(f"cannot roll back to {to}: no such release (see `flowgate history`)")
        if wanted not in went_live:
            raise UsageError(
                f"cannot roll back to {to}: it was never live ({wanted.state}); only a "
                "release that passed its gate and went live can come back"
            )
        return wanted
    if len(went_live) < 2:
        raise UsageError("nothing to roll back to: no release was live before the current one")
    current = went_live[0]
    for release in went_live[1:]:
        if release.id != current.restores:
            return release
    raise UsageError("nothing to roll back to: no release was live before the current one")


def source_of(release: Release, releases: Sequence[Release]) -> Release:
    """The release whose record a rollback release re-ran (itself for a release)."""
    seen = {r.id: r for r in releases}
    while release.kind == "rollback" and release.restores in seen:
        release = seen[release.restores]
    return release
