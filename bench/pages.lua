-- Varied listing: every request asks for the next page number FIRST..LAST, so the shop's
-- fragment cache (keyed by the page) mostly misses until the range wraps round.
--   wrk -s bench/pages.lua http://127.0.0.1:PORT/products -- FIRST LAST THREADS

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local first, count, i, step

function init(args)
  first = tonumber(args[1] or "1")
  count = tonumber(args[2] or "400") - first + 1
  step = tonumber(args[3] or "1")
  i = thread_id or 0
end

function request()
  local page = first + (i % count)
  i = i + step
  return wrk.format("GET", wrk.path .. "?page=" .. page)
end
