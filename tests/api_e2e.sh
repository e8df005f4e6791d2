#!/usr/bin/env bash
# Runs the end-to-end API tests (node's test runner) against the tollgate binary $1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export TOLLGATE_BIN="$(realpath "$1")"
cd "$here/e2e"
exec node --test --test-concurrency=1 api.test.mjs access.test.mjs bad_input.test.mjs \
  concurrency.test.mjs crash.test.mjs cli.test.mjs policies.test.mjs
