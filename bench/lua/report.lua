-- Shared by the bench scripts: print a run's figures as one JSON line that bench/run.py reads.

local function number(value)
  if value ~= value or value == math.huge or value == -math.huge then
    return "null" -- NaN or infinite (a run without a single answer)
  end
  return string.format("%.17g", value)
end

function report(summary, latency, extra)
  local errors = summary.errors
  local figures = {
    requests = summary.requests,
    duration_s = summary.duration / 1e6,
    bytes = summary.bytes,
    status_errors = errors.status, -- answers with a status >= 400
    socket_errors = errors.connect + errors.read + errors.write,
    timeouts = errors.timeout,
    mean_ms = latency.mean / 1000,
    max_ms = latency.max / 1000,
  }
  for _, p in ipairs({ 50, 75, 90, 95, 99 }) do
    figures["p" .. p .. "_ms"] = latency:percentile(p) / 1000
  end
  for name, value in pairs(extra or {}) do
    figures[name] = value
  end
  local parts = {}
  for name, value in pairs(figures) do
    table.insert(parts, string.format('"%s": %s', name, number(value)))
  end
  io.write("BENCH_JSON {" .. table.concat(parts, ", ") .. "}\n")
end
