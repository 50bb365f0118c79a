#!/usr/bin/env bash
# Set up (a .venv with Outlast) and run the demo: `outlast dev` on embedded SQLite, the
# example app (examples/), and the seeds' events. Pass --exit to stop when it is done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
exec .venv/bin/python -m examples.demo "$@"
