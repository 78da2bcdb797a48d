-- wrk script of tools/loadgen/engagement.sh: each request posts one batch of play events
-- (recordEngagement) with fresh event ids, over the episode ids in the file named by the script's
-- first argument (one a line); the second argument is the batch size. A client id per connection
-- thread and request keeps the callers apart, as many players would be.
local episodes = {}
local batch = 10
local counter = 0
local thread_id = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  for l in io.lines(args[1]) do
    if l ~= "" then episodes[#episodes + 1] = l end
  end
  batch = tonumber(args[2] or "10")
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

local function uuid4()
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x", math.random(0, 0x7fffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

-- A browser's User-Agent: recordEngagement drops what crawlers (and clients without one) send.
local agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

local n = 0
function request()
  n = n + 1
  local parts = {}
  for i = 1, batch do
    parts[i] = string.format('{"event_id":"%s","type":"play","content_type":"episode","content_id":"%s","position_seconds":%d}',
      uuid4(), episodes[math.random(#episodes)], math.random(0, 3000))
  end
  local body = string.format('{"client_id":"bench-%d-%d","events":[%s]}', thread_id or 0, n % 1000, table.concat(parts, ","))
  return wrk.format("POST", "/api/v1/discovery/events", { ["Content-Type"] = "application/json", ["User-Agent"] = agent }, body)
end
