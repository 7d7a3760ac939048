"""What every verb runs inside: the target's lock, recovery from a dead predecessor, and
the record of how the verb ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from flowgate.engine.context import ReleaseContext, holder_identity
from flowgate.engine.evidence import check_evidence
from flowgate.engine.lock import held_lock
from flowgate.engine.recorder import finish, transition
from flowgate.engine.routing import pin_live_route
from flowgate.engine.verbs.recover import recover
from flowgate.errors import FlowgateError, Interrupted
from flowgate.models import Release, ReleaseState


@contextmanager
def operation(
    context: ReleaseContext, timeout: float | None = None, release_id: str | None = None
) -> Iterator[Release | None]:
    """Hold the lock, recover from a dead predecessor, and record how the verb ended.
    Yields the release it recovered, if any.

    The lock's holder names the release the verb works on: the one it is about to start
    (`release_id`), else the current one."""
    if timeout:
        context.deadline = time.monotonic() + timeout
    working_on = release_id or context.state.release_id
    with held_lock(context, holder_identity(working_on)):
        context.state = context.registry.load_state(context.service_name)
        context.known_instances.clear()  # facts are re-asked for by each verb
        check_evidence(context)
        recovered = recover(context)
        pin_live_route(context)
        try:
            yield recovered
        except KeyboardInterrupt:
            release = context.release
            if release is not None and release.state is ReleaseState.RUNNING:
                transition(context, release, ReleaseState.INTERRUPTED)
                finish(context, release, "interrupted", f"interrupted in {release.step}")
            raise Interrupted(
                "interrupted; state saved: see `flowgate status`, then `flowgate abort` "
                "or `flowgate release`"
            ) from None
        except FlowgateError as err:
            release = context.release
            # A deployed release that a later verb failed on stays deployed (not ended).
            if (
                release is not None
                and release.ended is None
                and release.state is not ReleaseState.DEPLOYED
            ):
                if release.state is ReleaseState.RUNNING:
                    transition(context, release, ReleaseState.FAILED)
                finish(context, release, release.state.value, str(err))
            raise
