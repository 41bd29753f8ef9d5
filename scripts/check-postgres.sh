#!/usr/bin/env bash
# The PostgreSQL backend's tests need a server: CLOOP_TEST_POSTGRES, or 127.0.0.1:5432 with
# user postgres and trust authentication. Fails early, with the fix, when none answers.
set -euo pipefail
url="${CLOOP_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
if command -v psql >/dev/null; then
  if psql "${url%/}/postgres" -Atqc 'select 1' >/dev/null 2>&1; then
    echo "postgres: ${url%%@*}@... answers"
    exit 0
  fi
  echo "error: no PostgreSQL answers at ${url} (the PostgreSQL tests need one)." >&2
  echo "       Start it (e.g. pg_ctlcluster <version> main start) or set CLOOP_TEST_POSTGRES." >&2
  exit 1
fi
echo "note: psql not found; the PostgreSQL tests will report if no server answers at ${url}"
