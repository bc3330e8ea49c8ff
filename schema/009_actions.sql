-- 009_actions.sql: the action outbox (src/actions.c, callhookd-handler(3)).
--
-- A handler's play_audio, cancel_media, hangup, invite and
-- remove_participant calls each insert one row here inside the delivery's
-- own transaction, so a delivery that is rolled back queues nothing.  The
-- n-th action a handler queues for a journal row is keyed by
-- (handler, event_id, ordinal) and inserted with INSERT OR IGNORE: a retry or
-- a replay of the same row finds it there and queues nothing again.  The
-- daemon's action sender sends pending rows after the commit, oldest first
-- and one call's actions in order, and settles each as 'sent' (2xx) or
-- 'failed' (a 4xx other than 408 and 429 at once; network errors, 408, 429
-- and 5xx after [actions] max_attempts sends).

CREATE TABLE actions (
	id              INTEGER PRIMARY KEY,   -- queue order
	handler         TEXT    NOT NULL,      -- [handler NAME] that queued it
	event_id        INTEGER NOT NULL REFERENCES events (id), -- the journal row being handled
	ordinal         INTEGER NOT NULL,      -- 1 for the handler's first action on that row, 2...
	call_id         TEXT    NOT NULL,      -- the call it acts on
	kind            TEXT    NOT NULL CHECK (kind IN ('play_audio', 'cancel_media', 'hangup',
	                                                 'invite', 'remove_participant')),
	method          TEXT    NOT NULL CHECK (method IN ('POST', 'DELETE')),
	path            TEXT    NOT NULL,      -- e.g. /calling/calls/ID/PlayAudio; ?api-version= added when sent
	body            TEXT,                  -- the JSON request body; NULL: none
	state           TEXT    NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'sent', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0, -- sends tried, counted before each send
	next_attempt_us INTEGER NOT NULL DEFAULT 0, -- pending after a retryable failure: not before this
	http_status     INTEGER,               -- status of the last answer; NULL: none (network error)
	response        TEXT,                  -- the last answer's body, at most 4096 bytes
	last_error      TEXT,                  -- why the last send did not succeed; NULL when it did
	created_at      TEXT    NOT NULL,      -- UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ", when queued
	sent_at         TEXT,                  -- UTC, when the service accepted it (2xx)
	updated_at      TEXT    NOT NULL,      -- UTC, last change
	UNIQUE (handler, event_id, ordinal)
);

-- What the sender looks for: pending rows, by queue order and per call.
CREATE INDEX actions_pending ON actions (id) WHERE state = 'pending';
CREATE INDEX actions_pending_call ON actions (call_id, id) WHERE state = 'pending';
CREATE INDEX actions_by_call ON actions (call_id, id);

-- How the actions went, per handler and kind (callhookctl-free sqlite3 queries).
CREATE VIEW report_action_outcomes AS
SELECT
	handler,
	kind,
	state,                            -- pending|sent|failed
	count(*) AS actions,
	sum(attempts) AS attempts,
	max(updated_at) AS last_at        -- latest change among them
FROM actions
GROUP BY handler, kind, state;
