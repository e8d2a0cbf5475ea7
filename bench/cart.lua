-- Cart load: every request belongs to one of several prepared shopper sessions.
--   wrk -s bench/cart.lua http://127.0.0.1:PORT/cart -- SESSIONS_FILE MODE
-- SESSIONS_FILE: one "cookie<TAB>csrf-token<TAB>variant-id" line per shopper (bench/cart.py).
-- MODE: "view" (GET /cart) or "add" (htmx POST /cart/add, one unit of the shopper's variant).

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local sessions = {}
local mode = "view"
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    local cookie, token, variant = line:match("^(.-)\t(.-)\t(.-)$")
    if cookie then sessions[#sessions + 1] = {cookie = cookie, token = token, variant = variant} end
  end
  mode = args[2] or "view"
  i = math.random(#sessions)
end

function request()
  i = i + 1
  local s = sessions[(i % #sessions) + 1]
  if mode == "add" then
    return wrk.format("POST", "/cart/add", {
      ["Cookie"] = s.cookie, ["X-CSRFToken"] = s.token, ["HX-Request"] = "true",
      ["HX-Target"] = "mini-cart", ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "variant_id=" .. s.variant .. "&quantity=1")
  end
  return wrk.format("GET", "/cart", {["Cookie"] = s.cookie})
end
