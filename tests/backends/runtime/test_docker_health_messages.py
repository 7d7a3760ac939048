"""The health wait's timeout message, from a container's inspect data (no engine needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from flowgate.backends.runtime.docker_health import timeout_reason


@dataclass
class InspectedContainer:
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)


@pytest.mark.parametrize(
    ("timeout", "shown"), [(2.96109, "3s"), (0.37, "0.4s"), (60.0, "60s"), (12.34, "12.3s")]
)
def test_the_timeout_is_rounded(timeout: float, shown: str) -> None:
    """A release's --timeout leaves odd remainders; the message rounds them."""
    container = InspectedContainer(
        "books_app-green_1",
        {"NetworkSettings": {"Ports": {"8080/tcp": [{"HostPort": "32768"}]}}},
    )
    reason = timeout_reason(container, "8080/tcp", "127.0.0.1", timeout)
    assert reason == (
        f"books_app-green_1 did not become healthy within {shown} "
        "(nothing answered on 127.0.0.1:32768)"
    )
