"""Project names: Compose's rules, and an error instead of a silent rewrite.

Two spellings of one name (`Books`, `books!`) rewritten to the same `books` would share
state and containers without anyone noticing, so an explicit name (`-p`, FLOW_PROJECT,
`project:`) must already be valid. Only the default, the project folder's name, is
normalised, exactly as `docker compose` does it.
"""

from __future__ import annotations

import re

from flowgate.config.settings import Settings, flag_name
from flowgate.config.values import check_project, normalize_project
from flowgate.errors import ConfigError, UsageError

#: What Docker accepts in the container and service names a project name becomes part of.
_DOCKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def compose_project_name(settings: Settings) -> str:
    """The `project` setting checked by Compose's rule, else the folder's name normalised."""
    if settings.project:
        source = settings.sources.get("project", "project")
        try:
            return check_project(settings.project)
        except ValueError as err:
            if source == "flag":
                raise UsageError(f"{flag_name('project')}: {err}") from None
            raise ConfigError(str(err), source=source, key="project") from None
    folder = settings.project_dir.resolve().name
    name = normalize_project(folder)
    if not name:
        raise ConfigError(
            f"cannot derive a project name from the folder {folder!r}: set one with "
            "-p/--project, FLOW_PROJECT or `project:` in flowgate.yml",
            key="project",
        )
    return name


def docker_name_problem(raw: str) -> str | None:
    """Why `raw` cannot be part of a Docker container or service name; None when it can."""
    if len(raw) > 63 or not _DOCKER_NAME.fullmatch(raw):
        return (
            f"{raw!r} cannot be part of a Docker name: letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return None
