"""Suite paths are checked before anything changes: a mistyped one must not cost a
deploy (and the removal of the color kept for rollback) before pytest reports it."""

from __future__ import annotations

from flowgate.config.settings import Settings
from flowgate.errors import ConfigError, UsageError


def check_suites(settings: Settings, *keys: str) -> None:
    """Every path of the `tests` / `post_tests` suites exists, relative to the project
    folder (where the gate runs pytest); a node id's `::test` part is not a path.

    A bad `--tests` flag is a usage error (exit 2); a bad value from flowgate.yml or the
    environment is a configuration error naming its source and key (exit 4)."""
    for key in keys:
        for suite in settings.get(key) or []:
            path = str(suite).split("::", 1)[0]
            if (settings.project_dir / path).exists():
                continue
            problem = f"no such file or folder: {suite} (relative to {settings.project_dir})"
            source = settings.sources.get(key, "")
            if source in ("flag", "override"):
                raise UsageError(f"--{key.replace('_', '-')}: {problem}")
            raise ConfigError(problem, source=source or None, key=key)
