#!/usr/bin/env bash
# Set up (a .venv with Outlast and its dev tools) and run every check: lint, types, tests.
# CI runs exactly this (.ci/run), with no argument.
#
#   bash scripts/test.sh [LANE...] [PYTEST_ARG...]
#
# LANEs pick what runs: lint (ruff, mypy), unit, integration, acceptance, e2e; none means
# every one. The test lanes select tests by their tier marker (tests/conftest.py), so
# `bash scripts/test.sh lint unit integration` is the quick check before a commit. Arguments
# after the lanes go to pytest: `bash scripts/test.sh unit -k flow -x`.
#
# PostgreSQL tests need a server at OUTLAST_TEST_POSTGRES_URI (default
# postgresql://postgres@127.0.0.1:5432/test); they are skipped without one, except under
# CI=true where they must run. The same goes for the browser tests and Debian's chromium,
# which this script installs (for the e2e lane) when it can.
set -euo pipefail
cd "$(dirname "$0")/.."
LANES=(lint unit integration acceptance e2e)
lanes=()
while [ $# -gt 0 ] && [[ " ${LANES[*]} " == *" $1 "* ]]; do
  lanes+=("$1")
  shift
done
wants() { [ ${#lanes[@]} -eq 0 ] || [[ " ${lanes[*]} " == *" $1 "* ]]; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'

# The dashboard's browser tests (tests/e2e) drive Debian's Chromium through Playwright's
# executable_path: Playwright's own browser download needs hosts this network doesn't reach.
install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "chromium is missing and we are neither root nor allowed sudo:" \
        "the browser tests will be skipped (and fail under CI=true)" >&2
      return 0
    fi
  fi
  local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o Dpkg::Use-Pty=0)
  echo "== installing chromium (Debian package) for the browser tests"
  # The package lists may be missing or stale on a new machine: update only when needed.
  "${apt[@]}" install chromium >/dev/null 2>&1 \
    || { "${apt[@]}" update >/dev/null && "${apt[@]}" install chromium >/dev/null; } \
    || echo "installing chromium failed: the browser tests will be skipped" \
      "(and fail under CI=true)" >&2
}
if wants e2e; then
  install_chromium
fi
if wants lint; then
  echo "== ruff"
  .venv/bin/ruff check src tests examples benchmarks
  .venv/bin/ruff format --check src tests examples benchmarks
  echo "== mypy (strict, src/)"
  .venv/bin/mypy
fi

# Every test lane: one pytest run over all tests (the tiers run fastest first). Some lanes:
# one run over their tiers' markers. The slowest tests are listed, to keep an eye on them.
pytest=(.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15)
tiers=()
for lane in "${lanes[@]}"; do
  [ "$lane" = lint ] || tiers+=("$lane")
done
if [ ${#lanes[@]} -eq 0 ]; then
  echo "== pytest"
  "${pytest[@]}" "$@"
elif [ ${#tiers[@]} -gt 0 ]; then
  marks="${tiers[*]}"
  echo "== pytest (${marks// / or })"
  "${pytest[@]}" -m "${marks// / or }" "$@"
fi
