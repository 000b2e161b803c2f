#!/usr/bin/env bash
# Set up, then open the tour notebook in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ROOT=(); [ "$(id -u)" -eq 0 ] && ROOT=(--allow-root)
exec .venv/bin/jupyter lab notebooks/00_tour.ipynb "${ROOT[@]}" "$@"
