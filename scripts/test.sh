#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, services, then pytest in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-services.sh
export PATH="$HOME/.local/bin:$PATH"
uv run python scripts/clean_test_queues.py
exec uv run pytest -n "${LEOFLOW_TEST_WORKERS:-2}" --dist loadgroup "$@"
