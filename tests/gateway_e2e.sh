#!/usr/bin/env bash
# Runs the gateway end-to-end tests (node's test runner, the official OpenAI, Anthropic
# and Gemini SDKs from npm) against the tollgate binary $1: tests/gateway/*.test.mjs.
# Installs the SDKs with `npm ci` when node_modules is missing or older than the lock.
# Usage: bash tests/gateway_e2e.sh path/to/tollgate
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export TOLLGATE_BIN="$(realpath "$1")"
cd "$here/gateway"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent >/dev/null
fi
exec node --test --test-concurrency=1 *.test.mjs
