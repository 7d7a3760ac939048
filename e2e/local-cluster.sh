#!/usr/bin/env bash
# A real multi-node Docker Swarm on this one machine: the host engine is the manager, and
# each worker is a second dockerd in its own network namespace, joined over a bridge.
#
#   local-cluster.sh up [WORKERS] [IMAGE...]  build it (default 2 workers), copy images
#   local-cluster.sh images IMAGE...          copy images from the host engine to every worker
#   local-cluster.sh down                     remove everything `up` made (also leftovers of
#                                             a killed run); safe to run any time
#   local-cluster.sh fail N | heal N          take worker N's link down / up again (a real
#                                             node failure: no `swarm leave`)
#   local-cluster.sh addr N                   worker N's address (10.201.0.1N)
#   local-cluster.sh socket N                 worker N's engine socket (for DOCKER_HOST)
#
# Network: bridge fgswarm0 with 10.201.0.1/24 on the host; worker N is namespace
# fgswarm-wN at 10.201.0.1N, its veth's host end is fgswN. Those addresses are the
# project's own test hosts. Workers are labelled `io.flowgate.node=wN` (the manager
# `io.flowgate.node=manager`), so tests can place tasks on purpose.
#
# The swarm itself is made with the same scripts the Vagrant walkthrough provisions its
# VMs with (provision/swarm-manager.sh, provision/swarm-node.sh). `up` refuses a host
# engine that is already in a swarm it did not make, and `down` makes the host engine
# leave only the swarm `up` created: the engine is left as it was found. Swarm membership
# is machine-global, so run this under `flock /work/coord/swarm.lock` (or any lock all
# swarm users share).
#
# Needs root, iproute2, nsenter (util-linux), dockerd, iptables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BRIDGE=fgswarm0
SUBNET_PREFIX=10.201.0
MANAGER_ADDR=$SUBNET_PREFIX.1
STATE=${FLOWGATE_CLUSTER_STATE:-/run/flowgate-swarm}
DATA=${FLOWGATE_CLUSTER_DATA:-/var/lib/flowgate-swarm}
MAX_WORKERS=8

log() { echo "local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

worker_addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }
worker_sock() { echo "$STATE/w$1/docker.sock"; }
wdocker() { local n=$1; shift; docker -H "unix://$(worker_sock "$n")" "$@"; }

host_swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

# -- down: remove whatever a previous `up` left, in any state ------------------------------

stop_worker() {
    local n=$1 dir=$STATE/w$1 pid
    if [ -S "$(worker_sock "$n")" ]; then
        timeout 20 docker -H "unix://$(worker_sock "$n")" swarm leave --force >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/docker.pid" ]; then
        pid=$(cat "$dir/docker.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    # Whatever the daemon left mounted (overlay layers, its netns files) blocks rm -rf.
    { grep -oE " ($DATA/w$n|$dir)[^ ]*" /proc/mounts || true; } | sort -r | while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done
    ip netns del "fgswarm-w$n" 2>/dev/null || true
    ip link del "fgsw$n" 2>/dev/null || true
    rm -rf "$dir" "$DATA/w$n"
}

down() {
    local n
    for n in $(seq "$MAX_WORKERS"); do
        if [ -e "$STATE/w$n" ] || [ -e "$DATA/w$n" ] || ip netns list | grep -qw "fgswarm-w$n"; then
            stop_worker "$n"
        fi
    done
    if [ -f "$STATE/made-swarm" ]; then
        if [ "$(host_swarm_state)" != inactive ]; then
            docker swarm leave --force >/dev/null
        fi
        rm -f "$STATE/made-swarm"
    fi
    while iptables -D DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do :; done
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "$STATE"
}

# -- up -------------------------------------------------------------------------------------

make_bridge() {
    ip link add "$BRIDGE" type bridge
    ip addr add "$MANAGER_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    # Docker sets FORWARD's policy to DROP and bridged frames pass through iptables
    # (br_netfilter): let the nodes' own traffic (VXLAN, gossip) cross the bridge.
    iptables -I DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
}

start_worker() {
    local n=$1 dir=$STATE/w$1 ns=fgswarm-w$1 addr
    addr=$(worker_addr "$n")
    mkdir -p "$dir" "$DATA/w$n"
    ip netns add "$ns"
    ip link add "fgsw$n" type veth peer name eth0 netns "$ns"
    ip link set "fgsw$n" master "$BRIDGE" up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$MANAGER_ADDR"
    # nsenter, not `ip netns exec`: that remounts /sys and the daemon loses its cgroups.
    # The daemon gets no inherited descriptor beyond stdio (a caller's `flock` lock would
    # otherwise stay held by it until `down`) and its own session (a killed test run's
    # signals do not reach it; `down` stops it by its pid).
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done
        # No registry is reachable: without this, every task start on the worker first
        # tries to pull its image (a mutable tag) and waits for that to fail.
        export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
        exec setsid nsenter --net="/var/run/netns/$ns" dockerd \
            --data-root "$DATA/w$n" --exec-root "$dir/x" --pidfile "$dir/docker.pid" \
            -H "unix://$(worker_sock "$n")" --bip "172.30.$n.1/24" --iptables=false \
            </dev/null >"$dir/dockerd.log" 2>&1
    ) &
}

