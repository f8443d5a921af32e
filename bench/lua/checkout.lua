-- Checkout on limited stock: each connection signs in as its own customers in turn; a customer adds a hot
-- variant to the cart (POST /api/store/carts/add_item/) and then checks out (POST /api/store/orders/).
-- wrk -t16 -c16 -s checkout.lua http://host:port -- tokens.txt variants.txt 16   (the last: threads)
--
-- Run it with as many threads as connections: a wrk thread then owns exactly one connection, so the state below
-- (whose turn, which step) is that connection's, and each answer is matched with the request that asked it.
-- A 409 on add_item (sold out) or on the order (stock taken meanwhile) is the shop saying no, not a failure: it is
-- counted apart; anything else that is not 2xx is an error.

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

local ORDER_BODY = '{"shipping_address": {"full_name": "Bench Buyer", "line1": "1 Load Street", '
  .. '"city": "Berlin", "postal_code": "10115", "country": "DE"}, "notes": "wrk"}'

local customers, variants, sold_out = {}, {}, {}
local turn, step, variant, quantity = 1, "add", nil, 1

-- Read back by done() from every thread (numbers only).
added, add_sold_out, orders, order_conflicts, units, clears, other_4xx, errors_5xx = 0, 0, 0, 0, 0, 0, 0, 0

function init(args)
  local thread_count = tonumber(args[3])
  local line_number = 0
  for line in io.lines(args[1]) do
    if line ~= "" then
      if line_number % thread_count == thread_number - 1 then
        table.insert(customers, line)
      end
      line_number = line_number + 1
    end
  end
  for line in io.lines(args[2]) do
    if line ~= "" then
      table.insert(variants, tonumber(line))
    end
  end
  assert(#customers > 0, "thread " .. thread_number .. " has no customer: give at least one token per connection")
  math.randomseed(7919 * thread_number)
end

-- Everyone wants the same few variants (a sale): a pick among the first HOT not yet known to be sold out, in the
-- file's order (the scarce ones first), so buyers race for the last units of each before moving on.
local HOT = 3

local function pick_variant()
  local left = {}
  for _, id in ipairs(variants) do
    if not sold_out[id] then
      table.insert(left, id)
      if #left == HOT then
        break
      end
    end
  end
  if #left == 0 then
    left = variants -- everything sold out (as far as this connection knows): keep asking, the shop says 409
  end
  return left[math.random(#left)]
end

local function next_customer()
  turn = turn % #customers + 1
  step = "add"
end

function request()
  local headers = { ["Authorization"] = "Bearer " .. customers[turn], ["Content-Type"] = "application/json" }
  if step == "add" then
    variant, quantity = pick_variant(), math.random(2)
    local body = string.format('{"variant_id": %d, "quantity": %d}', variant, quantity)
    return wrk.format("POST", "/api/store/carts/add_item/", headers, body)
  elseif step == "order" then
    return wrk.format("POST", "/api/store/orders/", headers, ORDER_BODY)
  end
  return wrk.format("POST", "/api/store/carts/clear/", headers, "{}")
end

function response(status, headers, body)
  if status >= 500 then
    errors_5xx = errors_5xx + 1
  elseif status >= 400 and status ~= 409 then
    other_4xx = other_4xx + 1
  end
  if step == "add" then
    if status == 200 then
      added = added + 1
      step = "order"
    else
      if status == 409 then
        add_sold_out = add_sold_out + 1
        if quantity == 1 then
          sold_out[variant] = true -- not even one left (a 409 for two may still leave one)
        end
      end
      next_customer()
    end
  elseif step == "order" then
    if status == 201 then
      orders = orders + 1
      units = units + quantity
      next_customer()
    else
      if status == 409 then
        order_conflicts = order_conflicts + 1
      end
      step = "clear" -- the line is still in the cart: empty it before this customer tries again
    end
  else
    if status == 200 then
      clears = clears + 1
    end
    next_customer()
  end
end

function done(summary, latency, requests)
  local totals = {
    added = 0, add_sold_out = 0, orders = 0, order_conflicts = 0, units = 0, clears = 0, other_4xx = 0,
    errors_5xx = 0,
  }
  for _, thread in ipairs(threads) do
    for name, value in pairs(totals) do
      totals[name] = value + (thread:get(name) or 0)
    end
  end
  report(summary, latency, totals)
end
