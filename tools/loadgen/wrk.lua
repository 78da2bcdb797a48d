-- wrk script of tools/loadgen/wrk.sh: every request is a line of the file named by the script's
-- first argument, picked at random. A line is "METHOD PATH" or "METHOD PATH JSON-BODY".
local lines = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  for l in io.lines(args[1]) do
    if l ~= "" then lines[#lines + 1] = l end
  end
  math.randomseed(os.time() * 1000 + (id or 0))
end

function request()
  local l = lines[math.random(#lines)]
  local method, path, body = l:match("^(%S+) (%S+) ?(.*)$")
  if body == "" then
    return wrk.format(method, path)
  end
  return wrk.format(method, path, { ["Content-Type"] = "application/json" }, body)
end
