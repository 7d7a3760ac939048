#!/usr/bin/env bash
# The README's first command: a real test-gated blue-green release of books-ms on the local
# Docker engine, through HAProxy, with the embedded file registry. Three releases:
# 1.0 (first), 1.1 (smoke tests pass, goes live), 1.2 (smoke tests fail, held back),
# while constant traffic through the proxy counts every request.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"

WORK=$(mktemp -d /tmp/flowgate-demo.XXXXXX)
cp -r "$ROOT/examples/books-ms/." "$WORK/"
export FLOW_PROJECT=flowgatedemo
URL=http://127.0.0.1:8000/api/v1/books

cleanup() {
    touch "$WORK/stop-traffic"
    python3 -c 'import sys, pathlib; from flowgate.testing.projects import leave_haproxy; leave_haproxy(pathlib.Path(sys.argv[1]))' "$WORK" || true
    ids=$(docker ps -aq --filter "label=io.flowgate.project=$FLOW_PROJECT")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
    docker network rm "${FLOW_PROJECT}_default" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

say() { printf '\n=== %s\n' "$*"; }
answer() {
    printf 'proxy answers: '
    curl -s "$URL" | python3 -c 'import json, sys; d = json.load(sys.stdin); print("version", d["version"], "color", d["color"])'
}

say "release 1: books-ms 1.0 (smoke tests gate it)"
BOOKS_VERSION=1.0 flowgate release
answer

say "constant traffic through the proxy starts"
python3 "$ROOT/scripts/demo_traffic.py" "$URL" "$WORK/stop-traffic" > "$WORK/traffic.log" &
traffic=$!
sleep 1

say "release 2: books-ms 1.1 (smoke tests pass, so it goes live)"
BOOKS_VERSION=1.1 flowgate release
answer

say "release 3: books-ms 1.2 (broken: smoke tests fail, so it is held back)"
code=0
BOOKS_VERSION=1.2 flowgate release || code=$?
echo "flowgate exited with $code (7: test gate failed, proxy untouched)"
answer

touch "$WORK/stop-traffic"
wait "$traffic"
say "what the traffic saw"
cat "$WORK/traffic.log"

say "flowgate status"
flowgate status
say "flowgate history"
flowgate history
[ "$code" = 7 ] || { echo "expected exit 7 from the broken release" >&2; exit 1; }
