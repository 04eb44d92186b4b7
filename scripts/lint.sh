#!/usr/bin/env bash
# Lint and format check of every Python file (config: pyproject.toml [tool.ruff]).
#   scripts/lint.sh          check only (what `make lint` and `make test` run); non-zero on any finding
#   scripts/lint.sh --fix    apply: `ruff check --fix` (safe fixes only), then `ruff format`
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF=${RUFF:-.venv/bin/ruff}
if [[ "${1:-}" == "--fix" ]]; then
  "$RUFF" check --fix .
  "$RUFF" format .
else
  "$RUFF" check .
  "$RUFF" format --check .
fi
