#!/usr/bin/env python3
"""A swarm worker lost under load: how many requests fail in the first seconds, and after.

Builds the 3-node swarm of e2e/local-cluster.sh (needs root), releases books-ms 1.0 with
3 instances (`runtime: swarm`, no gate), puts the zero-downtime load on HAProxy's public
port (wrk, which never retries, plus the recording client), then takes the link of the
worker holding most instances down: a real node failure, no `swarm leave`. It waits until
the manager marks the node down, lets the load run on (`--after`), releases 1.1 on the
surviving nodes, heals the link and removes everything (also on Ctrl-C).

    bench/zero_downtime/node_loss.py [--after 20] [--connections 4] [--delay-ms 30]

Prints the failed requests per second after the loss (recorder, with times; wrk's non-2xx
with times and its socket errors as a total), when the manager noticed, how long the
release on the surviving nodes took, and whether it lost a request. Exit status 1 when a
request failed or a step failed. Run it under `flock /work/coord/swarm.lock` where others
share the machine (swarm membership is machine-global).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load import Load, LoadShape
from projects import FlowgateProject, LocalCluster, cleaning_up, wait_answering
from report import phase_line
from run import interrupted, machine_notes

WINDOWS = ((0, 1), (1, 2), (2, 3), (3, 5), (5, 10), (10, 30), (30, 1e9))


def status(project: FlowgateProject) -> dict[str, object]:
    done = subprocess.run(
        [project.flowgate, "-C", str(project.dir), "status", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, object] = json.loads(done.stdout)
    return data


def busiest_worker(data: dict[str, object]) -> int:
    colors = data["colors"]
    assert isinstance(colors, dict)
    nodes = [i["node"] for i in colors["blue"]["instances"]]
    workers = [int(n.rsplit(".", 1)[1]) - 10 for n in nodes if n != "10.201.0.1"]
    if not workers:
        raise RuntimeError(f"no instance runs on a worker: {nodes}")
    return max(set(workers), key=workers.count)


def wait_node_down(project: FlowgateProject, address: str, timeout: float = 90.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = status(project).get("nodes") or []
        assert isinstance(nodes, list)
        if any(n["node"] == address and n["state"] == "down" for n in nodes):
            return time.monotonic()
        time.sleep(0.5)
    raise RuntimeError(f"the manager did not mark {address} down within {timeout:.0f} s")


def per_window(times: list[float], lost_at: float) -> str:
    parts = []
    for start, end in WINDOWS:
        count = sum(1 for t in times if start <= t - lost_at < end)
        label = f"{start}-{end:g}s" if end < 1e9 else f">{start}s"
        parts.append(f"{label}: {count}")
    return ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, default=20.0, help="load after the notice (s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--delay-ms", type=int, default=30)
    parser.add_argument("--recorder-pause", type=float, default=0.02)
    args = parser.parse_args()
    for tool in ("wrk", "haproxy", "docker", "ip"):
        if shutil.which(tool) is None:
            sys.exit(f"node_loss: `{tool}` not found: run scripts/setup.sh")
    signal.signal(signal.SIGTERM, interrupted)
    shape = LoadShape(args.threads, args.connections, args.delay_ms, args.recorder_pause)
    workdir = Path(tempfile.mkdtemp(prefix="flowgate-node-loss-"))
    cluster = LocalCluster()
    project = FlowgateProject(workdir, {"runtime": "swarm", "scale": 3})
    notes = machine_notes()
    lost = 0
    try:
        cluster.up()
        project.create()
        if not project.run("release 1.0", ["release"], "1.0").ok:
            return 3
        wait_answering(project.url)
        lost = busiest_worker(status(project))
        address = f"10.201.0.{10 + lost}"
        with Load("node-loss", project.url, shape) as load:
            time.sleep(3.0)
            lost_at = time.monotonic()
            cluster.run("fail", str(lost))
            noticed = wait_node_down(project, address)
            time.sleep(args.after)
            release = project.run("release 1.1", ["release"], "1.1")
            time.sleep(2.0)
        cluster.run("heal", str(lost))
        lost = 0
    finally:
        cleaning_up(
            *([lambda: cluster.run("heal", str(lost))] if lost else []),
            project.cleanup,
            cluster.down,
            lambda: shutil.rmtree(workdir),
        )
    result = load.result
    assert result is not None
    failed = [s.started for s in result.recorder_failures]
    print(f"command: {' '.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    print(f"machine: {notes}; 3-node swarm (e2e/local-cluster.sh)")
    print(f"lost: worker at {address} (link down), holding some of books-ms 1.0's 3 instances")
    print(f"manager marked it down after {noticed - lost_at:.1f} s")
    print(
        f"release 1.1 on the surviving nodes: {'ok' if release.ok else 'FAILED'}, "
        f"{release.returned - release.called:.1f} s"
    )
    print(phase_line(result))
    print(f"recorder failures by time after the loss: {per_window(failed, lost_at)}")
    wrk_times = [bad.at for bad in result.wrk_bad]
    print(f"wrk non-2xx by time after the loss: {per_window(wrk_times, lost_at)}")
    for sample in result.recorder_failures[:10]:
        print(f"  +{sample.started - lost_at:6.2f} s {sample.answer}")
    ok = release.ok and not failed and result.wrk.failures == 0
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("node_loss: interrupted; the cluster, containers and HAProxy removed")
