#!/usr/bin/env bash
# Set up (a .venv with Outlast and its dev tools) and run every check: lint, types, tests.
# CI runs exactly this (.ci/run). PostgreSQL tests need a server at
# OUTLAST_TEST_POSTGRES_URI (default postgresql://postgres@127.0.0.1:5432/test); they are
# skipped without one, except under CI=true where they must run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
echo "== ruff"
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks
echo "== mypy (strict, src/)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
