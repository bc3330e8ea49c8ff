-- 007_invite.sql: results of inviting, adding and removing participants
-- (handlers/invite.c).
--
-- One invites row per result event: the 2021 preview InviteParticipantResult
-- and the GA Add/Remove/CancelAdd Participant Succeeded/Failed.  The outcome
-- comes from the type name (a Succeeded type may carry a non-200 code, e.g.
-- CancelAddParticipantSucceeded 487/5234: the codes are kept as sent); the
-- preview type has none, so there Status "Failed" or code >= 400 means failed.

CREATE TABLE invites (
	id                INTEGER PRIMARY KEY,
	call_id           TEXT,            -- data.CallLegId / data.callConnectionId (NULL: none)
	operation_context TEXT,            -- data.operationContext; NULL when absent
	action            TEXT    NOT NULL CHECK (action IN ('invite', 'add', 'remove', 'cancel_add')),
	outcome           TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
	status            TEXT,            -- preview data.Status ("Completed"...), else NULL
	result_code       INTEGER,         -- resultInformation.code / ResultInfo.Code; NULL when absent
	result_subcode    INTEGER,         -- resultInformation.subCode / ResultInfo.Subcode
	result_message    TEXT,            -- resultInformation.message, as sent
	invitation_id     TEXT,            -- data.invitationId (GA add / cancel add), else NULL
	event_type        TEXT    NOT NULL, -- the event's type
	event_id          INTEGER NOT NULL UNIQUE REFERENCES events (id), -- journal row
	event_time        TEXT    NOT NULL, -- normalised UTC event time
	event_time_us     INTEGER NOT NULL  -- the same in microseconds since the epoch
);

-- The same result redelivered under another journal row (the sender
-- retried; FORMATS.md section 1): same call, type, context and instant.  The
-- handler inserts ON CONFLICT DO NOTHING: the first one journaled is kept.
CREATE UNIQUE INDEX invites_once
	ON invites (ifnull(call_id, ''), event_type, ifnull(operation_context, ''), event_time_us);
CREATE INDEX invites_by_call ON invites (call_id, event_time_us);
CREATE INDEX invites_by_context ON invites (call_id, operation_context);

-- The participants an invites row names: preview data.Participants[] or GA
-- data.participant.
CREATE TABLE invite_participants (
	event_id        INTEGER NOT NULL REFERENCES events (id), -- journal row (= invites.event_id)
	participant_key TEXT    NOT NULL,  -- rawId, else user id, else "4:"+phone, else teams user id
	call_id         TEXT,              -- as in invites
	kind            TEXT,              -- communicationUser|phoneNumber|microsoftTeamsUser|unknown
	raw_id          TEXT,              -- rawId as sent
	user_id         TEXT,              -- communicationUser.id
	phone_number    TEXT,              -- phoneNumber.value
	teams_user_id   TEXT,              -- microsoftTeamsUser.userId
	event_time      TEXT    NOT NULL,  -- as in invites
	event_time_us   INTEGER NOT NULL,  -- as in invites
	PRIMARY KEY (event_id, participant_key)
) WITHOUT ROWID;

CREATE INDEX invite_participants_by_key ON invite_participants (participant_key, event_time_us);
