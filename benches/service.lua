-- The whole `orders` service under load, one kind of request per run,
-- chosen by the MODE environment variable:
--   get       GET /orders/1 (200 with an ETag)
--   conflict  POST /orders/1/cancel on a shipped order (409 problem body)
--   create    POST /orders (201): seeds pending orders for `pay`
--   pay       POST /orders/{id}/pay on pending orders 2, 3, 4, ... (200)
-- Each thread takes its own ids for `pay`: thread t of T pays t+2, t+2+T, ...
local mode = os.getenv("MODE") or "get"
local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, conflicts, other = 0, 0, 0
  step = tonumber(os.getenv("THREADS") or "1")
  next_id = 2 + index
end

function request()
  if mode == "get" then
    return wrk.format("GET", "/orders/1")
  elseif mode == "conflict" then
    return wrk.format("POST", "/orders/1/cancel")
  elseif mode == "create" then
    return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"},
                      '{"item": "lamp", "quantity": 1}')
  end
  local path = "/orders/" .. next_id .. "/pay"
  next_id = next_id + step
  return wrk.format("POST", path)
end

function response(status, headers, body)
  if status == 200 or status == 201 then ok = ok + 1
  elseif status == 409 then conflicts = conflicts + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local o, c, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); c = c + t:get("conflicts"); x = x + t:get("other")
  end
  io.write(string.format("RESULT rps=%.1f p50=%d p90=%d p99=%d ok=%d conflicts=%d other=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), o, c, x))
end
