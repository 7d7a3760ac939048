"""bench/zero_downtime's arithmetic: wrk's report, the Lua failure log, percentiles, and
switch latency / old-color answers / compose outages computed from recorded samples.

No Docker: the benchmark itself is run by hand (`bench/zero_downtime/run.py`).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "zero_downtime"


def load_figures() -> ModuleType:
    """figures.py by path, under a name no other test module can shadow."""
    spec = importlib.util.spec_from_file_location("zero_downtime_figures", BENCH / "figures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


fig = load_figures()

# Printed by wrk 4.1 (`wrk -t2 -c4 -d5s --latency -s ...`) while a backend was recreated.
WRK_WITH_ERRORS = """\
Running 5s test @ http://127.0.0.1:32788/api/v1/books
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.73ms    7.69ms   1.02s    85.15%
    Req/Sec   200.17     52.47   343.00     70.00%
  Latency Distribution
     50%    8.77ms
     75%   12.93ms
     90%   19.08ms
     99%  812.00us
  2000 requests in 5.02s, 814.45KB read
  Socket errors: connect 3, read 10537, write 7335, timeout 2
  Non-2xx or 3xx responses: 677
Requests/sec:    398.75
Transfer/sec:    162.38KB
"""

WRK_CLEAN = """\
Running 1m test @ http://127.0.0.1:8000/
  2 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.33ms    1.05ms  12.07ms   90.55%
    Req/Sec   169.52     12.20   181.00     90.00%
  Latency Distribution
     50%    1.08ms
     75%    1.60ms
     90%    2.31ms
     99%    5.13ms
  677 requests in 1.00m, 343.79KB read
