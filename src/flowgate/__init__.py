"""flowgate: test-gated blue-green releases of containerised services.

The public API for plugin authors: `hookimpl`, the error types and exit codes, the models.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("flowgate")

from flowgate.errors import ExitCode, FlowgateError  # noqa: E402
from flowgate.models import Color, Instance, Release, Route, TargetState, TestResult  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Color",
    "ExitCode",
    "FlowgateError",
    "Instance",
    "Release",
    "Route",
    "TargetState",
    "TestResult",
    "__version__",
    "hookimpl",
]
