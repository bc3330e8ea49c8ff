-- post.lua - wrk script for bench/run.sh: POST Call Automation callbacks to /events.
--
--   wrk ... -s bench/post.lua URL -- FORMAT EVENTS NONCE
--
-- FORMAT  cloudevents: a CloudEvents 1.0 array (what Call Automation posts)
--         eventgrid:   an Event Grid schema array
-- EVENTS  events per request (1 for single-event POSTs, 50 for batches)
-- NONCE   any word; it goes into every event id, so ids never repeat across runs
--
-- Every event has an id unique across all wrk threads (NONCE-thread-counter),
-- so callhookd deduplicates nothing and every acknowledged event is a new row.
-- A call id is shared by 4 consecutive events, as a call produces several.
--
-- done() prints one machine-readable line that run.sh parses:
--   BENCH requests=N duration_us=N ok=N non2xx=N accepted=N duplicates=N
--         errors=N p50_us=N p90_us=N p99_us=N max_us=N events_per_request=N
-- "accepted"/"duplicates" are summed from callhookd's answers
-- {"accepted":N,"duplicates":M}; the reference server always says 0.

local threads = {}
local next_tid = 1

function setup(thread)
	thread:set("tid", next_tid)
	next_tid = next_tid + 1
	table.insert(threads, thread)
end

local fmt = string.format
local concat = table.concat
local random = math.random

local format, nonce
per_request = 1 -- global: done() reads it through thread:get()
local counter, call_id = 0, nil
local headers = {["Content-Type"] = "application/json"}

-- Per-thread results, collected by done() through thread:get().
ok, non2xx, accepted, duplicates = 0, 0, 0, 0

local function guid()
	return fmt("%08x-%04x-4%03x-%04x-%06x%06x", random(0, 0x7fffffff), random(0, 0xffff),
		random(0, 0xfff), random(0x8000, 0xbfff), random(0, 0xffffff), random(0, 0xffffff))
end

local server_call_id = "aHR0cHM6Ly9hcGkuZmxpZ2h0cHJveHkuc2t5cGUuY29tL2FwaS92Mi9jcC9jb252LWV1bm8tMDEu"
	.. "Y29udi5za3lwZS5jb20vY29udi9CZW5jaENhbGw_aT0zJmU9NjM4ODU2NTQyMzU0NzMyMTk4"
local topic = "/subscriptions/4a6e1f3c-9d2b-4c8e-a1f0-7b3d5e9c2a18/resourceGroups/rg-bench"
	.. "/providers/Microsoft.Communication/communicationServices/acs-bench"

local function cloudevent(id, call)
	return fmt('{"id":"%s","source":"calling/callConnections/%s",'
		.. '"type":"Microsoft.Communication.CallConnected","specversion":"1.0",'
		.. '"datacontenttype":"application/json","time":"2025-06-16T20:52:32.9896642+00:00",'
		.. '"subject":"calling/callConnections/%s","data":{"callConnectionId":"%s",'
		.. '"serverCallId":"%s","correlationId":"%s","version":"2025-06-15",'
		.. '"publicEventType":"Microsoft.Communication.CallConnected"}}',
		id, call, call, call, server_call_id, call)
end

local function eventgrid(id, call)
	return fmt('{"id":"%s","topic":"%s","subject":"calling/callConnections/%s",'
		.. '"data":{"callConnectionId":"%s","serverCallId":"%s","correlationId":"%s",'
		.. '"version":"2025-06-15","publicEventType":"Microsoft.Communication.CallConnected"},'
		.. '"eventType":"Microsoft.Communication.CallConnected","dataVersion":"1.0",'
		.. '"metadataVersion":"1","eventTime":"2025-06-16T20:52:32.9896642Z"}',
		id, topic, call, call, server_call_id, call)
end

local make_event

function init(args)
	format = args[1] or "cloudevents"
	per_request = tonumber(args[2] or "1")
	nonce = args[3] or tostring(os.time())
	if format == "eventgrid" then
		make_event = eventgrid
	elseif format == "cloudevents" then
		make_event = cloudevent
	else
		error("post.lua: FORMAT must be cloudevents or eventgrid, not " .. format)
	end
	math.randomseed(os.time() * 1000 + tid)
end

local parts = {}

function request()
	for i = 1, per_request do
		if counter % 4 == 0 then
			call_id = guid()
		end
		counter = counter + 1
		parts[i] = make_event(fmt("%s-%d-%d", nonce, tid, counter), call_id)
	end
	local body
	if per_request == 1 then
		body = "[" .. parts[1] .. "]"
	else
		body = "[" .. concat(parts, ",", 1, per_request) .. "]"
	end
	return wrk.format("POST", "/events", headers, body)
end

function response(status, hdrs, body)
	if status == 200 then
		ok = ok + 1
		local a, d = body:match('"accepted":(%d+),"duplicates":(%d+)')
		if a then
			accepted = accepted + tonumber(a)
			duplicates = duplicates + tonumber(d)
		end
	else
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local t_ok, t_non2xx, t_acc, t_dup = 0, 0, 0, 0
	local n = 0
	for _, t in ipairs(threads) do
		t_ok = t_ok + (t:get("ok") or 0)
		t_non2xx = t_non2xx + (t:get("non2xx") or 0)
		t_acc = t_acc + (t:get("accepted") or 0)
		t_dup = t_dup + (t:get("duplicates") or 0)
		n = t:get("per_request") or n
	end
	local e = summary.errors
	io.write(fmt("BENCH requests=%d duration_us=%d ok=%d non2xx=%d accepted=%d duplicates=%d"
		.. " errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d events_per_request=%d\n",
		summary.requests, summary.duration, t_ok, t_non2xx, t_acc, t_dup,
		e.connect + e.read + e.write + e.timeout,
		latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, n))
end
