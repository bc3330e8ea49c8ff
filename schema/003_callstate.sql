-- 003_callstate.sql: call state, written by the callstate handler.
--
-- call_states is the history (one row per state event, keyed by its journal
-- row so replays add nothing); calls is recomputed from that history after
-- every event, so any arrival order yields the same calls row.  Sources:
-- preview CallLegStateChanged (data.CallState as sent) and GA CloudEvents
-- CallConnected (state 'Established') / CallDisconnected ('Terminated').
-- Times are event times (normalised UTC text + microseconds), never arrival.

-- One row per state event.
CREATE TABLE call_states (
	call_id         TEXT    NOT NULL,  -- data.CallLegId (preview) / data.callConnectionId (GA)
	state           TEXT    NOT NULL,  -- Establishing|Established|Terminating|Terminated, or as sent
	event_time      TEXT    NOT NULL,  -- UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" of the event
	event_time_us   INTEGER NOT NULL,  -- the same, microseconds since the epoch
	conversation_id TEXT,              -- data.ConversationId (preview; NULL while establishing)
	server_call_id  TEXT,              -- data.serverCallId (GA)
	correlation_id  TEXT,              -- data.correlationId (GA)
	event_id        INTEGER NOT NULL UNIQUE REFERENCES events (id) -- journal row
);

-- A call's history in event-time order.
CREATE INDEX call_states_by_call ON call_states (call_id, event_time_us);

-- One row per call: a summary of its call_states rows.
CREATE TABLE calls (
	call_id         TEXT    PRIMARY KEY, -- call leg id (preview) / call connection id (GA)
	first_seen_at   TEXT    NOT NULL,    -- UTC event time of its earliest state event
	first_seen_us   INTEGER NOT NULL,    -- the same in microseconds
	established_at  TEXT,                -- earliest Established / CallConnected; NULL: none yet
	established_us  INTEGER,
	ended_at        TEXT,                -- earliest Terminated / CallDisconnected; NULL: none yet
	ended_us        INTEGER,
	state           TEXT    NOT NULL,    -- state of the latest event by event time (ties: the
	                                     -- later state in the lifecycle)
	state_time_us   INTEGER NOT NULL,    -- event time of that latest event
	conversation_id TEXT,                -- first non-NULL by event time
	server_call_id  TEXT,                -- first non-NULL by event time
	correlation_id  TEXT,                -- first non-NULL by event time
	first_event_id  INTEGER NOT NULL REFERENCES events (id), -- journal row of the earliest event
	last_event_id   INTEGER NOT NULL REFERENCES events (id), -- journal row of the latest event
	updated_at      TEXT    NOT NULL     -- UTC wall clock of the last recomputation
);

-- Reports list calls by start time.
CREATE INDEX calls_by_first_seen ON calls (first_seen_us);