Requests/sec:    337.76
"""


def test_wrk_report_with_socket_errors_and_bad_statuses() -> None:
    report = fig.parse_wrk(WRK_WITH_ERRORS)
    assert report.requests == 2000
    assert report.duration == pytest.approx(5.02)
    assert report.non_2xx_3xx == 677
    assert report.socket_errors == {"connect": 3, "read": 10537, "write": 7335, "timeout": 2}
    assert report.failures == 677 + 3 + 10537 + 7335 + 2
    assert report.latency_max == pytest.approx(1.02)
    assert report.latency_percentiles == pytest.approx(
        {50: 0.00877, 75: 0.01293, 90: 0.01908, 99: 0.000812}
    )


def test_wrk_report_without_error_lines_counts_zero_failures() -> None:
    report = fig.parse_wrk(WRK_CLEAN)
    assert (report.requests, report.failures, report.non_2xx_3xx) == (677, 0, 0)
    assert report.duration == pytest.approx(60.0)
    assert report.latency_percentiles[99] == pytest.approx(0.00513)
    assert report.latency_max == pytest.approx(0.01207)


def test_anything_but_a_wrk_report_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wrk report"):
        fig.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
    with pytest.raises(ValueError, match="not a wrk duration"):
        fig.seconds("12 parsecs")


def test_lua_failure_log_is_read_in_time_order() -> None:
    total, bad = fig.parse_wrk_bad_answers(
        "non2xx 3\nbad 20.500000 503\nbad 20.100000 502\nbad 21.000000 404\n"
    )
    assert total == 3
    assert [(b.at, b.status) for b in bad] == [(20.1, 502), (20.5, 503), (21.0, 404)]
    assert fig.parse_wrk_bad_answers("non2xx 0\n") == (0, [])


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(10, 0, -1)]  # unsorted on purpose
    assert fig.percentile(values, 50) == 5.0
    assert fig.percentile(values, 99) == 10.0
    assert fig.percentile(values, 10) == 1.0
    assert fig.percentile([7.0], 99) == 7.0
    summary = fig.summarize(values)
    assert (summary.count, summary.p50, summary.p99, summary.max) == (10, 5.0, 10.0, 10.0)
    with pytest.raises(ValueError):
        fig.percentile([], 50)


@dataclass(frozen=True)
class Recorded:
    started: float
    latency: float
    answer: str
    ok: bool = True
    status: int = 200


def switch_samples() -> list[Recorded]:
    """blue live until a switch called at 10.0 and confirmed at 10.5; green from 10.3."""
    return [
        Recorded(9.0, 0.1, "1.0 (blue)"),
        Recorded(9.9, 0.05, "1.0 (blue)"),  # the last answer before the call: blue was live
        Recorded(10.2, 0.2, "1.0 (blue)"),  # sent before confirmation: fine
        Recorded(10.25, 0.1, "1.1 (green)"),  # arrives at 10.35
        Recorded(10.3, 0.02, "1.1 (green)"),  # arrives at 10.32: the first new answer
        Recorded(10.6, 0.01, "1.0 (blue)"),  # sent after confirmation, answered by blue: counted
        Recorded(10.7, 0.01, "", ok=False, status=0),
        Recorded(12.0, 0.01, "1.0 (blue)"),  # after the next step brought blue back: not counted
    ]


def test_switch_latency_and_old_answers_after_confirmation() -> None:
    step = fig.Step("release 1.1", called=5.0, returned=11.0)
    fig.attach_switch(
        step,
        [
            (4.0, "step-started", "reconfigure_proxy"),  # an earlier command's
            (6.0, "step-started", "reconfigure_proxy"),  # the preview route
            (6.1, "step-finished", "reconfigure_proxy"),
            (10.0, "step-started", "reconfigure_proxy"),  # the switch
            (10.5, "step-finished", "reconfigure_proxy"),
            (10.6, "step-started", "stop_old"),
        ],
    )
    assert (step.switch_called, step.switch_confirmed) == (10.0, 10.5)
    switch = fig.measure_switch(step, switch_samples(), until=11.5)
    assert (switch.old, switch.new) == ("1.0 (blue)", "1.1 (green)")
    assert switch.latency == pytest.approx(0.32)
    assert switch.confirm == pytest.approx(0.5)
    assert switch.old_after_confirm == 1


def test_a_step_without_a_switch_has_no_switch_figures() -> None:
    step = fig.Step("scale +2", called=5.0, returned=8.0)
    fig.attach_switch(step, [(6.0, "step-started", "scale"), (7.0, "step-finished", "scale")])
    assert step.switch_called is None
    assert fig.measure_switch(step, switch_samples()) is None
    assert fig.step_at([step], 7.5) == "scale +2"
    assert fig.step_at([step], 9.0) == "between steps"


def test_compose_outage_from_the_call_to_the_new_version() -> None:
    step = fig.Step("compose up 1.1", called=10.0, returned=11.0)
    samples = [
        Recorded(9.5, 0.01, "", ok=False),  # before the call: not this recreate's
        Recorded(10.1, 0.01, "1.0 (unknown)"),
        Recorded(12.0, 0.001, "", ok=False),
        Recorded(13.5, 0.001, "", ok=False),
        Recorded(14.0, 0.2, "1.1 (unknown)"),
        Recorded(20.0, 0.001, "", ok=False),  # after the next step was called
    ]
    outage = fig.measure_outage(step, samples, "1.1 (unknown)", until=18.0)
    assert outage.failures == 2
    assert outage.first_failure == pytest.approx(2.0)
    assert outage.last_failure == pytest.approx(3.5)
    assert outage.new_answer == pytest.approx(4.2)


def test_latencies_split_by_whether_a_step_was_running() -> None:
    steps = [fig.Step("scale +2", called=10.0, returned=11.0)]
    samples = [
        Recorded(9.0, 0.005, "1.0 (blue)"),
        Recorded(10.5, 0.2, "1.0 (blue)"),
        Recorded(10.6, 3.0, "", ok=False),  # a failure has no latency worth ranking
        Recorded(12.0, 0.004, "1.0 (blue)"),
    ]
    assert fig.latencies_by_step(samples, steps) == ([0.2], [0.005, 0.004])


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[int]]]:
    """Answers 200, except every fifth request, which gets 503; `served` counts statuses."""
    served: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status = 503 if len(served) % 5 == 4 else 200
            served.append(status)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    httpd.shutdown()
    httpd.server_close()


def test_the_lua_script_logs_every_bad_status_wrk_counts(
    flaky_server: tuple[str, list[int]], tmp_path: Path
) -> None:
    """The real wrk with the benchmark's Lua script: the log it writes and wrk's own report
    agree on the 503s, which are those the server sent (less at most one still in flight
    per connection when wrk stopped), and the log's times are monotonic seconds."""
    url, served = flaky_server
    out = tmp_path / "bad.txt"
    env = {**os.environ, "ZERO_DOWNTIME_WRK_OUT": str(out), "ZERO_DOWNTIME_DELAY_MS": "5"}
    before = time.monotonic()
    done = subprocess.run(
        ["wrk", "-t1", "-c2", "-d1s", "--latency", "-s", str(BENCH / "record_failures.lua"), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    after = time.monotonic()
    report = fig.parse_wrk(done.stdout)
    total, bad = fig.parse_wrk_bad_answers(out.read_text())
    sent_503 = served.count(503)
    assert total == len(bad) == report.non_2xx_3xx > 0
    assert 0 <= sent_503 - total <= 2
    assert all(b.status == 503 and before <= b.at <= after for b in bad)
