#!/usr/bin/env bash
# The README's first command: real test-gated blue-green releases of two services, books-ms
# and users-ms, on the local Docker engine, through ONE shared HAProxy (port 8000, preview
# 8001), with the embedded file registry. books: 1.0, then 1.1 (smoke tests pass, goes
# live), then a broken 1.2 (smoke tests fail, held back); users: 1.0, then 1.1. Constant
# traffic on both services counts every request. `flowgate down` cleans up at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"

WORK=$(mktemp -d /tmp/flowgate-demo.XXXXXX)
# The folders' names are the projects' names: demo-books and demo-users.
BOOKS=$WORK/demo-books
USERS=$WORK/demo-users
cp -r "$ROOT/examples/books-ms/." "$BOOKS/"
cp -r "$ROOT/examples/users-ms/." "$USERS/"
unset FLOW_PROJECT FLOW_TARGET FLOW_COMPOSE_PATH
BOOKS_URL=http://127.0.0.1:8000/api/v1/books
USERS_URL=http://127.0.0.1:8000/api/v1/users

cleanup() {
    touch "$WORK/stop-traffic"
    wait 2>/dev/null || true
    # `down` removes each project's containers, networks, routes and state; the last one
    # out stops the shared HAProxy.
    flowgate down -C "$USERS" -q || true
    flowgate down -C "$BOOKS" -q || true
    rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n=== %s\n' "$*"; }
answer() {
    printf '%s answers: ' "$1"
    curl -s "$2" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["service"], d["version"], "color", d["color"])'
}

say "release: books-ms 1.0 (its smoke tests gate it; starts the shared HAProxy on 8000)"
BOOKS_VERSION=1.0 flowgate release -C "$BOOKS"
say "release: users-ms 1.0 (joins the same HAProxy, owning /api/v1/users)"
USERS_VERSION=1.0 flowgate release -C "$USERS"
answer books "$BOOKS_URL"
answer users "$USERS_URL"

say "constant traffic on both services starts"
python3 "$ROOT/scripts/demo_traffic.py" "$BOOKS_URL" "$WORK/stop-traffic" > "$WORK/books-traffic.log" &
python3 "$ROOT/scripts/demo_traffic.py" "$USERS_URL" "$WORK/stop-traffic" > "$WORK/users-traffic.log" &
sleep 1

say "release: books-ms 1.1 (smoke tests pass, so it goes live; users untouched)"
BOOKS_VERSION=1.1 flowgate release -C "$BOOKS"
answer books "$BOOKS_URL"

say "release: users-ms 1.1 (through the same HAProxy; books untouched)"
USERS_VERSION=1.1 flowgate release -C "$USERS"
answer users "$USERS_URL"

say "release: books-ms 1.2 (broken: smoke tests fail, so it is held back)"
code=0
BOOKS_VERSION=1.2 flowgate release -C "$BOOKS" || code=$?
echo "flowgate exited with $code (7: test gate failed, proxy untouched)"
answer books "$BOOKS_URL"

touch "$WORK/stop-traffic"
wait
say "what the traffic saw"
printf 'books '
cat "$WORK/books-traffic.log"
printf 'users '
cat "$WORK/users-traffic.log"

say "flowgate status (books)"
flowgate status -C "$BOOKS"
say "flowgate history (books)"
flowgate history -C "$BOOKS"
[ "$code" = 7 ] || { echo "expected exit 7 from the broken release" >&2; exit 1; }
