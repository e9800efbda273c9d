#!/usr/bin/env bash
# The main job on the embedded default: sets up .venv if needed, then runs the pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m pipeline.main --workdir="${FME_WORKDIR:-runs/default}" "$@"
