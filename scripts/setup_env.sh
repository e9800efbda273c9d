#!/usr/bin/env bash
# Creates .venv (Python 3.11), installs the pinned lock with --no-deps and the project (editable).
# Idempotent: when the lock and pyproject are unchanged since the last install, it does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${FME_VENV:-.venv}"
STAMP="$VENV/.fedmultiemo-install-stamp"
want="$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/python" ]]; then
  exit 0
fi

PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 is required (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# pip's per-location "is ignored" warnings (machine-wide extra indexes) are noise: filter them.
pip_install() {
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$@" \
    2> >(grep -v -E "^WARNING: Location .* is ignored" >&2)
}

echo "[setup] creating $VENV with $("$PY" --version) and installing requirements/lock.txt ..." >&2
"$PY" -m venv "$VENV"
pip_install -r requirements/lock.txt
pip_install --no-build-isolation -e .
# Only the known TFF jax pin mismatch is tolerated.
if ! check="$("$VENV/bin/python" -m pip check 2>&1)"; then
  unexpected="$(grep -v -E "^tensorflow-federated 0\.87\.0 has requirement jax(lib)?==0\.4\.14" <<<"$check" || true)"
  if [[ -n "$unexpected" ]]; then
    echo "error: pip check found broken requirements:" >&2
    echo "$unexpected" >&2
    exit 1
  fi
fi
echo "$want" > "$STAMP"
echo "[setup] done" >&2
