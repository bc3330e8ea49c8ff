-- 004_participants.sql: participants, written by the participants handler.
--
-- Every ParticipantsUpdated carries the call's FULL current list: it is stored
-- as a snapshot (participant_snapshots + participant_snapshot_members, keyed by
-- its journal row).  participant_events and participants are derived from the
-- chain of a call's snapshots in event-time order (ties: sequence_number, then
-- event_id) and re-derived when an earlier snapshot arrives late, so any
-- arrival order yields the same rows.  Peak size of a call:
-- SELECT MAX(participant_count) FROM participant_snapshots WHERE call_id = ?.

-- One row per ParticipantsUpdated event.
CREATE TABLE participant_snapshots (
	event_id          INTEGER NOT NULL PRIMARY KEY REFERENCES events (id), -- journal row
	call_id           TEXT    NOT NULL, -- data.CallLegId / data.callConnectionId
	event_time        TEXT    NOT NULL, -- UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" of the event
	event_time_us     INTEGER NOT NULL, -- the same, microseconds since the epoch
	sequence_number   INTEGER,          -- data.sequenceNumber (GA 2023+), NULL when absent
	participant_count INTEGER NOT NULL  -- members stored for this snapshot
);

-- A call's snapshot chain, in the order derivation walks it.
CREATE INDEX participant_snapshots_by_call
	ON participant_snapshots (call_id, event_time_us, sequence_number, event_id);

-- The members of each snapshot.
CREATE TABLE participant_snapshot_members (
	event_id        INTEGER NOT NULL REFERENCES events (id), -- the snapshot's journal row
	participant_key TEXT    NOT NULL, -- stable identity: rawId, else the kind's raw form
	                                  -- ("8:acs:...", "4:+1555...", "8:orgid:..."), else
	                                  -- the preview ParticipantId
	kind            TEXT    NOT NULL
	                CHECK (kind IN ('communicationUser', 'phoneNumber', 'microsoftTeamsUser',
	                                'unknown')),
	user_id         TEXT,             -- communicationUser.id
	phone_number    TEXT,             -- phoneNumber.value, e.g. "+15551234567"
	teams_user_id   TEXT,             -- microsoftTeamsUser.userId
	raw_id          TEXT,             -- identifier rawId as sent
	participant_id  TEXT,             -- preview ParticipantId
	is_muted        INTEGER,          -- 0/1; NULL when not reported (bare identifiers)
	is_on_hold      INTEGER,          -- 0/1; NULL when not reported (GA 2025+ only)
	PRIMARY KEY (event_id, participant_key)
) WITHOUT ROWID;

-- Join / leave / mute / unmute, found by diffing each snapshot against the
-- previous one of the same call.  The first snapshot of a call yields one
-- join per member; a member already muted when it appears is not a 'mute'.
CREATE TABLE participant_events (
	call_id         TEXT    NOT NULL,
	participant_key TEXT    NOT NULL, -- participant_snapshot_members.participant_key
	action          TEXT    NOT NULL CHECK (action IN ('join', 'leave', 'mute', 'unmute')),
	event_time_us   INTEGER NOT NULL, -- event time of the snapshot that revealed it
	event_time      TEXT    NOT NULL, -- the same as UTC text
	event_id        INTEGER NOT NULL REFERENCES events (id), -- that snapshot's journal row
	UNIQUE (event_id, participant_key, action)
);

-- A call's participant history in event-time order.
CREATE INDEX participant_events_by_call ON participant_events (call_id, event_time_us);

-- Everyone ever seen in each call, with the state of the call's latest snapshot.
CREATE TABLE participants (
	call_id         TEXT    NOT NULL,
	participant_key TEXT    NOT NULL, -- as in participant_snapshot_members
	kind            TEXT    NOT NULL, -- from the latest snapshot listing this participant
	user_id         TEXT,             -- ditto
	phone_number    TEXT,
	teams_user_id   TEXT,
	raw_id          TEXT,
	participant_id  TEXT,
	is_muted        INTEGER,          -- 0/1/NULL, as last listed
	joined_at       TEXT,             -- UTC event time of the first join
	joined_at_us    INTEGER NOT NULL, -- the same in microseconds
	left_at         TEXT,             -- UTC event time of the last leave; NULL while present
	left_at_us      INTEGER,
	present         INTEGER NOT NULL CHECK (present IN (0, 1)), -- in the latest snapshot
	event_id        INTEGER NOT NULL REFERENCES events (id), -- latest snapshot listing it
	PRIMARY KEY (call_id, participant_key)
) WITHOUT ROWID;
