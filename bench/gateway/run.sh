#!/usr/bin/env bash
# The gateway against nginx as a plain reverse proxy to the same fake upstream, in one run
# (SPEC section 10): non-streaming requests per second and p50/p99 at full load, p99
# added latency at a paced 5,000 requests/s, and the time to first byte added on streams.
# Usage: bench/gateway/run.sh [DURATION_S] [CONNECTIONS] [ROUNDS]
# Measurements alternate in ROUNDS rounds, and the medians are printed, so that a slow
# stretch of a shared machine weighs on both sides alike.
# Needs a built build/tollgate, wrk, nginx and curl (tools/install-deps.sh bench).
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
cleanup() {
  nginx_stop
  for p in ${tg_pid:-} ${fake_pid:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port_of() {  # LOG: waits for "listening on http://127.0.0.1:PORT" and prints PORT
  for _ in $(seq 1 100); do grep -q 'listening on' "$1" && break; sleep 0.1; done
  sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$1" | head -1
}

run_wrk() {  # URL CONNECTIONS [PACE_MS]
  BENCH_PACE_MS=${3:-0} wrk -t1 -c"$2" -d"${duration}s" --latency -s "$here/chat.lua" "$1" \
    | tee "$work/wrk.out" | grep "^RESULT" || { cat "$work/wrk.out" >&2; return 1; }
}

"$bin" fake-provider --listen 127.0.0.1:0 --threads 1 --output-tokens 20 >"$work/fake.log" 2>&1 &
fake_pid=$!
fake_port=$(port_of "$work/fake.log")
fake="http://127.0.0.1:$fake_port"

TOLLGATE_ADMIN_KEY=$admin TOLLGATE_PROVIDERS_OPENAI_BASE_URL="$fake/v1" OPENAI_API_KEY=sk-bench \
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$work" >"$work/tollgate.log" 2>&1 &
tg_pid=$!
tg_port=$(port_of "$work/tollgate.log")
tg="http://127.0.0.1:$tg_port"
api() { curl -sf -H "Authorization: Bearer $admin" -H 'content-type: application/json' "$@"; }
api -X POST "$tg/api/admin/tenants" -d '{"id":"bench"}' >/dev/null
api -X POST "$tg/api/admin/limits" -d '{"scope":{"level":"user","tenant_id":"bench","subject_id":"*"},"metric":"tokens","window":{"unit":"day"},"limit":1000000000000}' >/dev/null
api -X POST "$tg/api/admin/limits" -d '{"scope":{"level":"tenant","tenant_id":"bench"},"metric":"requests","window":{"unit":"minute"},"limit":1000000000000}' >/dev/null
key=$(api -X POST "$tg/api/admin/keys" -d '{"role":"client","tenant_id":"bench","user_id":"bench-user"}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')

nginx_start_proxy "127.0.0.1:$fake_port"
ngx="http://127.0.0.1:$NGINX_PORT"

# Two unrecorded seconds each first: upstream pools, caches and the allocator's heap warm.
wrk -t1 -c"$conns" -d2s -s "$here/chat.lua" "$ngx/v1/chat/completions" >/dev/null
BENCH_KEY=$key wrk -t1 -c"$conns" -d2s -s "$here/chat.lua" "$tg/v1/chat/completions" >/dev/null

echo "== full load, $conns connections: $rounds rounds of ${duration}s, nginx proxy then tollgate"
for round in $(seq 1 "$rounds"); do
  sample=$(cpu_sample)
  nginx_line=$(run_wrk "$ngx/v1/chat/completions" "$conns")
  tg_line=$(BENCH_KEY=$key run_wrk "$tg/v1/chat/completions" "$conns")
  round_record "$round" "$nginx_line" "$tg_line" "$(steal_since "$sample")"
done
events=$(api "$tg/api/admin/usage/summary?days=1" | sed -n 's/.*"totals":{[^}]*"requests":\([0-9]*\).*/\1/p')
echo "events recorded: $events"
echo "== median ratio tollgate/nginx: $(median "${ROUND_RATIOS[@]}") (target >= 0.50)"

# Paced: 50 connections, each waiting 10 ms on average (exponentially distributed)
# between requests: about 5,000 requests/s offered, arriving at random.
echo "== paced at ~5,000 req/s (50 connections, random waits of 10 ms on average): $rounds rounds"
tg_added=() ngx_added=()
for round in $(seq 1 "$rounds"); do
  sample=$(cpu_sample)
  direct_line=$(run_wrk "$fake/v1/chat/completions" 50 10)
  nginx_paced=$(run_wrk "$ngx/v1/chat/completions" 50 10)
  tg_paced=$(BENCH_KEY=$key run_wrk "$tg/v1/chat/completions" 50 10)
  echo "round $round  fake direct  $direct_line"
  echo "round $round  nginx proxy  $nginx_paced"
  echo "round $round  tollgate     $tg_paced  $(steal_since "$sample")"
  tg_added+=("$(awk -v a="$(field p99_ms "$tg_paced")" -v b="$(field p99_ms "$direct_line")" 'BEGIN{printf "%.3f", a-b}')")
  ngx_added+=("$(awk -v a="$(field p99_ms "$nginx_paced")" -v b="$(field p99_ms "$direct_line")" 'BEGIN{printf "%.3f", a-b}')")
done
echo "== median p99 added over the direct call: tollgate $(median "${tg_added[@]}") ms, nginx $(median "${ngx_added[@]}") ms (target < 1 ms)"
nginx_stop

# Streams: time to the first byte, direct and through tollgate, 200 calls each.
ttfb() {  # URL AUTH_HEADER: prints the median and p99 of time_starttransfer in ms
  local body='{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"stream [fake output=40 chunk_delay_ms=1]"}]}'
  for _ in $(seq 1 200); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -H 'content-type: application/json' -H "$2" -d "$body" "$1"
  done | sort -n | awk '{v[NR]=$1*1000} END {printf "p50_ms=%.3f p99_ms=%.3f\n", v[int(NR*0.5)], v[int(NR*0.99)]}'
}
echo "== streams: time to first byte (200 sequential calls)"
direct_ttfb=$(ttfb "$fake/v1/chat/completions" "x-none: 1")
echo "fake direct   $direct_ttfb"
tg_ttfb=$(ttfb "$tg/v1/chat/completions" "Authorization: Bearer $key")
echo "tollgate      $tg_ttfb"
echo "== added time to first byte: p50 $(awk -v a="$(field p50_ms "$tg_ttfb")" -v b="$(field p50_ms "$direct_ttfb")" 'BEGIN{printf "%.3f", a-b}') ms, p99 $(awk -v a="$(field p99_ms "$tg_ttfb")" -v b="$(field p99_ms "$direct_ttfb")" 'BEGIN{printf "%.3f", a-b}') ms"
