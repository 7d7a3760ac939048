#!/bin/sh
# PID 1 of a books-ms container. Why a script and not `httpd` itself: busybox httpd as
# PID 1 ignores SIGTERM (docker stop would wait out its timeout), and the JSON must say
# which version and color answered, which only the container's environment knows.
#
# FLOWGATE_COLOR / FLOWGATE_RELEASE are set by flowgate's runtime on colored containers;
# FLOW_COLOR is accepted for hand-run containers. STARTUP_DELAY imitates a real service's
# start-up (seconds before the port answers).

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

mkdir -p /www/api/v1
printf 'ok\n' >/www/health
cat >/www/api/v1/books <<JSON
{"service": "books-ms", "version": "$version", "color": "$color", "release": "$release", "hostname": "$host", "db_host": "${DB_HOST:-}", "books": [{"id": 1, "title": "The Phoenix Project", "author": "Gene Kim"}, {"id": 2, "title": "Continuous Delivery", "author": "Jez Humble"}, {"id": 3, "title": "Release It!", "author": "Michael Nygard"}]}
JSON

if [ "$(cat /etc/books-ms/broken)" = "1" ]; then
    # The deliberately broken build: healthy on /health, HTTP 500 on the API. busybox
    # httpd cannot answer 500 for a plain path, so a tiny nc-driven handler serves it.
    nc -ll -p 8080 -e /app/broken.sh &
else
    httpd -f -p 8080 -h /www &
fi
child=$!
wait "$child"
