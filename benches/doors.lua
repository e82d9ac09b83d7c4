-- Random moves on 1000 doors: a mix of legal moves and conflicts.
local actions = {"open", "close", "lock", "unlock"}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(42 + #threads)
  ok, conflicts, other = 0, 0, 0
end

function request()
  local path = "/doors/" .. math.random(1, 1000) .. "/" .. actions[math.random(1, 4)]
  return wrk.format("POST", path)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1
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
