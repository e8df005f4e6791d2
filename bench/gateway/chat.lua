-- POST one small non-streaming chat completion per request. Env: BENCH_KEY (bearer key,
-- optional), BENCH_PACE_MS (optional: each connection waits this long between requests
-- on average, so C connections offer about C * 1000 / BENCH_PACE_MS requests per second).
local key = os.getenv("BENCH_KEY")
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = '{"model":"gpt-4o-mini","max_tokens":64,' ..
  '"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'

-- Each wait is drawn from an exponential distribution of mean BENCH_PACE_MS, so that the
-- connections' requests arrive at random, as independent clients' do. (Equal waits keep
-- the connections in step: all of them send within the same millisecond, and every
-- request then queues behind the others of its burst.)
math.randomseed(os.time())
function delay()
  if pace <= 0 then return 0 end
  return math.floor(-pace * math.log(1 - math.random()) + 0.5)
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
