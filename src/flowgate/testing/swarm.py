"""Test helper for the `swarm` runtime: a single-node swarm for the length of a test
module (projects are cleaned up by `flowgate.testing.projects.remove_project`).

The engine is shared with other test sessions, so the swarm is only left again when this
helper created it; an engine that already was in a swarm stays in it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def swarm_state(client: Any) -> str:
    return str((client.info().get("Swarm") or {}).get("LocalNodeState") or "inactive")


@contextmanager
def single_node_swarm(client: Any) -> Iterator[bool]:
    """Make the engine a swarm manager (advertising 127.0.0.1) if it is not in a swarm yet;
    yields whether this helper created the swarm, and leaves only a swarm it created."""
    created = swarm_state(client) != "active"
    if created:
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
        )
    try:
        yield created
    finally:
        if created:
            leave = ["docker", "swarm", "leave", "--force"]
            subprocess.run(leave, check=False, capture_output=True)
