#!/usr/bin/env bash
# Set up a development machine from scratch, idempotently: a browser for the end-to-end tests, a Python
# virtual environment with fxwidgets installed in editable mode (which runs the npm build), and the
# front-end test tools. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# The small CPU build on these machines; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC=${FX_TORCH_SPEC:-torch==2.13.0}

step() { printf '\n== %s\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi

if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  step "installing $TORCH_SPEC"
  .venv/bin/python -m pip install -q "$TORCH_SPEC"
fi

step "installing front-end tools (npm ci)"
npm ci --no-audit --no-fund --loglevel=error

step "installing fxwidgets (editable; builds the front end) with its test tools"
.venv/bin/python -m pip install -q -e ".[test]"
test -f fxwidgets/static/affinity_heatmap.js || { echo "the front-end build produced no bundle" >&2; exit 1; }
echo "setup done"
