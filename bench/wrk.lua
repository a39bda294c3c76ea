-- taskapp benchmark requests for wrk: a random user's token (and their change-feed token, a list
-- of theirs, and one of that user's task ids)
-- per request, over the scenarios listed in $BENCH_SCENARIOS (method TAB path TAB body).
local users = {}
local scenarios = {}
local words = {"invoice", "report", "garden", "meeting", "dentist", "groceries", "taxes", "release", "review", "travel"}
local tags = {"work", "home", "urgent", "errand", "later"}
local counter = 0

local function split(line, sep)
  local fields = {}
  for field in (line .. sep):gmatch("(.-)" .. sep) do table.insert(fields, field) end
  return fields
end

for line in io.lines(os.getenv("BENCH_USERS")) do
  local fields = split(line, " ")
  local token = table.remove(fields, 1)
  local since = table.remove(fields, 1)
  local list = table.remove(fields, 1)
  table.insert(users, {token = token, since = since, list = list, ids = fields})
end
for line in io.lines(os.getenv("BENCH_SCENARIOS")) do
  table.insert(scenarios, split(line, "\t"))
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed)
end

request = function()
  counter = counter + 1
  local user = users[math.random(#users)]
  local scenario = scenarios[math.random(#scenarios)]
  local id = user.ids[math.random(#user.ids)]
  -- the user's tasks n = 1, 2, … in order; every tenth from the 7th recurs (bench/seed.py)
  local rid = user.ids[10 * math.random(0, math.floor((#user.ids - 7) / 10)) + 7]
  local word = words[math.random(#words)]
  local tag = tags[math.random(#tags)]
  local path = scenario[2]:gsub("{rid}", rid):gsub("{id}", id):gsub("{q}", word):gsub("{tag}", tag)
  path = path:gsub("{since}", user.since):gsub("{list}", user.list)
  local body = nil
  local headers = {["Authorization"] = "Bearer " .. user.token}
  if path == "/mcp" then  -- Streamable HTTP: the client accepts a JSON answer or an event stream
    headers["Accept"] = "application/json, text/event-stream"
  end
  if scenario[3] ~= "" then
    body = scenario[3]:gsub("{title}", "bench " .. word .. " " .. counter):gsub("{tag}", tag):gsub("{list}", user.list)
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(scenario[1], path, headers, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
