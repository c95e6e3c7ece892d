-- wrk script: POST one consumption per request, a fixed number of requests.
-- Env: BENCH_MODE=api|raw, BENCH_TARGETS=comma-separated API keys (api) or grant ids (raw),
--      BENCH_REQUESTS_PER_THREAD=N, BENCH_PATHS=comma-separated paths (api: one per key),
--      BENCH_DONE_DIR=an empty directory for the per-thread "done" markers.
-- wrk itself only knows durations: each thread stops after its share and drops
-- a marker file; the driver then sends wrk SIGINT, which ends the run at once
-- with the usual summary.
local threads = {}
local counter = 0

local function split(s)
  local out = {}
  for item in string.gmatch(s, "([^,]+)") do table.insert(out, item) end
  return out
end

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("BENCH_MODE")
  targets = split(os.getenv("BENCH_TARGETS"))
  paths = split(os.getenv("BENCH_PATHS") or "/bench/raw-consume/")
  limit = tonumber(os.getenv("BENCH_REQUESTS_PER_THREAD"))
  done_dir = os.getenv("BENCH_DONE_DIR")
  finished = false
  sent = 0
  done_count = 0
  errors = 0
  run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
end

function request()
  sent = sent + 1
  local i = ((sent + id) % #targets) + 1
  local headers = {["Content-Type"] = "application/json"}
  local path
  if mode == "api" then
    headers["Authorization"] = "Bearer " .. targets[i]
    headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. sent
    path = paths[i]
  else
    headers["X-Grant"] = targets[i]
    path = paths[1]
  end
  return wrk.format("POST", path, headers, '{"amount": 1, "description": "bench"}')
end

local function finish()
  finished = true
  wrk.thread:stop()
  local marker = io.open(done_dir .. "/thread-" .. id, "w")
  marker:close()
end

function response(status, headers, body)
  if finished then return end
  done_count = done_count + 1
  if status ~= 201 then errors = errors + 1 end
  if done_count >= limit then finish() end
end

function done(summary, latency, requests)
  local total_errors = 0
  local total_done = 0
  for _, t in ipairs(threads) do
    total_errors = total_errors + t:get("errors")
    total_done = total_done + t:get("done_count")
  end
  io.write(string.format("BENCH requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    total_done, total_errors, total_done / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
