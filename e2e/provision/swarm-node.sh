#!/usr/bin/env bash
# Join this machine's Docker engine to the swarm of MANAGER_ADDR as a worker, advertising
# ADDR, with the token swarm-manager.sh wrote to TOKEN_FILE. Does nothing when the engine
# already is in a swarm.
set -euo pipefail
manager=${1:?usage: swarm-node.sh MANAGER_ADDR TOKEN_FILE ADVERTISE_ADDR}
token_file=${2:?usage: swarm-node.sh MANAGER_ADDR TOKEN_FILE ADVERTISE_ADDR}
addr=${3:?usage: swarm-node.sh MANAGER_ADDR TOKEN_FILE ADVERTISE_ADDR}

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
    exit 0
fi
[ -s "$token_file" ] || { echo "swarm-node.sh: no join token in $token_file: provision the manager first" >&2; exit 1; }
docker swarm join --advertise-addr "$addr" --token "$(cat "$token_file")" "$manager:2377"
