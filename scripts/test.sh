#!/usr/bin/env bash
# The project's one test command (CI runs it through .ci/run): make the machine ready,
# check the code with ruff (lint and format) and mypy (as configured in pyproject.toml),
# then run the whole suite with end-to-end tests required, so a missing Docker engine or
# HAProxy fails the run instead of skipping the tests that matter most.
# Arguments go to pytest: bash scripts/test.sh -k haproxy -x
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/setup.sh

pybin=${PYTHON:-}
if [ -z "$pybin" ]; then
    pybin=python3
    command -v "$pybin" >/dev/null 2>&1 || pybin=python
fi

# Static checks first: they take seconds, and a failure stops the run before the long suite.
printf 'test: ruff check, ruff format --check, mypy\n' >&2
"$pybin" -m ruff check .
"$pybin" -m ruff format --check .
"$pybin" -m mypy

status=0
FLOWGATE_REQUIRE_DOCKER=1 "$pybin" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    printf 'test: pytest collected no tests (exit 5): treating that as a failure\n' >&2
fi
exit "$status"