wait_worker() {
    local n=$1
    for _ in $(seq 150); do
        wdocker "$n" info >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    tail -5 "$STATE/w$n/dockerd.log" >&2 || true
    die "worker $n's engine did not answer within 30 s (log: $STATE/w$n/dockerd.log)"
}

copy_images() {
    [ $# -gt 0 ] || return 0
    local n pids=()
    for n in $(workers); do
        docker save "$@" | wdocker "$n" load -q >/dev/null &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || die "copying images $* to a worker failed"; done
}

workers() {
    local d
    for d in "$STATE"/w*; do [ -d "$d" ] && echo "${d##*/w}"; done | sort -n
}

up() {
    local count=${1:-2} n token node
    shift || true
    [[ "$count" =~ ^[1-9]$ ]] && [ "$count" -le "$MAX_WORKERS" ] || die "up: WORKERS must be 1-$MAX_WORKERS, got $count"
    down
    if [ "$(host_swarm_state)" != inactive ]; then
        die "the host engine is already in a swarm this script did not make; leave it first (docker swarm leave --force) or use another machine"
    fi
    mkdir -p "$STATE"
    make_bridge
    for n in $(seq "$count"); do start_worker "$n"; done
    for n in $(seq "$count"); do wait_worker "$n"; done
    token=$STATE/worker-token
    made=$(bash "$here/provision/swarm-manager.sh" "$MANAGER_ADDR" "$token")
    [ "$made" = created ] && touch "$STATE/made-swarm"
    docker node update --label-add io.flowgate.node=manager "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
    for n in $(seq "$count"); do
        DOCKER_HOST="unix://$(worker_sock "$n")" \
            bash "$here/provision/swarm-node.sh" "$MANAGER_ADDR" "$token" "$(worker_addr "$n")"
        node=$(wdocker "$n" info --format '{{.Swarm.NodeID}}')
        docker node update --label-add "io.flowgate.node=w$n" "$node" >/dev/null
    done
    for _ in $(seq 100); do
        [ "$(docker node ls --filter role=worker --format '{{.Status}}' | grep -c Ready)" -ge "$count" ] && break
        sleep 0.2
    done
    copy_images "$@"
    log "manager $MANAGER_ADDR (host engine), workers: $(for n in $(seq "$count"); do printf '%s ' "$(worker_addr "$n")"; done)"
}

link() {
    local n=${2:?usage: local-cluster.sh $1 N}
    ip link show "fgsw$n" >/dev/null 2>&1 || die "no worker $n"
    ip link set "fgsw$n" "$3"
}

case ${1:-} in
    up) shift; up "$@" ;;
    down) down ;;
    images) shift; copy_images "$@" ;;
    fail) link fail "${2:-}" down ;;
    heal) link heal "${2:-}" up ;;
    addr) worker_addr "${2:?usage: local-cluster.sh addr N}" ;;
    socket) echo "unix://$(worker_sock "${2:?usage: local-cluster.sh socket N}")" ;;
    *) die "usage: local-cluster.sh up [WORKERS] [IMAGE...] | images IMAGE... | down | fail N | heal N | addr N | socket N" ;;
esac
