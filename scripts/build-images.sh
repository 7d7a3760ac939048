#!/usr/bin/env bash
# Build every example image locally: no registry is reachable, so nothing can be pulled.
#
# Each image is FROM scratch plus the static busybox binary (Debian's busybox-static),
# copied into a temporary build context so the binary never lands in the repository.
# An image whose inputs (context files, busybox, build args) are unchanged is skipped,
# which keeps this quick enough to run before every test run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGES="$ROOT/examples/books-ms/images"
BUSYBOX=${BUSYBOX:-/bin/busybox}
LABEL=flowgate.example.fingerprint

log() { printf 'build-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

TMPDIRS=()
cleanup() { for dir in "${TMPDIRS[@]}"; do rm -rf "$dir"; done; }
trap cleanup EXIT

[ -x "$BUSYBOX" ] || die "$BUSYBOX not found: install busybox-static (scripts/setup.sh does)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked: install busybox-static, not busybox"
fi
docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/setup.sh first"

# fingerprint CONTEXT ARG...: a hash of everything the image is built from.
fingerprint() {
    local context=$1
    shift
    {
        (cd "$context" && find . -type f -printf '%m %p\n' | LC_ALL=C sort)
        (cd "$context" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        sha256sum <"$BUSYBOX"
        printf '%s\n' "$@"
    } | sha256sum | cut -d' ' -f1
}

# build TAG CONTEXT [NAME=VALUE build args...]
build() {
    local tag=$1 context=$2
    shift 2
    local fp current tmp arg
    local args=()
    for arg in "$@"; do args+=(--build-arg "$arg"); done
    fp=$(fingerprint "$context" "$@")
    current=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$tag" \
        2>/dev/null || true)
    if [ "$current" = "$fp" ]; then
        log "$tag is up to date"
        return
    fi
    tmp=$(mktemp -d)
    TMPDIRS+=("$tmp" "$tmp.log")
    cp -a "$context/." "$tmp/"
    cp "$BUSYBOX" "$tmp/busybox"
    log "building $tag"
    if ! DOCKER_BUILDKIT=0 docker build --label "$LABEL=$fp" -t "$tag" "${args[@]}" "$tmp" \
        >"$tmp.log" 2>&1; then
        cat "$tmp.log" >&2
        rm -f "$tmp.log"
        die "docker build of $tag failed (output above)"
    fi
    rm -f "$tmp.log"
}

build books-ms:1.0 "$IMAGES/app" VERSION=1.0 BROKEN=0
build books-ms:1.1 "$IMAGES/app" VERSION=1.1 BROKEN=0
build books-ms:1.2 "$IMAGES/app" VERSION=1.2 BROKEN=1
build books-ms-db:1.0 "$IMAGES/db" VERSION=1.0
# The second example service (examples/users-ms) is the same app under another API path.
build users-ms:1.0 "$IMAGES/app" VERSION=1.0 BROKEN=0 SERVICE=users-ms RESOURCE=users
build users-ms:1.1 "$IMAGES/app" VERSION=1.1 BROKEN=0 SERVICE=users-ms RESOURCE=users
log "example images ready"
