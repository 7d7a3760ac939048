#!/bin/sh
# PID 1 of a books-ms container (or of users-ms: the same image built with the build args
# SERVICE=users-ms RESOURCE=users). Why a script and not the server itself: a busybox server
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

service=$(cat /etc/example-service)
RESOURCE=$(cat "/etc/$service/resource")
export RESOURCE # serve.sh routes /api/v1/$RESOURCE
version=$(cat "/etc/$service/version")
color=${FLOWGATE_COLOR:-${FLOW_COLOR:-unknown}}
release=${FLOWGATE_RELEASE:-}
host=$(hostname)

# Sleep in the background so a TERM during start-up is handled at once.
sleep "${STARTUP_DELAY:-1.5}" &
child=$!
wait "$child"

# Each response is prepared once: serve.sh only picks one and copies it to the client.
mkdir -p /www/api/v1 /srv
body=/www/api/v1/$RESOURCE
if [ "$RESOURCE" = books ]; then
    items='[{"id": 1, "title": "The Phoenix Project", "author": "Gene Kim"}, {"id": 2, "title": "Continuous Delivery", "author": "Jez Humble"}, {"id": 3, "title": "Release It!", "author": "Michael Nygard"}]'
else
    items='[{"id": 1, "name": "Ada Lovelace"}, {"id": 2, "name": "Grace Hopper"}]'
fi
if [ "$(cat "/etc/$service/broken")" = "1" ]; then
    # The deliberately broken build (1.2): healthy on /health, HTTP 500 on the API.
    api_status="500 Internal Server Error"
    printf '{"service": "%s", "version": "%s", "color": "%s", "error": "%s store unavailable"}\n' \
        "$service" "$version" "$color" "$RESOURCE" >"$body"
else
    api_status="200 OK"
    cat >"$body" <<JSON
{"service": "$service", "version": "$version", "color": "$color", "release": "$release", "hostname": "$host", "db_host": "${DB_HOST:-}", "$RESOURCE": $items}
JSON
fi
printf 'ok\n' >/www/health
printf 'not found\n' >/www/notfound

# prepare NAME STATUS TYPE BODY: the status line and headers of one prepared response.
prepare() {
    printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' \
        "$2" "$3" "$(wc -c <"$4")" >"/srv/$1.head"
}
prepare api "$api_status" application/json "$body"
prepare health "200 OK" text/plain /www/health
prepare notfound "404 Not Found" text/plain /www/notfound

nc -llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll -p 8080 -e /app/serve.sh &
child=$!
wait "$child"
