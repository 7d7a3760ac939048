"""release: deploy, test, promote; the whole of README's "How a release goes".

Whatever stops it before the switch (a closed gate, the deadline, an unhealthy instance,
a failed switch) removes the new color, unless `keep_failed`."""

from __future__ import annotations

import logging

from flowgate.config.scale import ScaleSpec
from flowgate.engine.context import ReleaseContext
from flowgate.engine.operation import operation
from flowgate.engine.recorder import new_release_id, transition
from flowgate.engine.verbs.abort import discard_new
from flowgate.engine.verbs.deploy import deploy_new
from flowgate.engine.verbs.promote import switch_to_new
from flowgate.engine.verbs.test import gate_message, run_gate
from flowgate.errors import FlowgateError, GateFailed
from flowgate.models import Release, ReleaseState

log = logging.getLogger("flowgate")


def release(
    context: ReleaseContext,
    suites: list[str],
    post_tests: list[str],
    scale: ScaleSpec | None = None,
    keep_failed: bool = False,
    timeout: float | None = None,
) -> Release | None:
    release_id = new_release_id()
    with operation(context, timeout, release_id):
        new = deploy_new(context, release_id, scale, keep_failed)
        transition(context, new, ReleaseState.RUNNING)
        color = new.color
        assert color is not None
        try:
            if suites:
                result = run_gate(context, suites, color, "gate")
                if not result.ok:
                    transition(context, new, ReleaseState.GATE_FAILED)
                    raise GateFailed(gate_message(result))
            return switch_to_new(context, post_tests, keep_failed)
        except FlowgateError:
            if not keep_failed and context.state.new_color == color:
                try:
                    discard_new(context, color)
                except FlowgateError as err:
                    log.warning("could not remove the failed %s: %s", color, err)
            raise
