#!/usr/bin/env bash
# Make this machine's Docker engine a Swarm manager advertising ADDR, unless it already is
# in a swarm. Prints "created" when it initialised the swarm (so a caller knows to leave
# it again); with TOKEN_FILE, writes the worker join token there for swarm-node.sh.
#
# Used by e2e/Vagrantfile on the manager VM and by the local test suite (conftest.py's
# `swarm` fixture runs it with 127.0.0.1 for a single-node swarm).
set -euo pipefail
addr=${1:?usage: swarm-manager.sh ADVERTISE_ADDR [TOKEN_FILE]}
token_file=${2:-}

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    docker swarm init --advertise-addr "$addr" >/dev/null
    echo created
fi
if [ -n "$token_file" ]; then
    mkdir -p "$(dirname "$token_file")"
    docker swarm join-token -q worker >"$token_file"
fi
