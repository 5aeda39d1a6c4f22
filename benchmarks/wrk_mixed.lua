-- wrk script: POST the "PATH BODY_FILE [HEADER_LENGTH]" lines of $MIX_FILE in turn (one line: one request, repeated);
-- print one JSON line of results (latency percentiles, socket errors, status counts) when done.
local requests = {}
for line in io.lines(os.getenv("MIX_FILE")) do
  -- an optional third field: the JSON header's length of an Open Inference Protocol binary body
  local path, file, header = line:match("^(%S+)%s+(%S+)%s*(%S*)$")
  local f = assert(io.open(file, "rb"))
  local headers = {["Content-Type"] = "application/json"}
  if header ~= "" then
    headers = {["Content-Type"] = "application/octet-stream", ["Inference-Header-Content-Length"] = header}
  end
  table.insert(requests, wrk.format("POST", path, headers, f:read("*a")))
  f:close()
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) codes = {}; i = 0 end
function request()
  i = i + 1
  return requests[(i % #requests) + 1]
end
function response(status, headers, body) codes[status] = (codes[status] or 0) + 1 end
function done(summary, latency, requests_)
  local merged = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes")) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%d": %d', k, v)) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, "codes": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, table.concat(parts, ", ")))
end
