#!/usr/bin/env bash
# `npm test`: every tier, the slow one first (its long files start early), three files at a time
# (most of them wait on servers, browsers and child processes, so a third keeps both cores busy).
# The real-PostgreSQL tier needs a server: when LOOKALIKE_PG_URL is unset (and
# LOOKALIKE_SKIP_REAL_PG is not 1), a throwaway one is started here (scripts/pg-test-server.sh,
# its own cluster folder) and stopped on any exit, so `npm test` works as written on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${LOOKALIKE_PG_URL:-}" ] && [ "${LOOKALIKE_SKIP_REAL_PG:-}" != 1 ]; then
  export LOOKALIKE_PG_STATE="${TMPDIR:-/tmp}/lookalike-pg-npm-test-$$"
  trap 'scripts/pg-test-server.sh stop' EXIT
  LOOKALIKE_PG_URL="$(scripts/pg-test-server.sh start)"
  export LOOKALIKE_PG_URL
fi
node --import tsx --test --test-concurrency=3 tests/slow/*.test.ts tests/cli/*.test.ts tests/fast/*.test.ts
