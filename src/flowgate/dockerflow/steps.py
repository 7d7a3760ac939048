"""Docker Flow's steps with its semantics (main.go, flow.go), minus its traffic-losing bugs.

- Steps run in the order given. The color is always relative to the color deployed last
  (Docker Flow's `color` key): deploy goes to the other one, so two deploys in a row land
  on blue, then green.
- `deploy` pulls the image, starts the new color with the count Docker Flow would use
  (the stored scale, replaced or moved by `--scale`) and records color and scale. Without
  blue-green it also goes live at once (Docker Flow restarted the target in place).
- `scale` is skipped when deploy ran in the same call (deploy applied `--scale`);
  otherwise it scales the color deployed last and records the count.
- `proxy` sends the color deployed last to the proxy, on its own too (re-sending after
  a proxy restart), once that color is healthy; it needs a service path.
- `stop-old` (blue-green only) stops the color that is not the one deployed last.

Where Docker Flow lost traffic, flowgate does not: a deploy never replaces the color the
proxy serves (it is refused, saying what to run), the proxy step waits for health, and
stopping a color the proxy still serves is warned about loudly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flowgate import hookimpl
from flowgate.config.scale import ScaleSpec
from flowgate.dockerflow import state as df_state
from flowgate.engine import calls
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.runner import Engine
from flowgate.errors import ConfigError, ReleaseFailed, UsageError
from flowgate.models import Color, Release

log = logging.getLogger("flowgate")
HEALTH_POLL = 0.25


class PickDockerFlowColor:
    """Answers `pick_color` with Docker Flow's next color while `flow` deploys."""

    def __init__(self, color: Color) -> None:
        self.color = color

    @hookimpl(tryfirst=True)
    def pick_color(self, context: ReleaseContext) -> Color:
        return self.color


@dataclass
class FlowRun:
    """What a `flow` run did, step by step, for its output."""

    steps: list[str]
    done: list[str] = field(default_factory=list)
    release: Release | None = None
    deployed: bool = False


class DockerFlowSteps:
    def __init__(self, context: ReleaseContext, scale: str, templates: bool = False) -> None:
        self.ctx = context
        self.engine = Engine(context)
        self.scale_spec = scale
        self.templates = templates

    @property
    def blue_green(self) -> bool:
        return bool(self.ctx.settings.blue_green)

    def run(self, steps: list[str]) -> FlowRun:
        result = FlowRun(steps)
        df_state.adopt(self.ctx)
        for step in steps:
            if step == "deploy":
                result.release = self.deploy()
                result.deployed = True
            elif step == "scale":
                if result.deployed:
                    log.info("scale: skipped, deploy already applied the scale")
                    continue
                self.scale()
            elif step == "stop-old":
                self.stop_old()
            elif step == "proxy":
                release = self.proxy()
                result.release = release or result.release
            result.done.append(step)
        return result

    # -- deploy ---------------------------------------------------------------------------

    def deploy(self) -> Release | None:
        color = df_state.next_color(self.ctx)
        live = self.ctx.state.live_color
        if color == live:
            current = color.other
            raise UsageError(
                f"refusing to deploy onto {color}: the proxy serves it, and {current} (deployed "
                f"last) was never sent to the proxy. Run `flowgate flow -F proxy` to make "
                f"{current} live first, or `flowgate abort` to remove {current}"
            )
        count = df_state.scale_count(self.ctx, self.scale_spec)
        picker = PickDockerFlowColor(color)
        self.ctx.pm.register(picker, name="flowgate.dockerflow.pick_color")
        try:
            release = self.engine.deploy(ScaleSpec("", count))
        finally:
            self.ctx.pm.unregister(picker)
        df_state.record(self.ctx, color, count)
        if not self.blue_green:
            # Docker Flow restarted the target in place; flowgate swaps it without downtime.
            release = self.engine.promote(skip_tests=True) or release
        return release

    # -- scale ----------------------------------------------------------------------------

    def scale(self) -> None:
        color = df_state.stored_color(self.ctx)
        if color is None:
            raise UsageError("nothing to scale: nothing was deployed yet (run -F deploy)")
        count = df_state.scale_count(self.ctx, self.scale_spec)
        if color == self.ctx.state.live_color:
            self.engine.scale(ScaleSpec("", count))
        else:
            with operation(self.ctx):  # a deployed color not sent to the proxy yet
                calls.hook_step(self.ctx, "scale", color=color, count=count)
        df_state.record(self.ctx, None, count)

    # -- stop-old -------------------------------------------------------------------------

    def stop_old(self) -> None:
        if not self.blue_green:
            log.info("stop-old: nothing to stop without blue-green (as in Docker Flow)")
            return
        current = df_state.stored_color(self.ctx)
        if current is None:
            return
        old = current.other
        if not calls.running(self.ctx, old, fresh=True):
            return
        if old == self.ctx.state.live_color:
            log.warning(
                "STOPPING %s WHILE THE PROXY STILL SERVES IT: requests to %s fail until "
                "`flowgate flow -F proxy` sends %s to the proxy",
                old,
                self.ctx.service_name,
                current,
            )
        with operation(self.ctx):
            calls.hook_step(self.ctx, "stop_old", cleanup=True, color=old)

    # -- proxy ----------------------------------------------------------------------------

    def proxy(self) -> Release | None:
        settings = self.ctx.settings
        if not settings.service_path and not self.templates:
            raise ConfigError(
                "the proxy step needs a service path: --service-path, FLOW_SERVICE_PATH or "
                "`service_path:` in docker-flow.yml (or Consul Template paths)"
            )
        if settings.proxy == "none":
            raise ConfigError(
                "the proxy step needs a proxy: --proxy-host (Docker Flow Proxy) or "
                "`proxy:` in flowgate.yml"
            )
        color = df_state.stored_color(self.ctx)
        if color is None:
            raise UsageError("nothing to send to the proxy: nothing was deployed yet")
        self.wait_healthy(color)
        if color != self.ctx.state.live_color:
            return self.engine.promote(skip_tests=True, stop_old=False)
        with operation(self.ctx):  # re-sent, e.g. after the proxy restarted
            calls.route(self.ctx, color, self.ctx.state.new_color)
        return None

    def wait_healthy(self, color: Color) -> None:
        """Wait (up to health_timeout) until every running instance of `color` is healthy."""
        deadline = time.monotonic() + self.ctx.health_timeout()
        while True:
            instances = calls.running(self.ctx, color, fresh=True)
            if not instances:
                raise UsageError(f"no {color} instance runs: nothing to send to the proxy")
            unhealthy = [i.name for i in instances if not i.healthy]
            if not unhealthy:
                return
            if time.monotonic() >= deadline:
                raise ReleaseFailed(
                    f"not sending {color} to the proxy: {', '.join(unhealthy)} not healthy "
                    f"after {self.ctx.health_timeout():.0f}s"
                )
            time.sleep(HEALTH_POLL)
