-- wrk script: alternates POST /api/agent/usage/check and /api/agent/usage/report, spread
-- over 1,000 users, as an agent does: each report settles the reservation of a check
-- answered before it (its reservation_id) and carries a fresh idempotency key. Reads the
-- bearer key from the environment (BENCH_KEY). Requests are assembled from pieces made
-- once, so that the load generator spends as little as it can of the shared CPU.
local key = os.getenv("BENCH_KEY")
local users = 1000
local head = "Host: bench\r\nAuthorization: Bearer " .. key ..
  "\r\nContent-Type: application/json\r\nContent-Length: "
local checks = {}  -- the check request of each user, whole
for u = 0, users - 1 do
  local body = '{"user_id":"u' .. u ..
    '","provider":"openai","model":"gpt-4o","input_tokens":120,"max_output_tokens":200}'
  checks[u] = "POST /api/agent/usage/check HTTP/1.1\r\n" .. head .. #body .. "\r\n\r\n" .. body
end
local report_line = "POST /api/agent/usage/report HTTP/1.1\r\n" .. head
local report_tail = '","provider":"openai","model":"gpt-4o",' ..
  '"usage":{"prompt_tokens":120,"completion_tokens":150}}'

-- Idempotency keys are unique across runs too (a server measured in several rounds must
-- see new reports, not duplicates of the last round's).
local run = string.format("%x", os.time())
local counter = 0
local thread_id = 0
local held = {}  -- reservation ids from check answers, oldest first
local first, last = 1, 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local user = counter % users
  if counter % 2 == 1 then return checks[user] end
  local reservation = ""
  if first <= last then
    reservation = '"reservation_id":"' .. held[first] .. '",'
    held[first] = nil
    first = first + 1
  end
  local body = '{"idempotency_key":"b' .. run .. "-" .. tid .. "-" .. counter .. '",' .. reservation ..
    '"user_id":"u' .. user .. report_tail
  return report_line .. #body .. "\r\n\r\n" .. body
end

local marker = '"reservation_id":"'
local allowed = string.byte("a")
function response(status, headers, body)
  -- Only a check answer ({"allowed":...) holds a reservation id; a report answer
  -- ({"event_id":...) is not searched.
  if string.byte(body, 3) ~= allowed then return end
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
