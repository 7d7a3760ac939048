"""Open a project: plugins, settings, the Compose file, backends and the stored state."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from flowgate.backends.base import Proxy, Registry, Runtime
from flowgate.config.compose import load_compose
from flowgate.config.settings import CONFIG_FILES, Settings, load_settings
from flowgate.engine.context import ReleaseContext, project_name
from flowgate.errors import ConfigError
from flowgate.plugins import BackendCatalog, extra_config_keys, make_plugin_manager

log = logging.getLogger("flowgate")


def load_project_settings(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pm: pluggy.PluginManager | None = None,
    files: Sequence[str] = CONFIG_FILES,
) -> tuple[pluggy.PluginManager, BackendCatalog, Settings]:
    """`files`: the configuration files read, in the folder (flow reads docker-flow.yml
    itself, with Docker Flow's rules)."""
    pm = pm or make_plugin_manager()
    catalog = BackendCatalog.collect(pm)
    keys = extra_config_keys(pm, catalog)
    settings = load_settings(project_dir, flags, env, keys, files=files)
    return pm, catalog, settings


def open_context(
    project_dir: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pm: pluggy.PluginManager | None = None,
    files: Sequence[str] = CONFIG_FILES,
) -> ReleaseContext:
    """Everything a verb needs. Reads the registry but changes nothing anywhere."""
    env = os.environ if env is None else env
    pm, catalog, settings = load_project_settings(project_dir, flags, env, pm, files)
    project = project_name(settings)  # checked before any backend is built
    compose = load_compose(project_dir / settings.compose_path, env)
    if compose.ignored:
        log.warning(
            "%s: not used by flowgate: %s", settings.compose_path, ", ".join(compose.ignored)
        )
    target = settings.target
    if not target:
        raise ConfigError(
            "no target: name it (flowgate deploy app), set FLOW_TARGET or `target:` in flowgate.yml"
        )
    compose.service(target)
    for side in settings.side_targets:
        compose.service(side)
    sources = getattr(settings, "sources", {})
    runtime = catalog.get("runtime", settings.runtime, sources.get("runtime"))(settings)
    proxy = catalog.get("proxy", settings.proxy, sources.get("proxy"))(settings)
    registry = catalog.get("registry", settings.registry, sources.get("registry"))(settings)
    assert isinstance(runtime, Runtime)
    assert isinstance(proxy, Proxy)
    assert isinstance(registry, Registry)
    for service in (compose.service(target), *(compose.service(s) for s in settings.side_targets)):
        runtime.check_service(service)  # a Compose key it cannot honour: refused, named
    return ReleaseContext(
        pm=pm,
        settings=settings,
        compose=compose,
        project=project,
        target=target,
        runtime=runtime,
        proxy=proxy,
        registry=registry,
        state=registry.load_state(f"{project}-{target}"),
    )
