-- 010_ivr.sql: the ivr handler's calls, tones and choices (handlers/ivr.c).
--
-- The ivr plays a prompt when a call is established, collects DTMF tones
-- into one choice, plays a confirmation and hangs up once it has played.
-- ivr_calls holds each step once, with the journal row that decided it:
-- a step is taken by the first event that finds it not taken yet, so a
-- redelivered event (a new journal row for the same Established, say) finds
-- it taken and queues nothing, and a replayed one (the same journal row)
-- changes nothing.  ivr_tones keeps the tones by sequence id, so the choice
-- is the same whatever order they arrive in.

CREATE TABLE ivr_calls (
	call_id                 TEXT    PRIMARY KEY, -- call leg id (preview) / call connection id (GA)
	first_event_id          INTEGER NOT NULL REFERENCES events (id), -- the event that made the row
	-- The prompt: queued by the first Established / CallConnected, unless the
	-- call had ended or the choice was complete by then.
	prompt_event_id         INTEGER REFERENCES events (id), -- the Established that queued it; NULL: not
	prompt_result_event_id  INTEGER REFERENCES events (id), -- its first final play result
	prompt_outcome          TEXT CHECK (prompt_outcome IN ('completed', 'failed', 'cancelled')),
	-- The choice: the tones from sequence id 0 or 1 on, without a gap, up to the
	-- terminator (not part of digits) or max_digits digits.
	digits                  TEXT,              -- e.g. "12"; NULL while incomplete
	completed_by            TEXT CHECK (completed_by IN ('terminator', 'max_digits')),
	completed_at            TEXT,              -- UTC event time of the tone that completed it
	completed_us            INTEGER,           -- the same in microseconds
	completed_event_id      INTEGER REFERENCES events (id), -- that tone's journal row
	prompt_cancel_queued    INTEGER NOT NULL DEFAULT 0, -- 1: the prompt could still play, cancelled
	confirm_queued          INTEGER NOT NULL DEFAULT 0, -- 1: the confirmation prompt was queued
	-- The confirmation's first final result, and the hangup it queued.
	confirm_result_event_id INTEGER REFERENCES events (id),
	confirm_outcome         TEXT CHECK (confirm_outcome IN ('completed', 'failed', 'cancelled')),
	hangup_event_id         INTEGER REFERENCES events (id), -- the result that queued the hangup
	-- The first Terminating / Terminated / CallDisconnected: no action after it.
	ended_at                TEXT,
	ended_event_id          INTEGER REFERENCES events (id)
);

-- One row per tone event of any call; the choice is read from them.
CREATE TABLE ivr_tones (
	id            INTEGER PRIMARY KEY,
	call_id       TEXT    NOT NULL,
	sequence_id   INTEGER,           -- toneInfo.sequenceId; NULL when absent
	tone          TEXT,              -- '0'..'9', '*', '#', 'A'..'D'; NULL when not understood
	event_id      INTEGER NOT NULL UNIQUE REFERENCES events (id), -- journal row
	event_time_us INTEGER NOT NULL,  -- event time, orders tones without a sequence id
	-- A sequence id seen before in the call is a redelivery: the first is kept.
	UNIQUE (call_id, sequence_id)
);

-- What the callers chose: one row per call with a complete choice.
CREATE VIEW ivr_choices AS
SELECT
	call_id,
	digits,                           -- the choice, without the terminator
	completed_by,                     -- terminator|max_digits
	completed_at,                     -- UTC event time of the tone that completed it
	completed_event_id AS event_id,   -- that tone's journal row
	confirm_outcome,                  -- the confirmation prompt: completed|failed|cancelled; NULL: not yet
	hangup_event_id IS NOT NULL AS hung_up, -- 1: the ivr queued the hangup
	completed_us
FROM ivr_calls
WHERE completed_event_id IS NOT NULL;
