"""Lost requests across nginx reloads, with and without client keep-alive.

Why flowgate-nginx renders `keepalive_timeout 0`: nginx's graceful reload closes the old
workers' idle keep-alive connections at once, and a request a client sent on one just then
gets no answer. This starts a real nginx with the plugin's own renderer and reload code,
in front of two local HTTP servers, sends constant traffic through it with flowgate's
recording client (never retries; one keep-alive and one fresh-connection thread), switches
the live server N times by reload, and prints what was lost: once as rendered
(`keepalive_timeout 0`), once with keep-alive on (`keepalive_timeout 75s`).

    python bench/nginx_reload/run.py [--reloads 40] [--pause 0.3]

Needs nginx on PATH and flowgate-nginx installed (scripts/setup.sh does both).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flowgate_nginx import process
from flowgate_nginx.config import Options, ServiceRoutes, render

from flowgate.testing.network import free_port
from flowgate.testing.traffic import TrafficRecorder


class Named(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Named)
    server.name = name  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def measure(keepalive: str, reloads: int, pause: float) -> str:
    servers = [serve("blue"), serve("green")]
    addresses = [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    root = Path(tempfile.mkdtemp(prefix="nginx-reload-"))
    files = process.NginxFiles(root)
    options = Options(root, "127.0.0.1", free_port(), free_port())
    binary = process.nginx_binary("nginx")
    confirmed: list[float] = []

    def write(live: str) -> None:
        routes = {"bench-app": ServiceRoutes("bench-app", ("/",), live=(live,))}
        text = render(routes, options).replace("keepalive_timeout 0;", keepalive)
        files.config.write_text(text)
        process.check_config(binary, files, files.config)

    try:
        files.ensure()
        write(addresses[0])
        process.start(binary, files)
        started = time.monotonic()
        with TrafficRecorder(f"http://127.0.0.1:{options.proxy_port}/") as traffic:
            time.sleep(0.5)
            for turn in range(reloads):
                write(addresses[(turn + 1) % 2])
                before = time.monotonic()
                process.reload(files)
                confirmed.append(time.monotonic() - before)
                time.sleep(pause)
            time.sleep(0.5)
        seconds = time.monotonic() - started
    finally:
        process.stop(files)
        for server in servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(root, ignore_errors=True)
    reasons = sorted({s.answer for s in traffic.failures})
    return (
        f"{keepalive:<25} {reloads} reloads in {seconds:.1f} s: {len(traffic.samples)} requests, "
        f"{len(traffic.failures)} failed; reload confirmed in "
        f"{statistics.median(confirmed) * 1000:.0f} ms median, {max(confirmed) * 1000:.0f} ms max"
        f"{' (' + '; '.join(reasons)[:120] + ')' if reasons else ''}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between reloads")
    args = parser.parse_args()
    for keepalive in ("keepalive_timeout 0;", "keepalive_timeout 75s;"):
        print(measure(keepalive, args.reloads, args.pause), flush=True)


if __name__ == "__main__":
    main()
