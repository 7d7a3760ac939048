#!/usr/bin/env python3
"""Zero downtime, measured: releases, a scale and a rollback of books-ms under load.

Sets up the books-ms example in a temp project (own name, free ports, no gate suite, so
the figures are about the proxy switch), releases 1.0, then under a constant load through
HAProxy's public port runs N releases (1.1, 1.0, 1.1, ...), `scale +2`, `scale -2` and
`rollback`, each a `flowgate` subprocess. Every request is counted twice: by wrk (never
retries; non-2xx and socket errors) and by flowgate's recording client (status, version
and color of every request). Then the same load for the same time with no step (the
baseline), and, when `docker-compose` is installed, the same load straight to the
published port while `docker-compose up -d` recreates the service with a new image.

    bench/zero_downtime/run.py [--releases 4] [--connections 4] [--delay-ms 30]
                               [--plot docs/bench/zero_downtime.png] [--no-compose]

Prints every figure (requests, failures and when they happened, old-color answers after
a switch was confirmed, p50/p99/max latency against the baseline, switch latency: promote
called -> first answer from the new color) and writes a PNG of latency over time. Exit
status 1 when flowgate lost a request or a step failed. Takes about 2-3 minutes. Needs
Docker, haproxy, wrk and the example images (scripts/setup.sh); cleans up containers,
networks and HAProxy even on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from figures import Outage, Step, Switch, attach_switch, measure_outage, measure_switch
from load import Load, LoadShape, PhaseResult
from plot import plot
from projects import (
    ROOT,
    ComposeProject,
    FlowgateProject,
    LocalCluster,
    cleaning_up,
    wait_answering,
)
from report import (
    during_steps_line,
    loss_lines,
    outage_lines,
    phase_line,
    step_lines,
    switch_lines,
)

COMPOSE_COLOR = "unknown"  # books-ms's color when no FLOWGATE_COLOR is set


def release_versions(count: int) -> list[str]:
    return ["1.1" if index % 2 == 0 else "1.0" for index in range(count)]


def read_events(path: Path) -> list[tuple[float, str, str]]:
    import json

    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        data = json.loads(line)
        events.append((float(data["t"]), str(data["event"]), str(data["step"])))
    return events


def flowgate_phase(
    project: FlowgateProject, args: argparse.Namespace, shape: LoadShape
) -> tuple[PhaseResult, list[Step]]:
    steps: list[Step] = []
    live = previous = "1.0"
    with Load("flowgate", project.url, shape) as load:
        time.sleep(args.lead)
        plan = [(f"release {v}", ["release"], v) for v in release_versions(args.releases)]
        for name, argv, version in plan:
            steps.append(project.run(name, argv, version))
            previous, live = live, version
            time.sleep(args.gap)
            if not steps[-1].ok:
                break
        else:
            for name, argv in (("scale +2", ["scale", "+2"]), ("scale -2", ["scale", "-2"])):
                steps.append(project.run(name, argv, live))
                time.sleep(args.gap)
            steps.append(project.run("rollback", ["rollback"], previous))
        time.sleep(args.tail)
    assert load.result is not None
    events = read_events(project.events)
    for step in steps:
        attach_switch(step, events)
        if not step.name.startswith(("release", "rollback")):
            step.switch_called = step.switch_confirmed = None
    return load.result, steps


def compose_phase(
    project: ComposeProject, args: argparse.Namespace, shape: LoadShape
) -> tuple[PhaseResult, list[Step], list[Outage]]:
    project.create()
    if not project.up("compose up 1.0", "1.0").ok:
        raise RuntimeError("docker-compose could not start books-ms 1.0")
    wait_answering(project.url)
    steps: list[Step] = []
    versions = release_versions(args.compose_recreates)
    with Load("compose", project.url, shape) as load:
        time.sleep(args.lead)
        for version in versions:
            steps.append(project.up(f"compose up {version}", version))
            try:
                load.recorder.wait_for(f"{version} ({COMPOSE_COLOR})", timeout=60)
            except TimeoutError as err:
                print(f"zero_downtime: compose: {err}", file=sys.stderr)
            time.sleep(args.gap)
        time.sleep(args.tail)
    assert load.result is not None
    ends = [s.called for s in steps[1:]] + [load.result.ended]
    outages = [
        measure_outage(step, load.result.samples, f"{version} ({COMPOSE_COLOR})", until)
        for step, version, until in zip(steps, versions, ends, strict=True)
    ]
    return load.result, steps, outages


def machine_notes() -> str:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
        except OSError:
            return "?"
        lines = (done.stdout or done.stderr).strip().splitlines()
        return lines[0] if lines else "?"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}, {os.cpu_count()} cores, load average {load}; "
        f"{first_line(['haproxy', '-v'])}; {first_line(['wrk', '-v'])}; "
        f"{first_line(['docker', 'version', '--format', 'Docker {{.Server.Version}}'])}"
    )


def interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=4, help="releases under load (min 3)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument(
        "--delay-ms", type=int, default=30, help="pause of each wrk connection between requests"
    )
    parser.add_argument(
        "--recorder-pause", type=float, default=0.02, help="pause of each recording thread (s)"
    )
    parser.add_argument("--lead", type=float, default=2.0, help="load before the first step (s)")
    parser.add_argument("--gap", type=float, default=1.0, help="load between steps (s)")
    parser.add_argument("--tail", type=float, default=2.0, help="load after the last step (s)")
    parser.add_argument("--compose-recreates", type=int, default=2)
    parser.add_argument("--no-compose", action="store_true", help="skip the compose comparison")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench" / "zero_downtime.png")
    parser.add_argument(
        "--swarm",
        action="store_true",
        help="runtime swarm on a 3-node swarm built by e2e/local-cluster.sh (needs root; "
        "no compose comparison); books-ms runs 3 instances spread over the nodes",
    )
    args = parser.parse_args()
    if args.releases < 3:
        parser.error("--releases must be at least 3")
    return args


def main() -> int:
    args = parse_args()
    for tool in ("wrk", "haproxy", "docker"):
        if shutil.which(tool) is None:
            sys.exit(f"zero_downtime: `{tool}` not found: run scripts/setup.sh")
    with_compose = (
        not args.no_compose and not args.swarm and shutil.which("docker-compose") is not None
    )
    shape = LoadShape(args.threads, args.connections, args.delay_ms, args.recorder_pause)
    signal.signal(signal.SIGTERM, interrupted)
    workdir = Path(tempfile.mkdtemp(prefix="flowgate-zero-downtime-"))
    cluster = LocalCluster() if args.swarm else None
    flowgate = FlowgateProject(workdir, {"runtime": "swarm", "scale": 3} if cluster else None)
    compose = ComposeProject(workdir)
    notes_before = machine_notes() + ("; 3-node swarm (e2e/local-cluster.sh)" if cluster else "")
    try:
        if cluster:
            cluster.up()
        flowgate.create()
        if not flowgate.run("release 1.0", ["release"], "1.0").ok:
            return 3
        wait_answering(flowgate.url)
        measured, steps = flowgate_phase(flowgate, args, shape)
        with Load("baseline", flowgate.url, shape) as load:
            time.sleep(measured.duration)
        assert load.result is not None
        baseline = load.result
        cleaning_up(flowgate.cleanup)
        composed = None
        if with_compose:
            try:
                composed = compose_phase(compose, args, shape)
            except RuntimeError as err:  # the comparison failing must not hide flowgate's figures
                print(f"zero_downtime: compose comparison failed: {err}", file=sys.stderr)
    finally:
        cleaning_up(
            flowgate.cleanup,
            compose.cleanup,
            lambda: shutil.rmtree(workdir),
            *([cluster.down] if cluster else []),
        )

    nexts = [s.called for s in steps[1:]] + [measured.ended]
    measured_switches = (
        measure_switch(step, measured.samples, until)
        for step, until in zip(steps, nexts, strict=True)
    )
    switches = [s for s in measured_switches if s]
    print(f"command: {' '.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}")
    print(f"machine: {notes_before}")
    print(f"         after the run: load average {os.getloadavg()[0]:.2f}")
    print(
        f"load: wrk -t{shape.threads} -c{shape.connections} (+{shape.delay_ms} ms between "
        f"requests per connection) + recording client (keep-alive + fresh connection, "
        f"{shape.recorder_pause * 1000:.0f} ms pause)"
    )
    print("\nphases (same load; flowgate and baseline through HAProxy):")
    phases: list[tuple[PhaseResult, list[Step]]] = [(measured, steps), (baseline, [])]
    print(phase_line(measured))
    print(phase_line(baseline))
    if composed:
        print(phase_line(composed[0]))
        phases.append((composed[0], composed[1]))
    print("\nflowgate steps under load:")
    print("\n".join(step_lines(steps)))
    print(during_steps_line(measured, steps))
    print("\nswitches (release = promote inside `flowgate release`; rollback):")
    print("\n".join(switch_lines(switches)))
    lost = loss_lines(measured, steps)
    print(f"\nrequests flowgate lost: {len(lost) or 'none'}")
    print("\n".join(lost))
    if composed:
        print("\ndocker-compose up -d recreating the service, straight to its published port:")
        print("\n".join(outage_lines(composed[2])))
    title = "books-ms under constant load: flowgate + HAProxy " + (
        "on a 3-node swarm" if cluster else "vs docker-compose"
    )
    plot(phases, args.plot, title)
    print(f"\nplot: {args.plot}")
    return 0 if flowgate_kept_everything(measured, steps, switches) else 1


def flowgate_kept_everything(
    measured: PhaseResult, steps: list[Step], switches: list[Switch]
) -> bool:
    return (
        all(step.ok for step in steps)
        and measured.wrk.failures == 0
        and measured.wrk_non_2xx_total == 0
        and not measured.recorder_failures
        and not any(s.old_after_confirm for s in switches)
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("zero_downtime: interrupted; containers, networks and HAProxy removed")
