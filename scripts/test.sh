#!/usr/bin/env bash
# Set up, then run every test: front-end unit tests, Python tests, and end-to-end tests that drive a real
# JupyterLab in headless Chromium. Artifacts (screenshots, logs) land in artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

printf '\n== front-end tests (typecheck + vitest)\n'
npm test || exit 1

printf '\n== Python and browser tests\n'
mkdir -p artifacts
timeout -k 20 2400 .venv/bin/python -m pytest tests -ra --timeout=600 "$@"
