"""A recording HTTP client: constant traffic that keeps every request's outcome.

Used by the end-to-end tests, `bench/zero_downtime` and the demo to count lost requests
through a proxy while releases run. It never retries: a refused connection, a reset, a
timeout or a non-2xx answer is a failure, counted and kept with its time. One thread
reuses a keep-alive connection (reconnecting after an error), one opens a fresh
connection per request, so both connection styles are exercised.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Sample:
    """One request: when it started (monotonic seconds), how long it took, what came back."""

    started: float
    latency: float
    status: int  # 0 when no HTTP answer came back
    answer: str  # the label of a 2xx body, or what went wrong
    ok: bool  # a 2xx answer whose body `label` could read


def body_text(body: bytes) -> str:
    return body.decode(errors="replace").strip()


class TrafficRecorder:
    """Sends GET requests to `url` non-stop from the moment it is entered until it exits.

    `label` turns a 2xx body into the answer kept per sample (for example the version that
    answered); `pause` is the wait between two requests of one thread.
    """

    def __init__(
        self,
        url: str,
        label: Callable[[bytes], str] = body_text,
        pause: float = 0.0,
        timeout: float = 5.0,
        keep_alive: tuple[bool, ...] = (True, False),
    ) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.path = parts.path or "/"
        if parts.query:
            self.path += "?" + parts.query
        self.label = label
        self.pause = pause
        self.timeout = timeout
        self.samples: list[Sample] = []
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(keep,), daemon=True) for keep in keep_alive
        ]

    def __enter__(self) -> TrafficRecorder:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(self.timeout * 2)

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def answers(self, since: float = 0.0) -> Counter[str]:
        """How often each answer label came back from requests started at or after `since`."""
        return Counter(s.answer for s in self.samples if s.started >= since and s.ok)

    def wait_for(self, answer: str, timeout: float = 30.0) -> float:
        """Block until a request answers `answer`; returns when that request started."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            fresh = self.samples[seen:]
            seen += len(fresh)
            for sample in fresh:
                if sample.ok and sample.answer == answer:
                    return sample.started
            time.sleep(0.01)
        raise TimeoutError(f"no request answered {answer!r} within {timeout}s")

    def wait_answers(self, since: float, count: int = 40, timeout: float = 30.0) -> None:
        """Block until `count` requests started at or after `since` were answered, so that
        `answers(since)` has weight; TimeoutError when they do not come within `timeout`."""
        deadline = time.monotonic() + timeout
        while sum(self.answers(since).values()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} answers within {timeout}s")
            time.sleep(0.05)

    def summary(self) -> str:
        answers = ", ".join(f"{name} x{count}" for name, count in self.answers().items())
        return f"{len(self.samples)} requests, {len(self.failures)} failed; answered by: {answers}"

    def _run(self, keep_alive: bool) -> None:
        headers = {} if keep_alive else {"Connection": "close"}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        while not self._stopping.is_set():
            started = time.monotonic()
            status, ok = 0, False
            try:
                conn.request("GET", self.path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if 200 <= status < 300:
                    answer, ok = self.label(body), True
                else:
                    answer = body_text(body)[:80]
            except (OSError, http.client.HTTPException) as err:
                answer = repr(err)
                conn.close()
            except Exception as err:  # a 2xx body `label` cannot read, or anything else:
                answer = f"unreadable answer: {err!r}"  # counted, never a silently dead thread
            self.samples.append(Sample(started, time.monotonic() - started, status, answer, ok))
            if not keep_alive:
                conn.close()
            if self.pause:
                self._stopping.wait(self.pause)
        conn.close()


def version_and_color(body: bytes) -> str:
    """The label for the example's JSON answers (`{"version": ..., "color": ...}`)."""
    data = json.loads(body)
    return f"{data['version']} ({data['color']})"
