"""The figures and the slot plan of `bench/release_overhead`, without Docker or HAProxy.

The benchmark's verdict rests on these: own time is wall time less the health waits,
medians are taken per figure, the sides alternate, and the hand-written baseline puts the
new instances into free HAProxy slots and retires exactly the serving ones.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "bench"


def load(name: str, path: Path) -> ModuleType:
    """Import a bench script by path (the driver has no .py suffix, like cli_startup)."""
    spec = importlib.util.spec_from_loader(name, SourceFileLoader(name, str(path)))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = load("release_overhead_bench", BENCH / "release_overhead")
baseline = load("release_overhead_baseline", BENCH / "release_overhead_baseline.py")

# `show servers state` as HAProxy 2.6 answers it: s1 serving, s2 a configured free slot,
# s3 forced into maintenance by a previous switch.
HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port"
)
SERVERS_STATE = f"""1
{HEADER}
3 demo-app.live 1 s1 127.0.0.1 2 0 1 1 0 8 2 0 6 0 0 0 - 32768 - 0 0 - - 0
3 demo-app.live 2 s2 0.0.0.0 0 5 1 1 0 1 0 0 14 0 0 0 - 0 - 0 0 - - 0
3 demo-app.live 3 s3 127.0.0.1 0 1 1 1 0 8 2 0 14 0 0 0 - 32770 - 0 0 - - 0
4 demo-app.preview 1 s1 127.0.0.1 2 0 1 1 0 8 2 0 6 0 0 0 - 32771 - 0 0 - - 0
"""


def test_own_time_is_wall_time_less_every_wait() -> None:
    sample = bench.Sample(5.0, {"container health": 2.5, "haproxy up": 0.5})
    assert sample.waited == pytest.approx(3.0)
    assert sample.own == pytest.approx(2.0)
    assert bench.Sample(1.5).own == pytest.approx(1.5)


def test_summary_takes_the_median_of_each_figure_on_its_own() -> None:
    samples = [
        bench.Sample(10.0, {"w": 1.0}),  # own 9
        bench.Sample(6.0, {"w": 5.0}),  # own 1
        bench.Sample(7.0, {"w": 3.0}),  # own 4
    ]
    summary = bench.summarize(samples)
    assert (summary.raw, summary.waited, summary.own, summary.runs) == (7.0, 3.0, 4.0, 3)


def test_summary_of_nothing_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no samples"):
        bench.summarize([])


def test_medians_by_name_skip_runs_that_did_not_have_the_name() -> None:
    timings = [{"deploy": 3.0, "test": 9.0}, {"deploy": 1.0}, {"deploy": 2.0}]
    medians = bench.medians_by_name(timings)
    assert medians == {"deploy": 2.0, "test": 9.0}
    assert bench.joined(medians) == "deploy 2.00, test 9.00"


def test_sides_alternate_and_each_round_releases_the_other_image() -> None:
    assert [bench.order(i) for i in range(3)] == [
        ("flowgate", "script"),
        ("script", "flowgate"),
        ("flowgate", "script"),
    ]
    # The set-up makes 1.0 live, so the first round must release something else.
    assert [bench.image_for(i) for i in range(4)] == ["1.1", "1.0", "1.1", "1.0"]


def test_ratio_and_report_compare_own_times() -> None:
    flowgate = bench.Summary(raw=9.0, waited=3.0, own=6.0, runs=5)
    script = bench.Summary(raw=7.0, waited=3.0, own=4.0, runs=5)
    assert bench.ratio(flowgate, script) == pytest.approx(1.5)
    text = "\n".join(bench.report_lines(flowgate, script, 1.5))
    assert "own 1.50x (aim <= 1.5x), raw 1.29x" in text
    assert "flowgate release          9.00s    3.00s    6.00s    0.00s" in text


def test_baseline_reads_servers_state_of_one_backend_only() -> None:
    states = baseline.servers_state(SERVERS_STATE, "demo-app.live")
    assert states == {
        "s1": (2, 0, "127.0.0.1:32768"),
        "s2": (0, 5, "0.0.0.0:0"),
        "s3": (0, 1, "127.0.0.1:32770"),
    }


def test_baseline_fills_free_slots_and_retires_the_serving_ones() -> None:
    states = baseline.servers_state(SERVERS_STATE, "demo-app.live")
    assignments, retire = baseline.plan_switch(states, ["127.0.0.1:40001", "127.0.0.1:40002"])
    assert assignments == [("s2", "127.0.0.1:40001"), ("s3", "127.0.0.1:40002")]
    assert retire == ["s1"]


def test_baseline_refuses_more_instances_than_free_slots() -> None:
    states = baseline.servers_state(SERVERS_STATE, "demo-app.live")
    with pytest.raises(RuntimeError, match="only 2 free server slots for 3"):
        baseline.plan_switch(states, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"])
