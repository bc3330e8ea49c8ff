-- 001_journal.sql: the journal, the source of truth.
-- One row per accepted event, written before the sender is answered.
-- Applied once at start-up; PRAGMA user_version records that it was.

CREATE TABLE events (
	id            INTEGER PRIMARY KEY,  -- journal sequence, in commit order
	received_at   TEXT    NOT NULL,     -- UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ"
	received_us   INTEGER NOT NULL,     -- the same, microseconds since the epoch
	format        TEXT    NOT NULL
	              CHECK (format IN ('preview', 'eventgrid', 'cloudevents')),
	event_type    TEXT    NOT NULL,     -- eventType / type, as sent
	event_id      TEXT,                 -- id, NULL when the sender gave none
	source        TEXT,                 -- CloudEvents source / Event Grid topic
	subject       TEXT,
	call_id       TEXT,                 -- data.CallLegId or data.callConnectionId
	event_time    TEXT,                 -- normalised UTC, from eventTime / time
	event_time_us INTEGER,
	remote_addr   TEXT,                 -- "ADDR:PORT" of the sender
	endpoint      TEXT,                 -- listener path it arrived on
	dedupe_key    BLOB    NOT NULL UNIQUE, -- SHA-256: source+id, topic+id or raw bytes
	raw           TEXT    NOT NULL      -- the event exactly as sent (valid JSON)
);

-- Per-call history in event-time order (events arrive out of order).
CREATE INDEX events_by_call ON events (call_id, event_time_us);

-- Small key/value facts about the store itself (write probes, versions).
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT
) WITHOUT ROWID;
