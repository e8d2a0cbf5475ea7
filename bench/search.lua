-- Varied search: every request asks for the next term from a list, so the shop's fragment
-- cache (keyed by the query) mostly misses until the list wraps round.
--   wrk -s bench/search.lua http://127.0.0.1:PORT/products -- TERMS_FILE THREADS
-- TERMS_FILE holds one search term per line (bench/catalog.py writes it from the seed
-- vocabulary). Thread i of THREADS takes terms i, i+THREADS, ... so the threads together
-- walk the list once before any term repeats.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local terms = {}
local i, step

local function urlencode(s)
  s = s:gsub("[^%w%-%._~ ]", function(c) return string.format("%%%02X", c:byte()) end)
  return (s:gsub(" ", "+"))
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then terms[#terms + 1] = urlencode(line) end
  end
  step = tonumber(args[2] or "1")
  i = thread_id or 0
end

function request()
  local term = terms[(i % #terms) + 1]
  i = i + step
  return wrk.format("GET", wrk.path .. "?q=" .. term)
end
