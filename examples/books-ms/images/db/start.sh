#!/bin/sh
# PID 1 of a books-ms-db container: a script so SIGTERM stops it at once (nc as PID 1
# would ignore it).
child=""
stop() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    exit 0
}
trap stop TERM INT
nc -ll -p 27017 -e /app/greet.sh &
child=$!
wait "$child"
