#!/usr/bin/env bash
# check + report requests per second and latency against nginx `return 200`, in one run.
# Usage: bench/check_report/run.sh [DURATION_S] [CONNECTIONS] [ROUNDS]
# Each round measures nginx, then tollgate, for DURATION_S each; the ratio of each round
# and their median are printed, so that a slow stretch of a shared machine weighs on
# both sides alike. Needs a built build/tollgate, wrk and nginx
# (tools/install-deps.sh bench).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration=${1:-10}
conns=${2:-64}
rounds=${3:-3}
bin=${BENCH_TOLLGATE:-$root/build/tollgate}
source "$root/bench/lib/nginx.sh"
source "$root/bench/lib/rounds.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
admin=bench_admin_key_0123456789abcdef
cleanup() { nginx_stop; [[ -n "${tg_pid:-}" ]] && kill "$tg_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

run_wrk() {  # URL SCRIPT
  wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$2" "$1" | tee "$work/wrk.out" | grep "^RESULT" || { cat "$work/wrk.out" "$work/log" >&2; return 1; }
}

TOLLGATE_ADMIN_KEY=$admin "$bin" serve --listen 127.0.0.1:0 --data-dir "$work" >"$work/log" 2>&1 &
tg_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/log")
api() { curl -sf -H "Authorization: Bearer $admin" -H 'content-type: application/json' "$@"; }
api -X POST "http://127.0.0.1:$port/api/admin/tenants" -d '{"id":"bench"}' >/dev/null
api -X POST "http://127.0.0.1:$port/api/admin/limits" -d '{"scope":{"level":"user","tenant_id":"bench","subject_id":"*"},"metric":"tokens","window":{"unit":"day"},"limit":1000000000000}' >/dev/null
api -X POST "http://127.0.0.1:$port/api/admin/limits" -d '{"scope":{"level":"tenant","tenant_id":"bench"},"metric":"requests","window":{"unit":"minute"},"limit":1000000000000}' >/dev/null
export BENCH_KEY=$(api -X POST "http://127.0.0.1:$port/api/admin/keys" -d '{"role":"agent","tenant_id":"bench"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
nginx_start_static

# Two unrecorded seconds each first: connections, caches and the allocator's heap warm.
wrk -t1 -c"$conns" -d2s -s "$here/static.lua" "http://127.0.0.1:$NGINX_PORT/" >/dev/null
wrk -t1 -c"$conns" -d2s -s "$here/check_report.lua" "http://127.0.0.1:$port/" >/dev/null

echo "== $rounds rounds of ${duration}s each: nginx return 200 (1 worker), then tollgate check + report (SQLite store in $work)"
for round in $(seq 1 "$rounds"); do
  sample=$(cpu_sample)
  nginx_line=$(run_wrk "http://127.0.0.1:$NGINX_PORT/" "$here/static.lua")
  tg_line=$(run_wrk "http://127.0.0.1:$port/" "$here/check_report.lua")
  round_record "$round" "$nginx_line" "$tg_line" "$(steal_since "$sample")"
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$tg_pid/status")
events=$(api "http://127.0.0.1:$port/api/admin/usage/summary?days=1" | sed -n 's/.*"totals":{[^}]*"requests":\([0-9]*\).*/\1/p')
echo "events recorded: $events, RSS ${rss_kb} kB"
echo "== median ratio tollgate/nginx: $(median "${ROUND_RATIOS[@]}") (target >= 0.50); median tollgate p99: $(median "${ROUND_P99S[@]}") ms (target < 2 ms)"
