-- wrk script: POST one GraphQL query as many different users (tokens rotate per request).
-- usage: wrk -s bench/mycases.lua URL -- TOKENS_FILE QUERY_FILE
-- QUERY_FILE holds one JSON body, or one per line paired with the tokens' lines (each user their own request).
-- Prints one JSON line (prefixed "WRK_RESULT ") with requests, rps, p50/p99 (ms) and error counts.

local tokens = {}
local bodies = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(tokens, line) end
  end
  for line in io.lines(args[2]) do
    if #line > 0 then table.insert(bodies, line) end
  end
  counter = 0
  graphql_errors = 0
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local body = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local errors = 0
  for _, thread in ipairs(threads) do
    errors = errors + thread:get("graphql_errors")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "socket_errors": %d, "error_responses": %d}\n',
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, errors))
end
