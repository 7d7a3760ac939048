"""Release progress on stderr, as a `release_event` plugin registered by the CLI.

Drawn with rich, as people know it from rich-based tools: a spinner on the running step
when stderr is a terminal, then one line per step with a green ✓ or red ✗ and its
duration, the test suite's summary, and the outcome. Piped or under CI the same lines come
out plain (rich drops colors and spinners off a terminal, and honours NO_COLOR). `-q`
silences all of it; `-v` adds a line when each step starts.
"""

from __future__ import annotations

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
            self._print(f"  … {step}", "dim")
        if self.console.is_terminal and step not in _STREAMING_STEPS:
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
        from rich.text import Text

        self._tests_failed = data.get("exit_code") != 0
        what = "post-tests" if data.get("kind") == "post" else "tests"
        line = Text(f"  {what}: ")
        counts = [("passed", "green"), ("failed", "red"), ("errors", "red"), ("skipped", "yellow")]
        line.append_text(
            Text(", ").join(
                Text(f"{data[name]} {name}", style=style if data[name] else "dim")
                for name, style in counts
            )
        )
        for test_id in data.get("failed_ids", []):
            line.append(f"\n    ✗ {test_id}", style="red")
        self.console.print(line, soft_wrap=True)

    def _on_release_finished(self, data: dict[str, Any]) -> None:
        self._stop_spinner()
        if data.get("release"):
            outcome = data.get("outcome", "")
            self._print(
                f"release {data['release']}: {outcome}", _OUTCOME_STYLES.get(outcome, "bold red")
            )

    def _step_line(self, mark: str, style: str, data: dict[str, Any], error: str = "") -> None:
        from rich.text import Text

        self._stop_spinner()
        line = Text("  ")
        line.append(mark, style=style)
        line.append(f" {data.get('step', ''):<18} ")
        line.append(f"{data.get('duration', 0.0):6.2f}s", style="dim")
        if data.get("note") and not error:
            line.append(f"  {data['note']}", style="dim")
        if error:
            line.append(f"  {error}", style=style)
        self.console.print(line, soft_wrap=True)

    def _print(self, text: str, style: str) -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style), soft_wrap=True)

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
