"""The only module that prints. Data goes to stdout, progress and diagnostics to stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("table", "json", "yaml")


@dataclass
class Output:
    format: str = "table"
    verbosity: int = 0  # -1 quiet, 0 normal, >0 verbose
    color: bool = True

    @classmethod
    def create(cls, format: str, verbosity: int, no_color: bool) -> Output:
        color = not no_color and "NO_COLOR" not in os.environ and sys.stderr.isatty()
        return cls(format, verbosity, color)

    # -- data (stdout) --------------------------------------------------------------------

    def data(self, value: Any, table: str | None = None) -> None:
        """Print a result: `table` is the human rendering; json/yaml print `value`."""
        if self.format == "json":
            sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")
        elif self.format == "yaml":
            import yaml

            sys.stdout.write(yaml.safe_dump(value, sort_keys=False))
        elif table is not None:
            sys.stdout.write(table if table.endswith("\n") else table + "\n")
        sys.stdout.flush()

    # -- diagnostics (stderr) -------------------------------------------------------------

    def progress(self, message: str) -> None:
        if self.verbosity >= 0:
            self._err(message)

    def detail(self, message: str) -> None:
        if self.verbosity > 0:
            self._err(message)

    def warning(self, message: str) -> None:
        self._err(f"flowgate: warning: {message}")

    def _err(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()


class WarningHandler(logging.Handler):
    """Library warnings (the `flowgate` logger) as `flowgate: warning: ...` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"flowgate: warning: {record.getMessage()}\n")
        sys.stderr.flush()


def route_warnings() -> None:
    """Send the `flowgate` logger's warnings to stderr, once per process."""
    logger = logging.getLogger("flowgate")
    if not any(isinstance(h, WarningHandler) for h in logger.handlers):
        # Propagation stays on: the CLI's root logger has no handler, so nothing prints
        # twice, and pytest's log capture (on the root logger) still sees the warnings.
        logger.addHandler(WarningHandler(logging.WARNING))


def error(message: str) -> None:
    """The one-line error every failure ends with."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    sys.stderr.write(f"flowgate: error: {first}\n")
    sys.stderr.flush()


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A kubectl-like table: upper-case headers, columns padded, no borders."""
    cells = [[str(h).upper() for h in headers]] + [
        ["-" if v is None else str(v) for v in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines) + "\n"
