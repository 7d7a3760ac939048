"""The target's release lock: taken for every verb, renewed in the background, and taken
over at once when its holder died on this host."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowgate.backends.base import LockHandle
from flowgate.engine.context import ReleaseContext, abandoned
from flowgate.errors import FlowgateError, LockHeld

log = logging.getLogger("flowgate")


def acquire_lock(context: ReleaseContext, holder: dict[str, Any], ttl: float) -> LockHandle:
    """Take the release lock; a lock whose holder died on this host is taken over at once
    instead of blocking every verb until it expires."""
    registry, service = context.registry, context.service_name
    try:
        return registry.acquire_lock(service, holder, ttl)
    except LockHeld as held:
        if not abandoned(held.holder) or not registry.break_lock(service, held.holder):
            raise
        log.warning(
            "took over the release lock of %s: its holder (pid %s on this host) is gone",
            service,
            held.holder.get("pid"),
        )
    return registry.acquire_lock(service, holder, ttl)


@contextmanager
def held_lock(context: ReleaseContext, holder: dict[str, Any]) -> Iterator[LockHandle]:
    """Hold the target's release lock, renewing it in the background until done."""
    ttl = float(context.settings.lock_ttl)
    lock = acquire_lock(context, holder, ttl)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                lock.renew()
            except FlowgateError as err:
                log.warning("could not renew the release lock: %s", err)

    renewer = threading.Thread(target=renew, name="flowgate-lock", daemon=True)
    renewer.start()
    try:
        yield lock
    finally:
        stop.set()
        renewer.join()
        lock.release()
