#!/bin/sh
# One HTTP exchange of the broken books-ms build (1.2), run by `nc -ll -e` per connection.
# Reads the whole request head first: closing a socket with unread data would reset it.
cr=$(printf '\r')
read -r _method path _proto
while read -r line; do
    [ -z "${line%"$cr"}" ] && break
done
version=$(cat /etc/books-ms/version)
case "$path" in
    /health) status="200 OK" body="ok" ;;
    /api/v1/books*) status="500 Internal Server Error" body="{\"service\": \"books-ms\", \"version\": \"$version\", \"error\": \"books store unavailable\"}" ;;
    *) status="404 Not Found" body="not found" ;;
esac
printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$status" "${#body}" "$body"
