-- wrk script: alternates POST /api/agent/usage/check and /api/agent/usage/report, spread
-- over 1,000 users, as an agent does: each report settles the reservation of a check
-- answered before it (its reservation_id) and carries a fresh idempotency key. Reads the
-- bearer key from the environment (BENCH_KEY).
local counter = 0
local thread_id = 0
local key = os.getenv("BENCH_KEY")
local held = {}  -- reservation ids from check answers, oldest first
local first, last = 1, 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local user = "u" .. (counter % 1000)
  local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  if counter % 2 == 1 then
    return wrk.format("POST", "/api/agent/usage/check", headers,
      '{"user_id":"' .. user .. '","provider":"openai","model":"gpt-4o","input_tokens":120,"max_output_tokens":200}')
  end
  local reservation = ""
  if first <= last then
    reservation = '"reservation_id":"' .. held[first] .. '",'
    held[first] = nil
    first = first + 1
  end
  return wrk.format("POST", "/api/agent/usage/report", headers,
    '{"idempotency_key":"b' .. tid .. "-" .. counter .. '",' .. reservation .. '"user_id":"' .. user ..
    '","provider":"openai","model":"gpt-4o","usage":{"prompt_tokens":120,"completion_tokens":150}}')
end

local marker = '"reservation_id":"'
function response(status, headers, body)
  local _, at = string.find(body, marker, 1, true)  -- plain search: cheap for wrk
  if at then
    local stop = string.find(body, '"', at + 1, true)
    last = last + 1
    held[last] = string.sub(body, at + 1, stop - 1)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors))
end
