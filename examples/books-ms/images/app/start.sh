#!/bin/sh
# PID 1 of a books-ms container. Why a script and not the server itself: a busybox server
# as PID 1 ignores SIGTERM (docker stop would wait out its timeout), and the JSON must say
# which version and color answered, which only the container's environment knows.
#
# FLOWGATE_COLOR / FLOWGATE_RELEASE are set by flowgate's runtime on colored containers;
# FLOW_COLOR is accepted for hand-run containers. STARTUP_DELAY imitates a real service's
# start-up (seconds before the port answers).
#
# Why nc and not busybox httpd: httpd sends no Content-Type for a path without a file
# extension (/api/v1/books) and cannot answer 500 for a plain file. `nc -ll -e` runs
# /app/serve.sh per connection instead; every -l adds one to its listen backlog, and the
# 64 below keep connections from being dropped under load (2 would stall clients ~1 s).

child=""
stop() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    exit 0
}
trap stop TERM INT

version=$(cat /etc/books-ms/version)
color=${FLOWGATE_COLOR:-${FLOW_COLOR:-unknown}}
release=${FLOWGATE_RELEASE:-}
host=$(hostname)

# Sleep in the background so a TERM during start-up is handled at once.
sleep "${STARTUP_DELAY:-1.5}" &
child=$!
wait "$child"

# Each response is prepared once: serve.sh only picks one and copies it to the client.
mkdir -p /www/api/v1 /srv
if [ "$(cat /etc/books-ms/broken)" = "1" ]; then
    # The deliberately broken build (1.2): healthy on /health, HTTP 500 on the API.
    books_status="500 Internal Server Error"
    printf '{"service": "books-ms", "version": "%s", "color": "%s", "error": "books store unavailable"}\n' \
        "$version" "$color" >/www/api/v1/books
else
    books_status="200 OK"
    cat >/www/api/v1/books <<JSON
{"service": "books-ms", "version": "$version", "color": "$color", "release": "$release", "hostname": "$host", "db_host": "${DB_HOST:-}", "books": [{"id": 1, "title": "The Phoenix Project", "author": "Gene Kim"}, {"id": 2, "title": "Continuous Delivery", "author": "Jez Humble"}, {"id": 3, "title": "Release It!", "author": "Michael Nygard"}]}
JSON
fi
printf 'ok\n' >/www/health
printf 'not found\n' >/www/notfound

# prepare NAME STATUS TYPE BODY: the status line and headers of one prepared response.
prepare() {
    printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
        "$2" "$3" "$(wc -c <"$4")" >"/srv/$1.head"
}
prepare books "$books_status" application/json /www/api/v1/books
prepare health "200 OK" text/plain /www/health
prepare notfound "404 Not Found" text/plain /www/notfound

nc -llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll -p 8080 -e /app/serve.sh &
child=$!
wait "$child"
