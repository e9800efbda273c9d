#!/usr/bin/env bash
# The test command: sets up .venv if needed, then lint + the whole test suite (Python and Java).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
