-- wrk reporter: prints one machine-readable line that bench/catalog.py parses.
--   wrk -s bench/report.lua http://127.0.0.1:PORT/path
-- Other scripts (search.lua, pages.lua) load this file for their done().
-- latency:percentile(x) and summary.duration are in microseconds.

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_s": %.3f, "rps": %.2f, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f, ' ..
    '"bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
