"""`flowgate flow ARGS`: Docker Flow's options in, flowgate's context opened, steps run."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from flowgate.dockerflow.bridge import service_name, settings_env, settings_flags
from flowgate.dockerflow.files import FLOWGATE_FILE
from flowgate.dockerflow.flags import ParsedArgs, parse_args
from flowgate.dockerflow.options import DockerFlowOptions, resolve
from flowgate.dockerflow.steps import DockerFlowSteps, FlowRun
from flowgate.engine.context import ReleaseContext

log = logging.getLogger("flowgate")


@dataclass
class FlowInvocation:
    parsed: ParsedArgs
    options: DockerFlowOptions
    project_dir: Path


def parse(
    args: list[str], env: Mapping[str, str] | None = None, project_dir: Path | None = None
) -> FlowInvocation:
    """Parse and resolve; `project_dir` is where `-C` (or the caller) points, else cwd."""
    env = os.environ if env is None else env
    parsed = parse_args(args)
    chosen = parsed.common.get("project_dir") or project_dir or os.getcwd()
    folder = Path(chosen).resolve()
    options = resolve(folder, parsed, env)
    for warning in options.warnings:
        log.warning("%s", warning)
    return FlowInvocation(parsed, options, folder)


def open_flow_context(
    invocation: FlowInvocation,
    env: Mapping[str, str] | None = None,
    pm: pluggy.PluginManager | None = None,
) -> ReleaseContext:
    """flowgate's context with Docker Flow's values, backends and service name."""
    from flowgate.engine.workspace import open_context

    env = os.environ if env is None else env
    options, folder = invocation.options, invocation.project_dir
    flags: dict[str, Any] = settings_flags(options, folder, env)
    # docker-flow.yml is read here with Docker Flow's rules; flowgate reads flowgate.yml.
    context = open_context(folder, flags, settings_env(env), pm, files=(FLOWGATE_FILE,))
    service = service_name(options, context.target)
    if service != context.service_name:
        context.service_name_override = service
        context.state = context.registry.load_state(service)
    return context


def run_steps(context: ReleaseContext, options: DockerFlowOptions) -> FlowRun:
    templates = bool(options.values["consul_template_fe_path"])
    return DockerFlowSteps(context, options.values["scale"], templates).run(options.flow)
