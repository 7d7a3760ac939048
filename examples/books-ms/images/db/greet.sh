#!/bin/sh
# Greets one connection so a client can tell the db answered.
printf '{"service": "books-ms-db", "version": "%s", "hostname": "%s"}\n' \
    "$(cat /etc/books-ms-db/version)" "$(hostname)"
