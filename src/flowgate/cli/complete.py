"""Shell completion helpers: cheap, silent, never failing (a TAB must not print errors).

typer drives completion (`flowgate --install-completion`, or `--show-completion` to print
the script for bash, zsh or fish); these callbacks only supply values it cannot know.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def complete_target(ctx: click.Context, incomplete: str) -> list[str]:
    """The services of the project's Compose file (`-C` / `-f` honoured, else the
    current folder and FLOW_COMPOSE_PATH or docker-compose.yml)."""
    obj = ctx.find_root().obj or {}
    folder = Path(obj.get("project_dir") or os.getcwd())
    compose = obj.get("compose_path") or os.environ.get("FLOW_COMPOSE_PATH") or "docker-compose.yml"
    try:
        import yaml

        data = yaml.safe_load((folder / compose).read_text())
        services = data.get("services") or {}
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return []
    return [str(name) for name in services if str(name).startswith(incomplete)]
