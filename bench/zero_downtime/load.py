"""Constant load on one URL, counted two ways at once: wrk and the recording client.

wrk (which never retries) runs until told to stop (SIGINT makes it print its report);
`flowgate.testing.traffic.TrafficRecorder` keeps the status, the answering version and
color, and the latency of every one of its own requests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from figures import WrkBadAnswer, WrkReport, parse_wrk, parse_wrk_bad_answers

from flowgate.testing.traffic import Sample, TrafficRecorder, version_and_color

LUA = Path(__file__).with_name("record_failures.lua")


@dataclass(frozen=True)
class LoadShape:
    threads: int = 2
    connections: int = 4
    delay_ms: int = 30  # each wrk connection waits this long between requests
    recorder_pause: float = 0.02  # each recording-client thread waits this long
    timeout_s: int = 5


@dataclass
class PhaseResult:
    name: str
    started: float
    ended: float
    wrk: WrkReport
    wrk_non_2xx_total: int
    wrk_bad: list[WrkBadAnswer]
    samples: list[Sample] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.ended - self.started

    @property
    def recorder_failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]


class Load:
    """`with Load(name, url, shape) as load: ...`; `load.result` after the block."""

    def __init__(self, name: str, url: str, shape: LoadShape) -> None:
        self.name, self.url, self.shape = name, url, shape
        self.result: PhaseResult | None = None
        self._out = Path(tempfile.mkstemp(prefix="zero-downtime-wrk-")[1])
        self.recorder = TrafficRecorder(
            url,
            label=version_and_color,
            pause=shape.recorder_pause,
            timeout=float(shape.timeout_s),
        )
        self._wrk: subprocess.Popen[str] | None = None
        self._started = 0.0

    def command(self) -> list[str]:
        s = self.shape
        return [
            "wrk",
            f"-t{s.threads}",
            f"-c{s.connections}",
            "-d3600s",  # stopped by SIGINT when the phase ends
            f"--timeout={s.timeout_s}s",
            "--latency",
            "-s",
            str(LUA),
            self.url,
        ]

    def __enter__(self) -> Load:
        env = {
            **os.environ,
            "ZERO_DOWNTIME_WRK_OUT": str(self._out),
            "ZERO_DOWNTIME_DELAY_MS": str(self.shape.delay_ms),
        }
        self._started = time.monotonic()
        self._wrk = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.recorder.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        ended = time.monotonic()
        self.recorder.__exit__(kind, error, trace)
        wrk = self._wrk
        assert wrk is not None
        if wrk.poll() is None:
            wrk.send_signal(signal.SIGINT)
        try:
            output, _ = wrk.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            wrk.kill()
            wrk.communicate()
            raise RuntimeError("wrk did not stop within 15 s of SIGINT") from None
        finally:
            bad_text = self._out.read_text() if self._out.exists() else ""
            self._out.unlink(missing_ok=True)
        if kind is not None:
            return  # the phase failed: its error matters more than wrk's report
        total, bad = parse_wrk_bad_answers(bad_text)
        try:
            report = parse_wrk(output)
        except ValueError as err:
            raise RuntimeError(f"wrk: {err}; it printed:\n{output}") from err
        self.result = PhaseResult(
            self.name, self._started, ended, report, total, bad, list(self.recorder.samples)
        )
