#!/usr/bin/env bash
# Every quality gate, then the whole test suite. With CI=true the PostgreSQL and NATS tests
# are required (they fail if the servers are unreachable); elsewhere they skip with a reason.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "==> ruff (lint)";          ruff check src tests
echo "==> ruff (format)";        ruff format --check src tests
echo "==> mypy";                 mypy
echo "==> import-linter";        lint-imports --no-cache
echo "==> pytest"
workers="${JOINEDUP_TEST_WORKERS:-2}"
exec pytest -n "$workers" --dist loadgroup "$@"
