"""flowgate: test-gated blue-green releases of containerised services.

The public API for plugin authors: `hookimpl`, the error types and exit codes, the models,
the backend base classes (`Runtime`, `Proxy`, `Registry` and what they exchange), `Key` (a
configuration key a backend declares), `Settings` / `load_settings` (what a backend
receives, and how a plugin's tests build it), and `private_dir` / `write_private`
(owner-only folders and files, for what a backend keeps under `.flowgate/`). These are
imported on first use, so `import flowgate` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("flowgate")

from flowgate.errors import (  # noqa: E402
    BackendUnreachable,
    ConfigError,
    ExitCode,
    FlowgateError,
    ReleaseFailed,
)
from flowgate.models import Color, Instance, Release, TargetState, TestResult  # noqa: E402

if TYPE_CHECKING:
    from flowgate.backends.base import (
        Backend,
        DeploySpec,
        LockHandle,
        Proxy,
        Registry,
        Route,
        Runtime,
    )
    from flowgate.config.keys import Key
    from flowgate.config.settings import Settings, load_settings
    from flowgate.files import private_dir, write_private

__version__ = "0.1.0"

_LAZY = {
    "Backend": "flowgate.backends.base",
    "DeploySpec": "flowgate.backends.base",
    "LockHandle": "flowgate.backends.base",
    "Proxy": "flowgate.backends.base",
    "Registry": "flowgate.backends.base",
    "Route": "flowgate.backends.base",
    "Runtime": "flowgate.backends.base",
    "Key": "flowgate.config.keys",
    "Settings": "flowgate.config.settings",
    "load_settings": "flowgate.config.settings",
    "private_dir": "flowgate.files",
    "write_private": "flowgate.files",
}

__all__ = [
    "Backend",
    "BackendUnreachable",
    "Color",
    "ConfigError",
    "DeploySpec",
    "ExitCode",
    "FlowgateError",
    "Instance",
    "Key",
    "LockHandle",
    "Proxy",
    "Registry",
    "Release",
    "ReleaseFailed",
    "Route",
    "Runtime",
    "Settings",
    "TargetState",
    "TestResult",
    "__version__",
    "hookimpl",
    "load_settings",
    "private_dir",
    "write_private",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowgate' has no attribute {name!r}")
