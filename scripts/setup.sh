#!/usr/bin/env bash
# Make a fresh Debian 12 machine ready to run flowgate's demo and tests, and do nothing
# on a machine that already is: only the PyPI and Debian mirrors are reachable, no image
# can be pulled, and nothing (not even the Docker daemon) runs unless this script starts it.
#
# Steps, each skipped when already done: Debian packages (Docker engine, static busybox
# for the example images, HAProxy, nginx, wrk, socat, docker-compose as a benchmark baseline);
# the repository and every plugin in plugins/ installed editable; a running dockerd; the
# example images (scripts/build-images.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKER_WAIT=${DOCKER_WAIT:-60}

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $*"
    fi
}

# --- Debian packages -------------------------------------------------------------------
# package:command pairs; the command tells whether the package's job is already done.
missing=()
need() { command -v "$2" >/dev/null 2>&1 || missing+=("$1"); }
need docker.io dockerd
need docker.io docker
need haproxy haproxy
# nginx drives the flowgate-nginx plugin's backend (plugins/flowgate-nginx).
need nginx nginx
need wrk wrk
need socat socat
need docker-compose docker-compose
# The local multi-node swarm (e2e/local-cluster.sh): network namespaces, veths, a bridge.
need iproute2 ip
need util-linux nsenter
need iptables iptables
# e2e/Vagrantfile cannot boot here (no VM provider), but its syntax is checked (ruby -c).
need ruby ruby
# The example images are FROM scratch: they need the static busybox, not the dynamic one.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    missing+=(busybox-static)
fi
pybin=${PYTHON:-}
if [ -z "$pybin" ]; then
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            pybin=$candidate
            break
        fi
    done
fi
if [ -z "$pybin" ]; then
    missing+=(python3 python3-pip python3-venv)
    pybin=python3
elif ! "$pybin" -m pip --version >/dev/null 2>&1; then
    missing+=(python3-pip python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    # Deduplicate (docker.io is named twice) while keeping the order.
    mapfile -t packages < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
    say "installing Debian packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=120 update -q >&2
    as_root apt-get -o DPkg::Lock::Timeout=120 install -y -q "${packages[@]}" >&2
else
    say "Debian packages present"
fi

# --- Python packages -------------------------------------------------------------------
"$pybin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$pybin is older than Python 3.11 (set PYTHON=/path/to/python3.11)"

# [test] brings the test tools: ruff, mypy, hypothesis (property tests), matplotlib.
pip_args=(-e "${ROOT}[test]")
for plugin in "$ROOT"/plugins/*/; do
    if [ -f "$plugin/pyproject.toml" ]; then
        pip_args+=(-e "${plugin%/}")
    fi
done

# Reinstall only when something pip reads changed (a pyproject.toml, the interpreter or
# the checkout's path), or when `flowgate` imports from somewhere else.
stamp_dir=${XDG_CACHE_HOME:-$HOME/.cache}/flowgate-setup
stamp="$stamp_dir/$(printf '%s' "$ROOT" | sha256sum | cut -c1-16)"
fingerprint=$(
    {
        "$pybin" -c 'import sys; print(sys.executable, sys.version)'
        printf '%s\n' "${pip_args[@]}"
        cat "$ROOT/pyproject.toml" "$ROOT"/plugins/*/pyproject.toml 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
)
installed_from=$("$pybin" -c 'import flowgate, os; print(os.path.dirname(flowgate.__file__))' \
    2>/dev/null || true)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] \
    && [ "$installed_from" = "$ROOT/src/flowgate" ]; then
    say "Python packages up to date"
else
    say "installing flowgate and $((${#pip_args[@]} / 2 - 1)) plugin(s), editable, with $pybin"
    # Debian's own Python refuses pip installs outside a venv (PEP 668); this machine is
    # a dedicated build machine, so install into it anyway.
    if "$pybin" -c 'import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(not (os.path.exists(marker) and sys.prefix == sys.base_prefix))'; then
        export PIP_BREAK_SYSTEM_PACKAGES=1
    fi
    PIP_ROOT_USER_ACTION=ignore "$pybin" -m pip install --disable-pip-version-check -q \
        "${pip_args[@]}" >&2
    mkdir -p "$stamp_dir"
    printf '%s\n' "$fingerprint" >"$stamp"
fi

# --- Docker engine ---------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
    say "Docker engine running"
else
    [ "$(id -u)" -eq 0 ] || die "no Docker engine answers; run this script as root to start one"
    command -v dockerd >/dev/null 2>&1 || die "dockerd not found: install docker.io"
    say "starting dockerd (log: /var/log/dockerd.log)"
    # setsid + nohup: the daemon must outlive this script and its terminal.
    setsid nohup dockerd --host unix:///var/run/docker.sock \
        >/var/log/dockerd.log 2>&1 </dev/null &
    deadline=$((SECONDS + DOCKER_WAIT))
    until docker info >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 20 /var/log/dockerd.log >&2 || true
            die "dockerd did not answer within ${DOCKER_WAIT}s (log above)"
        fi
        sleep 0.5
    done
    say "Docker engine running"
fi

# --- Example images --------------------------------------------------------------------
bash "$ROOT/scripts/build-images.sh"
say "ready"
