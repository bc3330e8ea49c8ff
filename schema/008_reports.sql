-- 008_reports.sql: reporting views over the journal and the derived tables.
--
-- What `callhookctl report` prints, and what operators query with sqlite3.
-- Views only: they hold no data, so they are always as current as the
-- tables under them and never need a replay.  Times are UTC text
-- "YYYY-MM-DDTHH:MM:SS.ffffffZ" like everywhere else; each view also keeps
-- the microsecond column(s) (*_us) that filters and ordering use.
-- Nothing here orders rows: ORDER BY in the query that reads a view.

-- One row per call (the callstate handler's calls table), with how long it
-- lasted and how many people were in it at most.
CREATE VIEW report_calls AS
SELECT
	c.call_id,                        -- call leg id (preview) / call connection id (GA)
	c.first_seen_at AS started_at,    -- earliest state event (Establishing, or Established)
	c.established_at,                 -- earliest Established / CallConnected; NULL: never
	c.ended_at,                       -- earliest Terminated / CallDisconnected; NULL: ongoing
	round((c.ended_us - c.first_seen_us) / 1e6, 3) AS duration_s, -- NULL while ongoing
	c.state AS final_state,           -- state of the latest state event by event time
	(SELECT max(s.participant_count) FROM participant_snapshots s
	 WHERE s.call_id = c.call_id) AS peak_participants, -- largest participant list; NULL: none seen
	c.conversation_id,                -- preview ConversationId
	c.correlation_id,                 -- GA correlationId
	c.first_seen_us AS started_us,    -- started_at in microseconds
	c.ended_us                        -- ended_at in microseconds
FROM calls c;

-- Who joined, left, muted and unmuted, per call, in event time.
CREATE VIEW report_participants AS
SELECT
	e.call_id,
	e.event_time,                     -- event time of the snapshot that showed the change
	e.participant_key,                -- rawId, else the identifier's raw form, else ParticipantId
	p.kind,                           -- communicationUser|phoneNumber|microsoftTeamsUser|unknown
	e.action,                         -- join|leave|mute|unmute
	e.event_id,                       -- journal row of that snapshot (callhookctl events show)
	e.event_time_us
FROM participant_events e
LEFT JOIN participants p ON p.call_id = e.call_id AND p.participant_key = e.participant_key;

-- Every DTMF tone, for per-tone queries.
CREATE VIEW report_dtmf_tones AS
SELECT
	call_id,
	sequence_id,                      -- toneInfo.sequenceId; NULL when absent
	tone,                             -- '0'..'9', '*', '#', 'A'..'D'; NULL when unknown
	tone_raw,                         -- as sent ("Tone1", "pound")
	participant_id,
	event_time,
	event_id,                         -- journal row
	event_time_us
FROM dtmf_tones;

-- The tones of each call as one string, in sequence order (tones without a
-- sequence id after those with one, by event time).  A window function, not
-- group_concat over a sorted subquery, because only the window's ORDER BY
-- is guaranteed to decide the order of the concatenation.
CREATE VIEW report_dtmf AS
SELECT
	call_id,
	tones,                            -- e.g. "1234#"; '?' for a tone that was not understood
	tone_count,                       -- tones received
	first_at,                         -- event time of the first tone
	last_at,                          -- event time of the last tone
	first_us,
	last_us
FROM (
	SELECT
		call_id,
		group_concat(coalesce(tone, '?'), '') OVER w AS tones,
		count(*) OVER w AS tone_count,
		min(event_time) OVER w AS first_at,
		max(event_time) OVER w AS last_at,
		min(event_time_us) OVER w AS first_us,
		max(event_time_us) OVER w AS last_us,
		row_number() OVER w AS n
	FROM dtmf_tones
	WINDOW w AS (PARTITION BY call_id
	             ORDER BY sequence_id IS NULL, sequence_id, event_time_us, event_id
	             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
WHERE n = 1;

-- How each play / recognize operation ended.  media_operations keeps only
-- microseconds; the text form is computed here (floor division, so that
-- times before 1970 print correctly too).
CREATE VIEW report_media AS
SELECT
	call_id,
	operation_context,                -- the app's operationContext; NULL: a single unnamed event
	kind,                             -- play|recognize
	outcome,                          -- started|completed|failed|cancelled
	result_code AS code,              -- resultInformation.code of the deciding event
	result_subcode AS subcode,
	result_message AS message,        -- as sent (the service misspells some: match codes)
	strftime('%Y-%m-%dT%H:%M:%S',
	         (started_at_us - ((started_at_us % 1000000) + 1000000) % 1000000) / 1000000,
	         'unixepoch')
	    || printf('.%06dZ', ((started_at_us % 1000000) + 1000000) % 1000000)
	    AS started_at,                -- the operation's first event
	strftime('%Y-%m-%dT%H:%M:%S',
	         (ended_at_us - ((ended_at_us % 1000000) + 1000000) % 1000000) / 1000000,
	         'unixepoch')
	    || printf('.%06dZ', ((ended_at_us % 1000000) + 1000000) % 1000000)
	    AS ended_at,                  -- its deciding terminal event; NULL while running
	event_type,                       -- type of the deciding event
	started_at_us AS started_us,
	ended_at_us AS ended_us
FROM media_operations;

-- Activity per UTC day: calls by the day they started, tones and failed
-- media operations by the day they happened.  A day with any of the three
-- has a row.
CREATE VIEW report_daily AS
WITH
	c AS (SELECT (first_seen_us - ((first_seen_us % 86400000000) + 86400000000)
	              % 86400000000) / 86400000000 AS d,
	             count(*) AS calls, count(ended_us) AS completed,
	             avg((ended_us - first_seen_us) / 1e6) AS avg_duration_s
	      FROM calls GROUP BY d),
	t AS (SELECT (event_time_us - ((event_time_us % 86400000000) + 86400000000)
	              % 86400000000) / 86400000000 AS d,
	             count(*) AS tones
	      FROM dtmf_tones GROUP BY d),
	m AS (SELECT (started_at_us - ((started_at_us % 86400000000) + 86400000000)
	              % 86400000000) / 86400000000 AS d,
	             count(*) AS failed
	      FROM media_operations WHERE outcome = 'failed' GROUP BY d),
	days AS (SELECT d FROM c UNION SELECT d FROM t UNION SELECT d FROM m)
SELECT
	date(days.d * 86400, 'unixepoch') AS day, -- "YYYY-MM-DD" (UTC)
	coalesce(c.calls, 0) AS calls,            -- calls that started that day
	coalesce(c.completed, 0) AS completed,    -- of those, the ones that have ended
	round(c.avg_duration_s, 3) AS avg_duration_s, -- mean duration of the ended ones; NULL: none
	coalesce(t.tones, 0) AS tones,            -- DTMF tones received that day
	coalesce(m.failed, 0) AS failed_media,    -- play/recognize operations that failed
	days.d * 86400000000 AS day_us            -- the day's UTC midnight in microseconds
FROM days
LEFT JOIN c ON c.d = days.d
LEFT JOIN t ON t.d = days.d
LEFT JOIN m ON m.d = days.d;

-- Per handler: where its deliveries stand.  unqueued counts journal rows the
-- handler's worker has not yet looked at (ids are dense: no row is ever
-- deleted); backlog is everything still to do, 0 when it has caught up.
CREATE VIEW handler_backlog AS
SELECT
	handler,
	active,                           -- 1: loaded by the running daemon
	cursor,                           -- journal rows <= cursor are enqueued
	unqueued,                         -- journal rows past the cursor
	pending,                          -- enqueued, not yet run (or set back by dead retry)
	failed,                           -- failed for now, waiting for their retry
	dead,                             -- given up: see dead_deliveries
	done,                             -- handled
	unqueued + pending + failed AS backlog
FROM (
	SELECT
		h.name AS handler,
		h.active,
		h.cursor,
		max(0, coalesce((SELECT max(id) FROM events), 0) - h.cursor) AS unqueued,
		(SELECT count(*) FROM deliveries d
		 WHERE d.handler = h.name AND d.state = 'pending') AS pending,
		(SELECT count(*) FROM deliveries d
		 WHERE d.handler = h.name AND d.state = 'failed') AS failed,
		(SELECT count(*) FROM deliveries d
		 WHERE d.handler = h.name AND d.state = 'dead') AS dead,
		(SELECT count(*) FROM deliveries d
		 WHERE d.handler = h.name AND d.state = 'done') AS done
	FROM handlers h
);

-- Deliveries a handler gave up on, with the event they were for; `callhookctl
-- dead retry` sets them back to pending.
CREATE VIEW dead_deliveries AS
SELECT
	d.handler,
	d.event_id,                       -- journal row
	e.event_type,
	e.call_id,
	d.attempts,                       -- attempts made
	d.last_error,                     -- why the last one failed
	d.updated_at                      -- when it was marked dead (UTC)
FROM deliveries d
JOIN events e ON e.id = d.event_id
WHERE d.state = 'dead';
