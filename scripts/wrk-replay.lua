-- wrk script for scripts/load-wecom.sh: replays requests prepared by
-- `wecom_load --emit FILE` (one a line: path?query TAB body), each thread its own share in
-- order, so every message (MsgId) is sent once while the list lasts. Counts replies that
-- are not a 200 with an encrypted body, and keeps one reply in 50 for
-- `wecom_load --verify-file` to decrypt and check.
--
--   wrk -t2 -c32 -d5s -s scripts/wrk-replay.lua URL -- REQUESTS_FILE THREADS SAMPLES_PREFIX

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, nthreads, prefix = args[1], tonumber(args[2]), args[3]
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local path, body = line:match("^([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, { ["Content-Type"] = "text/xml" }, body)
    end
    i = i + 1
  end
  next_req = 1
  passes = 0
  responses = 0
  bad = 0
  samples = io.open(prefix .. "." .. id, "w")
end

function request()
  local r = reqs[next_req]
  next_req = next_req + 1
  if next_req > #reqs then
    -- The list ran out: messages repeat from here (reported, so the run can be redone longer).
    next_req = 1
    passes = passes + 1
  end
  return r
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or not body:find("<Encrypt>", 1, true) then
    bad = bad + 1
  end
  if responses % 50 == 0 then
    samples:write((body:gsub("[\r\n]", "")), "\n")
    samples:flush()
  end
end

function done(summary, latency, requests)
  local bad_total, repeated = 0, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    repeated = repeated + t:get("passes")
  end
  local e = summary.errors
  io.write(string.format(
    "wrk: requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d list_repeated=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    bad_total + e.connect + e.read + e.write + e.status + e.timeout, repeated))
end
