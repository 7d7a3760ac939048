"""One error hierarchy: every error knows the exit code the CLI turns it into."""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """flowgate's public exit codes; pipelines read these, so they never change meaning."""

    OK = 0
    RELEASE_FAILED = 1  # the release failed and was rolled back; the old color still serves
    USAGE = 2
    INTERNAL = 3
    CONFIG = 4
    BACKEND_UNREACHABLE = 5  # Docker, registry or proxy unreachable before anything changed
    ROLLBACK_FAILED = 6  # manual action needed; the message says what
    GATE_FAILED = 7  # the test gate failed; the proxy was not touched
    LOCKED = 8  # another release of this target holds the lock
    INTERRUPTED = 130


class FlowgateError(Exception):
    """Base of every error flowgate reports to a user; the message must be actionable."""

    exit_code: ExitCode = ExitCode.INTERNAL


def one_line(text: str) -> str:
    """`text` with control and other unprintable characters escaped, as repr() would."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class UsageError(FlowgateError):
    exit_code = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


class ConfigError(FlowgateError):
    """A bad configuration value; the message names the source and the key."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        prefix = ": ".join(part for part in (source, key) if part)
        # One line whatever a hostile file holds: a key named "\n" is shown escaped.
        super().__init__(one_line(f"{prefix}: {message}" if prefix else message))
        self.source = source
        self.key = key


class BackendUnreachable(FlowgateError):
    exit_code = ExitCode.BACKEND_UNREACHABLE


class ReleaseFailed(FlowgateError):
    """A step failed; what had changed was undone and the live color still serves."""

    exit_code = ExitCode.RELEASE_FAILED


class RollbackFailed(FlowgateError):
    exit_code = ExitCode.ROLLBACK_FAILED


class GateFailed(FlowgateError):
    exit_code = ExitCode.GATE_FAILED


class LockHeld(FlowgateError):
    exit_code = ExitCode.LOCKED

    def __init__(
        self,
        service: str,
        holder: dict[str, Any],
        *,
        expires_in: float | None = None,
        ttl: float | None = None,
    ):
        who = ", ".join(
            f"{key}={value}"
            for key, value in holder.items()
            if value is not None and key != "pid_namespace"  # for machines, not people
        )
        if expires_in is not None:
            # Rounded up: "expires in 0 s" would invite a retry that is still refused.
            when = f"; it expires in {max(1, math.ceil(expires_in))} s unless renewed"
        elif ttl is not None:
            when = f"; it expires at most {2 * ttl:g} s after its holder stops renewing it"
        else:
            when = ""
        super().__init__(f"another release of {service} holds the lock ({who}){when}")
        self.holder = holder
        self.expires_in = expires_in


class ConflictError(FlowgateError):
    """A check-and-set write lost against another writer; nothing was overwritten."""

    exit_code = ExitCode.RELEASE_FAILED


class Interrupted(FlowgateError):
    exit_code = ExitCode.INTERRUPTED
