#!/usr/bin/env python3
"""The hand-written release that `bench/release_overhead` measures flowgate against.

What a team without flowgate would script for one blue-green release of books-ms behind an
HAProxy that already routes the live color, with the docker SDK and the HAProxy Runtime
API and nothing else (no flowgate import):

1. find the running (old) color; remove the stopped containers of the other color, kept
   warm since the release before last, as flowgate's deploy does;
2. create and start N containers of the new image on the project network, in parallel;
3. wait until Docker says all are healthy;
4. put their published ports into free server slots of the live backend, make them ready,
   wait until HAProxy's own checks see them UP;
5. drain the old servers, wait for their connections to end, take them out (maint);
6. stop the old containers in parallel (kept for a rollback).

    release_overhead_baseline.py --project NAME --image books-ms:1.1 --admin-socket PATH \
        --backend NAME-app.live [--count 3] [--report FILE]

The seconds spent in steps 3 and 4's waits go to the report (JSON), so the benchmark can
subtract them exactly as it does for flowgate.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

# flowgate's labels, so the benchmark's clean-up finds these containers like its own.
LABEL = "io.flowgate."
PORT = "8080/tcp"
MAINT_FLAGS = 0x01 | 0x02 | 0x04  # forced, inherited or configured maintenance
UP = 2  # srv_op_state "running"


def parallel(func: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(func, items))


def haproxy(admin_socket: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(admin_socket)
        sock.sendall(command.encode() + b"\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    text = answer.decode()
    if text.startswith(("No such", "Require", "Invalid", "Unknown command")):
        raise RuntimeError(f"haproxy: {command}: {text.strip()}")
    return text


def servers_state(text: str, backend: str) -> dict[str, tuple[int, int, str]]:
    """`show servers state` -> server name: (operational state, admin flags, "ip:port")."""
    states = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) > 18 and fields[0].isdigit() and fields[1] == backend:
            states[fields[3]] = (int(fields[5]), int(fields[6]), f"{fields[4]}:{fields[18]}")
    return states


def plan_switch(
    states: dict[str, tuple[int, int, str]], new: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """Free slots (in maintenance) for the new addresses; the serving slots to retire."""
    free = [name for name, (_, admin, _) in states.items() if admin & MAINT_FLAGS]
    serving = [name for name, (_, admin, _) in states.items() if not admin & MAINT_FLAGS]
    if len(free) < len(new):
        raise RuntimeError(f"only {len(free)} free server slots for {len(new)} instances")
    return list(zip(free, new, strict=False)), serving


def wait_healthy(containers: list[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    pending = list(containers)
    while pending:
        parallel(lambda c: c.reload(), pending)
        for container in pending:
            state = container.attrs["State"]
            if state["Status"] != "running" or state["Health"]["Status"] == "unhealthy":
                raise RuntimeError(f"{container.name} failed: {state['Status']}")
        pending = [c for c in pending if c.attrs["State"]["Health"]["Status"] != "healthy"]
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{pending[0].name} not healthy within {timeout:g}s")
        if pending:
            time.sleep(0.2)


def wait_up(admin_socket: str, backend: str, names: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        states = servers_state(haproxy(admin_socket, f"show servers state {backend}"), backend)
        if all(states[name][0] == UP for name in names):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"haproxy: {names} not UP within {timeout:g}s")
        time.sleep(0.05)


def wait_drained(admin_socket: str, backend: str, names: list[str], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = haproxy(admin_socket, "show stat -1 4 -1").splitlines()
        header = rows[0].lstrip("# ").split(",")
        busy = 0
        for row in rows[1:]:
            values = dict(zip(header, row.split(","), strict=False))
            if values.get("pxname") == backend and values.get("svname") in names:
                busy += int(values.get("scur") or 0)
        if not busy:
            return
        time.sleep(0.1)


def release(args: argparse.Namespace, waits: dict[str, float]) -> None:
    client = docker.from_env()
    project, target = args.project, "app"
    mine = [f"{LABEL}project={project}", f"{LABEL}target={target}"]
    found = client.containers.list(all=True, filters={"label": mine})
    old = [c for c in found if c.status == "running"]
    old_color = old[0].labels[f"{LABEL}color"] if old else "green"
    color = "green" if old_color == "blue" else "blue"
    parallel(lambda c: c.remove(force=True), [c for c in found if c not in old])

    network = f"{project}_default"
    endpoint = {network: client.api.create_endpoint_config(aliases=[target])}

    def start(index: int) -> Any:
        return client.containers.run(
            args.image,
            detach=True,
            name=f"{project}_{target}-{color}_{index}",
            labels={
                f"{LABEL}project": project,
                f"{LABEL}target": target,
                f"{LABEL}color": color,
                f"{LABEL}index": str(index),
            },
            environment={"DB_HOST": "db", "FLOWGATE_COLOR": color},
            ports={PORT: ("127.0.0.1", None)},
            init=True,
            network=network,
            networking_config=endpoint,
        )

    new = parallel(start, range(1, args.count + 1))
    began = time.perf_counter()
    wait_healthy(new)
    waits["container health"] = time.perf_counter() - began

    ports = [c.attrs["NetworkSettings"]["Ports"][PORT][0]["HostPort"] for c in new]
    addresses = [f"127.0.0.1:{port}" for port in ports]
    sock, backend = args.admin_socket, args.backend
    states = servers_state(haproxy(sock, f"show servers state {backend}"), backend)
    assignments, retire = plan_switch(states, addresses)
    for slot, address in assignments:
        ip, port = address.split(":")
        haproxy(sock, f"set server {backend}/{slot} addr {ip} port {port}")
        haproxy(sock, f"set server {backend}/{slot} state ready")
    began = time.perf_counter()
    wait_up(sock, backend, [slot for slot, _ in assignments])
    waits["haproxy up"] = time.perf_counter() - began

    for slot in retire:
        haproxy(sock, f"set server {backend}/{slot} state drain")
    wait_drained(sock, backend, retire)
    for slot in retire:
        haproxy(sock, f"set server {backend}/{slot} state maint")
    parallel(lambda c: c.stop(timeout=10), old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--admin-socket", required=True)
    parser.add_argument("--backend", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    waits: dict[str, float] = {}
    release(args, waits)
    if args.report:
        args.report.write_text(json.dumps({"waits": waits}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
