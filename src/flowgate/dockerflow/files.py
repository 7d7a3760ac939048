"""What `flow` needs to know of flowgate.yml, the file beside docker-flow.yml."""

from __future__ import annotations

from pathlib import Path

FLOWGATE_FILE = "flowgate.yml"


def flowgate_file_keys(project_dir: Path) -> set[str]:
    """The keys flowgate.yml sets: they win over docker-flow.yml's, key by key."""
    from flowgate.config.settings import read_yaml_mapping

    path = project_dir / FLOWGATE_FILE
    return {str(key) for key in read_yaml_mapping(path)} if path.is_file() else set()
