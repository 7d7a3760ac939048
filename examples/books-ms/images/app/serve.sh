#!/bin/sh
# One HTTP exchange of books-ms (or users-ms: start.sh exports RESOURCE), run by `nc -ll -e`
# for each connection (stdin and stdout are the socket). The whole request head is read
# before answering: closing a socket with unread data would reset it and the client could
# lose the response.
# shellcheck disable=SC3045 # busybox ash has read -t
read -r -t 10 method path _proto || exit 0
# shellcheck disable=SC3045
while read -r -t 10 line; do
    [ "${#line}" -le 1 ] && break # the blank line ending the head: "" or a lone CR
done
case "$path" in
    "/api/v1/$RESOURCE" | "/api/v1/$RESOURCE/" | "/api/v1/$RESOURCE?"*) name=api body="/www/api/v1/$RESOURCE" ;;
    /health | /health\?*) name=health body=/www/health ;;
    *) name=notfound body=/www/notfound ;;
esac
if [ "$method" = HEAD ]; then
    cat "/srv/$name.head"
else
    cat "/srv/$name.head" "$body"
fi
