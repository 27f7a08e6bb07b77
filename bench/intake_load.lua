-- wrk script for bench/intake_load.py.
--
-- With BENCH_BODY_FILE: POSTs that file's form body to BENCH_PATH, its "{{ID}}" replaced by a fresh
-- externalID on every request (BENCH_RUN-thread-counter). Without it: GETs BENCH_PATH (the
-- trivial endpoint). Either way it counts answers by status and by "result", keeps the recordId
-- of every 200 (so the bench can check each 200 has its record), and prints one JSON line,
-- "BENCH-JSON {...}", with wrk's own latency percentiles and errors.

local body_file = os.getenv("BENCH_BODY_FILE")
local path = os.getenv("BENCH_PATH") or "/"
local run = os.getenv("BENCH_RUN") or "run"
local ids_file = os.getenv("BENCH_IDS_FILE")

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local head, tail
local counter = 0
statuses = {}
results = {}
ids = {}

function init(args)
   if body_file then
      local f = assert(io.open(body_file, "rb"))
      local template = f:read("*a")
      f:close()
      local at = assert(template:find("{{ID}}", 1, true), "no {{ID}} in the body template")
      head, tail = template:sub(1, at - 1), template:sub(at + 6)
   end
end

function request()
   if not head then
      return wrk.format("GET", path)
   end
   counter = counter + 1
   local body = head .. run .. "-" .. tid .. "-" .. counter .. tail
   return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if head and status == 200 then
      local result = body:match('"result":%s*"(%a+)"') or "?"
      results[result] = (results[result] or 0) + 1
      local id = body:match('"recordId":%s*(%d+)')
      if id then
         ids[#ids + 1] = id
      end
   end
end

local function add_counts(into, from)
   for k, v in pairs(from) do
      into[k] = (into[k] or 0) + v
   end
end

local function json_counts(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format('"%s": %d', k, v)
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local all_statuses, all_results = {}, {}
   local out = ids_file and assert(io.open(ids_file, "w"))
   for _, thread in ipairs(threads) do
      add_counts(all_statuses, thread:get("statuses"))
      add_counts(all_results, thread:get("results"))
      if out then
         local thread_ids = thread:get("ids")
         if #thread_ids > 0 then
            out:write(table.concat(thread_ids, "\n"), "\n")
         end
      end
   end
   if out then
      out:close()
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH-JSON {"duration_us": %d, "requests": %d, "statuses": %s, "results": %s, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
      summary.duration, summary.requests, json_counts(all_statuses), json_counts(all_results),
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean))
end
