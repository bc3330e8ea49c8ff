-- 002_delivery.sql: handler delivery state (at-least-once, from the journal).
--
-- The journal stays the source of truth; these tables say, per handler, how
-- far it has got.  A handler's worker first records a 'pending' delivery for
-- each new journal row whose type matches the handler's patterns (advancing
-- handlers.cursor in the same transaction), counts an attempt *before* it
-- runs the handler (so a handler that crashes the process is quarantined
-- after max_attempts instead of crash-looping), then commits the handler's
-- derived rows together with the 'done' mark.

-- The handlers the daemon has loaded (written at start-up and reload), for
-- callhookctl handlers and the backlog views.
CREATE TABLE handlers (
	name        TEXT PRIMARY KEY,         -- [handler NAME]
	module      TEXT NOT NULL,            -- the shared object it was loaded from
	version     TEXT,                     -- the module's own version
	description TEXT,
	event_types TEXT NOT NULL,            -- space-separated patterns
	cursor      INTEGER NOT NULL DEFAULT 0, -- every journal row <= cursor is in deliveries
	loaded_at   TEXT,                     -- UTC, last time a daemon loaded it
	active      INTEGER NOT NULL DEFAULT 1 -- 0: configured before, not loaded now
) WITHOUT ROWID;

CREATE TABLE deliveries (
	handler         TEXT    NOT NULL,
	event_id        INTEGER NOT NULL REFERENCES events (id),
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'dead')),
	attempts        INTEGER NOT NULL DEFAULT 0, -- counted before each run
	last_error      TEXT,
	next_attempt_us INTEGER NOT NULL DEFAULT 0, -- failed: not before this (backoff)
	updated_at      TEXT    NOT NULL,           -- UTC, last change of state
	PRIMARY KEY (handler, event_id)
) WITHOUT ROWID;

-- What a worker looks for: the open deliveries of its handler, oldest first.
CREATE INDEX deliveries_open ON deliveries (handler, event_id)
	WHERE state IN ('pending', 'failed');
CREATE INDEX deliveries_dead ON deliveries (handler, event_id) WHERE state = 'dead';
