"""Release progress on stderr, as a `release_event` plugin registered by the CLI.

Drawn with rich, as people know it from rich-based tools: a spinner on the running step
when stderr is a terminal, then one line per step with a green ✓ or red ✗ and its
duration, the test suite's summary, and the outcome. Piped or under CI the same lines come
out plain, written directly: rich (~60 ms to import) is loaded only for a terminal. `-q`
silences all of it; `-v` adds a line when each step starts.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from flowgate import hookimpl
from flowgate.cli.output import Output

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

# The test steps stream pytest's own output: a spinner redrawn under it would garble it.
_STREAMING_STEPS = {"test", "post_test"}
_OUTCOME_STYLES = {"succeeded": "bold green", "aborted": "bold yellow"}


class ProgressReporter:
    def __init__(self, out: Output) -> None:
        self.out = out
        self._console: Console | None = None
        self._spinner: Status | None = None
        self._tests_failed = False  # the last suite's verdict, for its step's mark

    @property
    def console(self) -> Console:
        if self._console is None:  # rich is imported only once a step runs
            from rich.console import Console

            # color_system=None drops every style (dim and bold too), as NO_COLOR asks.
            self._console = Console(
                stderr=True, highlight=False, color_system="auto" if self.out.color else None
            )
        return self._console

    @property
    def plain(self) -> bool:
        """Stderr is no terminal (and FORCE_COLOR does not say otherwise): no rich."""
        if self._console is not None:
            return False
        return not sys.stderr.isatty() and "FORCE_COLOR" not in os.environ

    def _line(self, *segments: tuple[str, str | None]) -> None:
        """One line of (text, style) segments: plain, or through rich."""
        if self.plain:
            self.out._err("".join(text for text, _ in segments))
            return
        from rich.text import Text

        line = Text()
        for text, style in segments:
            line.append(text, style=style)
        self.console.print(line, soft_wrap=True)

    @hookimpl
    def release_event(self, context: Any, event: str, data: dict[str, Any]) -> None:
        if self.out.verbosity < 0:
            return
        handler = getattr(self, "_on_" + event.replace("-", "_"), None)
        if handler is not None:
            handler(data)

    def _on_step_started(self, data: dict[str, Any]) -> None:
        step = data.get("step", "")
        if self.out.verbosity > 0:
            self._line((f"  … {step}", "dim"))
        if not self.plain and self.console.is_terminal and step not in _STREAMING_STEPS:
            self._spinner = self.console.status(f"{step}…", spinner="dots")
            self._spinner.start()

    def _on_step_finished(self, data: dict[str, Any]) -> None:
        # A suite that ran to the end but failed is a closed gate, not a passed step.
        if data.get("step") in _STREAMING_STEPS and self._tests_failed:
            self._step_line("✗", "red", data)
        else:
            self._step_line("✓", "green", data)

    def _on_step_failed(self, data: dict[str, Any]) -> None:
        self._step_line("✗", "red", data, data.get("error", ""))

    def _on_tests_finished(self, data: dict[str, Any]) -> None:
        self._tests_failed = data.get("exit_code") != 0
        what = "post-tests" if data.get("kind") == "post" else "tests"
        counts = [("passed", "green"), ("failed", "red"), ("errors", "red"), ("skipped", "yellow")]
        segments: list[tuple[str, str | None]] = [(f"  {what}: ", None)]
        for index, (name, style) in enumerate(counts):
            if index:
                segments.append((", ", None))
            segments.append((f"{data[name]} {name}", style if data[name] else "dim"))
        for test_id in data.get("failed_ids", []):
            segments.append((f"\n    ✗ {test_id}", "red"))
        self._line(*segments)

    def _on_release_finished(self, data: dict[str, Any]) -> None:
        self._stop_spinner()
        if data.get("release"):
            outcome = data.get("outcome", "")
            self._line(
                (f"release {data['release']}: {outcome}", _OUTCOME_STYLES.get(outcome, "bold red"))
            )

    def _step_line(self, mark: str, style: str, data: dict[str, Any], error: str = "") -> None:
        self._stop_spinner()
        segments: list[tuple[str, str | None]] = [
            ("  ", None),
            (mark, style),
            (f" {data.get('step', ''):<18} ", None),
            (f"{data.get('duration', 0.0):6.2f}s", "dim"),
        ]
        if data.get("note") and not error:
            segments.append((f"  {data['note']}", "dim"))
        if error:
            segments.append((f"  {error}", style))
        self._line(*segments)

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
