#!/usr/bin/env bash
# Set up, then run every test: front-end unit tests, Python tests, and end-to-end tests that drive a real
# JupyterLab in headless Chromium. Artifacts (screenshots, logs) land in artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

printf '\n== front-end tests (typecheck + vitest)\n'
npm test || exit 1

printf '\n== Python and browser tests\n'
ART=${FX_ARTIFACTS:-artifacts/e2e}
mkdir -p "$ART"
timeout -k 20 2400 .venv/bin/python -m pytest tests -ra --timeout=600 "$@"
rc=$?
# After a failed or killed run only: end what the browser fixtures recorded, if its command line proves it is
# ours (the server and kernels run from a /tmp/fx-e2e-* dir, Chromium from a playwright profile): never a reused pid.
if [ $rc -ne 0 ] && [ -f "$ART/pids.txt" ]; then
  while read -r pid what; do
    args=$(ps -p "$pid" -o args= 2>/dev/null) || continue
    case "$args" in
      *fx-e2e-*|*playwright*) echo "ending leftover $what ($pid)" >&2; kill -9 "$pid" 2>/dev/null ;;
    esac
  done < "$ART/pids.txt"
fi
exit $rc
