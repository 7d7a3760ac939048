"""Release progress on stderr, as a `release_event` plugin registered by the CLI."""

from __future__ import annotations

from typing import Any

from flowgate import hookimpl
from flowgate.cli.output import Output

_MARKS = {"step-finished": "✓", "step-failed": "✗"}


class ProgressReporter:
    """Prints each step with its duration and the outcome; silent with -q."""

    def __init__(self, out: Output) -> None:
        self.out = out

    @hookimpl
    def release_event(self, context: Any, event: str, data: dict[str, Any]) -> None:
        step = data.get("step", "")
        if event == "step-started":
            self.out.detail(f"  … {step}")
        elif event in _MARKS:
            seconds = data.get("duration", 0.0)
            line = f"  {_MARKS[event]} {step:<18} {seconds:6.2f}s"
            if event == "step-failed":
                line += f"  {data.get('error', '')}"
            self.out.progress(self._paint(line, "green" if event == "step-finished" else "red"))
        elif event == "release-finished" and data.get("release"):
            self.out.progress(f"release {data['release']}: {data.get('outcome')}")

    def _paint(self, text: str, color: str) -> str:
        if not self.out.color:
            return text
        codes = {"green": "32", "red": "31"}
        return f"\033[{codes[color]}m{text}\033[0m"
