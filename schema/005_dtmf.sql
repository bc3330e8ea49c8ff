-- 005_dtmf.sql: DTMF tones received on a call (handlers/dtmf.c).
--
-- One row per tone event: the 2021 preview DtmfReceived, GA ToneReceived and
-- GA ContinuousDtmfRecognitionToneReceived.  ContinuousDtmfRecognitionTone-
-- Failed/Stopped carry no tone and are not recorded here (the journal keeps
-- them).  Reports list a call's tones ORDER BY sequence_id, event_time_us.

CREATE TABLE dtmf_tones (
	id             INTEGER PRIMARY KEY,
	call_id        TEXT,               -- data.CallLegId / data.callConnectionId (NULL: none)
	sequence_id    INTEGER,            -- toneInfo.sequenceId; NULL when absent
	tone           TEXT,               -- normalised: '0'..'9', '*', '#', 'A'..'D'; NULL if unknown
	tone_raw       TEXT,               -- the tone exactly as sent ("Tone1", "pound", "5")
	participant_id TEXT,               -- toneInfo.participantId / data.participantId (GA), or NULL
	event_type     TEXT    NOT NULL,   -- the event's type, e.g. Microsoft.Communication.ToneReceived
	event_id       INTEGER NOT NULL UNIQUE REFERENCES events (id), -- journal row: one tone per event
	event_time     TEXT    NOT NULL,   -- normalised UTC event time
	event_time_us  INTEGER NOT NULL,   -- the same in microseconds since the epoch
	-- The same sequence id twice in one call is a redelivery: the first one
	-- journaled is kept (NULLs never collide, so tones without ids all stay).
	-- Its index also serves "tones of a call in sequence order".
	UNIQUE (call_id, sequence_id)
);

-- Tones of a call in event-time order (tones without a sequence id).
CREATE INDEX dtmf_tones_by_time ON dtmf_tones (call_id, event_time_us);
