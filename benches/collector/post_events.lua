-- wrk script of `cargo xtask bench collector`: POSTs batches of 100
-- model_registration events to /api/v1/telemetry, every event with a uuid of
-- its own, and prints what was sent and acknowledged in one line.
--
--   wrk -t2 -c8 -d10s -s post_events.lua http://127.0.0.1:PORT/api/v1/telemetry -- BODIES RUN
--
-- BODIES holds one JSON array per line (xtask writes it). In each, every
-- event's uuid starts with the 8-character placeholder `XXXXXXXX`. Thread
-- `id` sends its requests in order, n = 0, 1, 2, …: the body on line
-- n % #bodies + 1, with the placeholder replaced by
-- string.format("%02x%02x%04x", RUN, id, n // #bodies). The uuids of one
-- thread therefore rise, as a client's UUID v7s do. So the uuids of a
-- run never repeat, and xtask rebuilds any request from (RUN, id, n) to send
-- again those still in flight when wrk stopped. (wrk calls request() once on
-- its first thread to check the script, and never sends that one: request 0
-- of thread 0, which xtask sends too.)
--
-- done() prints, after wrk's own report:
--   collector_wrk_thread id=… sent=… connections=…
--   collector_wrk requests=… sent=… accepted=… rejected=… non_200=… …

local PLACEHOLDER = "XXXXXXXX"

-- The setup and done environment: every thread, for done().
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Each thread's environment. `id` is set by setup().
local bodies = {}
local run = 0
sent = 0
responses = 0
accepted = 0
rejected = 0
non_200 = 0

-- Splits `line` at every placeholder, so that table.concat(parts, suffix)
-- puts the suffix in every uuid.
local function split(line)
   local parts, start = {}, 1
   while true do
      local from, to = string.find(line, PLACEHOLDER, start, true)
      if not from then
         parts[#parts + 1] = string.sub(line, start)
         return parts
      end
      parts[#parts + 1] = string.sub(line, start, from - 1)
      start = to + 1
   end
end

function init(args)
   local path = args[1] or error("usage: wrk … -s post_events.lua URL -- BODIES RUN")
   run = tonumber(args[2] or "0")
   for line in io.lines(path) do
      if #line > 0 then
         bodies[#bodies + 1] = split(line)
      end
   end
   if #bodies == 0 then
      error("no bodies in " .. path)
   end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local count = #bodies
   local parts = bodies[sent % count + 1]
   local suffix = string.format("%02x%02x%04x", run, id, math.floor(sent / count) % 65536)
   sent = sent + 1
   return wrk.format(nil, nil, nil, table.concat(parts, suffix))
end

function response(status, headers, body)
   responses = responses + 1
   if status == 200 then
      accepted = accepted + (tonumber(string.match(body, '"accepted"%s*:%s*(%d+)')) or 0)
      rejected = rejected + (tonumber(string.match(body, '"rejected"%s*:%s*(%d+)')) or 0)
   else
      non_200 = non_200 + 1
   end
end

function done(summary, latency, requests)
   local totals = { sent = 0, responses = 0, accepted = 0, rejected = 0, non_200 = 0 }
   for _, thread in ipairs(threads) do
      for key in pairs(totals) do
         totals[key] = totals[key] + thread:get(key)
      end
      io.write(string.format("collector_wrk_thread id=%d sent=%d\n", thread:get("id"), thread:get("sent")))
   end
   local seconds = summary.duration / 1e6
   local errors = summary.errors
   io.write(string.format(
      "collector_wrk requests=%d responses=%d sent=%d accepted=%d rejected=%d non_200=%d"
         .. " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d seconds=%.3f"
         .. " requests_per_s=%.1f events_per_s=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
      summary.requests, totals.responses, totals.sent, totals.accepted, totals.rejected, totals.non_200,
      errors.connect, errors.read, errors.write, errors.timeout, seconds,
      totals.responses / seconds, totals.accepted / seconds,
      latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
      latency.max / 1e3))
end
