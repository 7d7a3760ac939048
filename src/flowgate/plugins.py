"""Build a plugin manager: built-ins first, then the `flowgate` entry-point group.

Built-in backends and steps are registered exactly like third-party plugins, through the
same hooks. There is no global manager; each command builds one.
"""

from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from flowgate import hookspecs
from flowgate.backends.base import Backend
from flowgate.config.keys import Key
from flowgate.errors import ConfigError, FlowgateError

BUILTIN_PLUGINS = (
    "flowgate.engine.steps",
    "flowgate.gate",
    "flowgate.backends.runtime.docker",
    "flowgate.backends.runtime.swarm",
    "flowgate.backends.proxy.none",
    "flowgate.backends.proxy.haproxy",
    "flowgate.backends.proxy.docker_flow_proxy",
    "flowgate.backends.registry.file",
    "flowgate.backends.registry.consul",
    "flowgate.dockerflow.keys",
)
ENTRY_POINT_GROUP = "flowgate"
KINDS = ("runtime", "proxy", "registry")


def make_plugin_manager(load_entry_points: bool = True) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("flowgate")
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    # Like PYTEST_PLUGINS: extra plugin modules by name, for tests and quick experiments.
    for module_name in os.environ.get("FLOWGATE_PLUGINS", "").split(","):
        if module_name.strip() and not pm.has_plugin(module_name.strip()):
            try:
                module = importlib.import_module(module_name.strip())
            except ImportError as err:
                raise FlowgateError(
                    f"FLOWGATE_PLUGINS: cannot import {module_name}: {err}"
                ) from err
            pm.register(module, name=module_name.strip())
    # A misspelled hook in any plugin fails here, loudly, instead of never being called.
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        raise FlowgateError(f"plugin error: {err}") from err
    return pm


@dataclass
class BackendCatalog:
    """The backend classes every plugin offered, by kind and name."""

    classes: dict[str, dict[str, type[Backend]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    @classmethod
    def collect(cls, pm: pluggy.PluginManager) -> BackendCatalog:
        catalog = cls()
        for offered in pm.hook.flowgate_backends():
            for backend in offered:
                known = catalog.classes.setdefault(backend.kind, {})
                if backend.name in known and known[backend.name] is not backend:
                    raise FlowgateError(
                        f"two plugins offer a {backend.kind} backend named {backend.name!r}"
                    )
                known[backend.name] = backend
        return catalog

    def get(self, kind: str, name: str, source: str | None = None) -> type[Backend]:
        """The backend class; an unknown name says where it was chosen (`source`: the file
        or variable), the installed alternatives, and the closest one."""
        try:
            return self.classes[kind][name]
        except KeyError:
            from difflib import get_close_matches

            installed = sorted(self.classes.get(kind, {}))
            close = get_close_matches(name, installed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown {kind} backend {name!r}; {hint}installed: "
                f"{', '.join(installed) or 'none'} (others come as plugins: see "
                "`flowgate plugins`)",
                source=None if source in (None, "default") else source,
                key=kind,
            ) from None

    def config_keys(self) -> list[Key]:
        return [
            key
            for by_name in self.classes.values()
            for b in by_name.values()
            for key in b.config_keys
        ]


def extra_config_keys(pm: pluggy.PluginManager, catalog: BackendCatalog) -> list[Key]:
    keys = catalog.config_keys()
    for offered in pm.hook.flowgate_config_keys():
        keys.extend(offered)
    return keys


def path_plugins(path: str | None = None) -> dict[str, Path]:
    """Executables named `flowgate-<name>` on PATH, kubectl-style; the first one wins."""
    found: dict[str, Path] = {}
    for folder in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for entry in sorted(os.listdir(folder)):
            if entry.startswith("flowgate-") and len(entry) > len("flowgate-"):
                full = os.path.join(folder, entry)
                if entry[9:] not in found and shutil.which(full):
                    found[entry[9:]] = Path(full)
    return found
