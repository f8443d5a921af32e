-- GET the paths of a file (one a line) in turn, and report the figures as JSON.
-- wrk -s read.lua http://host:port -- paths.txt
-- Every read scenario, /healthz included, goes through this script, so the client's own cost is the same for all.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local prepared = {}
local position = 0

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      table.insert(prepared, wrk.format("GET", line))
    end
  end
  assert(#prepared > 0, "no path in " .. args[1])
  -- Threads start at different places, so they do not ask for the same path at the same moment.
  math.randomseed(7919 * thread_number)
  position = math.random(#prepared) - 1
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function done(summary, latency, requests)
  report(summary, latency, { paths = #prepared })
end
