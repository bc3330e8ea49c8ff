-- 006_media.sql: play and recognize operations (handlers/media.c).
--
-- media_events keeps every media callback as sent; media_operations folds
-- them into one row per operation, recomputed from media_events on each
-- event, so the result depends neither on arrival order nor on replays.  An
-- operation is (call_id, kind, operation_context); an event without
-- operationContext (or with "") is an operation of its own
-- (operation_context NULL, keyed by first_event_id).  Media events of other
-- families (HoldAudio*, MediaStreaming*) are not handled: they are sessions,
-- not play/recognize operations.
--
-- Outcome of one event: 'started' for a ...Started type (or the preview's
-- Status "Running"/"NotStarted"); else 'cancelled' iff code 400 with subcode
-- 8508 or the type ends in Canceled (the preview says Status "Completed" when
-- it cancels; codes are matched, never the message, which the service
-- misspells); else 'failed' iff the type ends in Failed, the preview Status is
-- "Failed", or code >= 400; else 'completed'.
--
-- Folding: an operation's events in event-time order (a Started before a
-- terminal event of the same instant).  A Started after a terminal event
-- begins a new run (the app reused its operationContext); the row describes
-- the latest run, decided by its latest terminal event, else 'started'.  So a
-- PlayStarted that arrives after its PlayCompleted does not reopen it, and a
-- repeated PlayCompleted does not split it.

CREATE TABLE media_events (
	id                INTEGER PRIMARY KEY,
	call_id           TEXT,            -- data.CallLegId / data.callConnectionId (NULL: none)
	operation_context TEXT,            -- data.operationContext as sent; NULL when absent
	kind              TEXT    NOT NULL CHECK (kind IN ('play', 'recognize')),
	event_type        TEXT    NOT NULL, -- e.g. Microsoft.Communication.PlayCompleted
	outcome           TEXT    NOT NULL
	                  CHECK (outcome IN ('started', 'completed', 'failed', 'cancelled')),
	status            TEXT,            -- preview data.Status ("Completed", "Failed"), else NULL
	result_code       INTEGER,         -- resultInformation.code / ResultInfo.Code; NULL when absent
	result_subcode    INTEGER,         -- resultInformation.subCode / ResultInfo.Subcode
	result_message    TEXT,            -- resultInformation.message, as sent (may be "")
	recognition_type  TEXT,            -- RecognizeCompleted: "dtmf", "choices", "speech"...
	tones             TEXT,            -- dtmfResult.tones normalised and joined: "123#"
	choice_label      TEXT,            -- choiceResult.label
	recognized_phrase TEXT,            -- choiceResult.recognizedPhrase or speechResult.speech
	event_id          INTEGER NOT NULL UNIQUE REFERENCES events (id), -- journal row
	event_time        TEXT    NOT NULL, -- normalised UTC event time
	event_time_us     INTEGER NOT NULL  -- the same in microseconds since the epoch
);

-- The events of one operation.
CREATE INDEX media_events_by_op ON media_events (call_id, kind, operation_context, event_time_us);

CREATE TABLE media_operations (
	id                INTEGER PRIMARY KEY,
	call_id           TEXT,            -- the call it ran on (NULL: none)
	operation_context TEXT,            -- the app's operationContext; NULL: one event only
	kind              TEXT    NOT NULL CHECK (kind IN ('play', 'recognize')),
	started_at_us     INTEGER NOT NULL, -- the run's first event (its ...Started when there is one)
	ended_at_us       INTEGER,         -- the deciding terminal event's time; NULL while started
	outcome           TEXT    NOT NULL
	                  CHECK (outcome IN ('started', 'completed', 'failed', 'cancelled')),
	result_code       INTEGER,         -- of the deciding event
	result_subcode    INTEGER,         -- of the deciding event
	result_message    TEXT,            -- of the deciding event
	event_type        TEXT    NOT NULL, -- type of the deciding event (latest terminal, else latest)
	first_event_id    INTEGER NOT NULL REFERENCES events (id), -- the run's first event by event time
	last_event_id     INTEGER NOT NULL REFERENCES events (id)  -- the run's last event by event time
);

-- One row per named operation; unnamed ones are one per event.
CREATE UNIQUE INDEX media_operations_by_context
	ON media_operations (ifnull(call_id, ''), kind, operation_context)
	WHERE operation_context IS NOT NULL;
CREATE UNIQUE INDEX media_operations_unnamed ON media_operations (first_event_id)
	WHERE operation_context IS NULL;
CREATE INDEX media_operations_by_call ON media_operations (call_id, started_at_us);
