/* invite.c - results of inviting, adding and removing participants, into
 * invites and invite_participants (schema/007_invite.sql).
 *
 * Shapes: the 2021 preview InviteParticipantResult (data.OperationContext,
 * data.Status, data.ResultInfo or null, data.Participants[] of bare
 * identifiers with explicit nulls) and the GA Add/Remove/CancelAdd
 * Participant Succeeded/Failed (data.participant, data.resultInformation,
 * data.operationContext, data.invitationId).  Paths are case-insensitive.
 *
 * Outcome: from the type name when it has one, because the service sends
 * Succeeded types with non-200 codes (CancelAddParticipantSucceeded 487/5234
 * means the add was cancelled, i.e. the cancel worked); the codes are stored
 * as sent.  The preview type has no such word: there Status "Failed" or a
 * code >= 400 means failed.
 *
 * Idempotence: one invites row per journal row (UNIQUE event_id) and one per
 * logical result (index invites_once); participants are keyed by (event_id,
 * participant_key) and written only with the event's own invites row, so a
 * redelivered result adds nothing.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "module_common.h"

#define ID_MAX           1024 /* ids, contexts, numbers: GUID-sized in practice */
#define TEXT_MAX         4096 /* result messages */
#define PARTICIPANTS_MAX 256  /* identifiers kept from one event */

static const struct ch_host *host;

enum stmt { INSERT_INVITE, INSERT_PARTICIPANT, N_STMTS };

/* Prefix patterns: the host caps a descriptor at four.  handle() acts only
 * on the types in known_types. */
static const char *const event_types[] = {
    "Microsoft.Communication.InviteParticipantResult",
    "Microsoft.Communication.AddParticipant*",
    "Microsoft.Communication.RemoveParticipant*",
    "Microsoft.Communication.CancelAddParticipant*",
    NULL,
};

/* By name after "Microsoft.Communication."; outcome NULL: from status/code. */
static const struct {
	const char *name, *action, *outcome;
} known_types[] = {
    {"InviteParticipantResult", "invite", NULL},
    {"AddParticipantSucceeded", "add", "succeeded"},
    {"AddParticipantFailed", "add", "failed"},
    {"RemoveParticipantSucceeded", "remove", "succeeded"},
    {"RemoveParticipantFailed", "remove", "failed"},
    {"CancelAddParticipantSucceeded", "cancel_add", "succeeded"},
    {"CancelAddParticipantFailed", "cancel_add", "failed"},
};

static const char *const sql[N_STMTS] = {
    [INSERT_INVITE] =
        "INSERT INTO invites (call_id, operation_context, action, outcome, status,"
        " result_code, result_subcode, result_message, invitation_id, event_type, event_id,"
        " event_time, event_time_us)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        " ON CONFLICT DO NOTHING",
    [INSERT_PARTICIPANT] =
        "INSERT INTO invite_participants (event_id, participant_key, call_id, kind,"
        " raw_id, user_id, phone_number, teams_user_id, event_time, event_time_us)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT DO NOTHING",
};

/* --- small helpers ------------------------------------------------------- */

static int known_index(const char *type)
{
	static const char prefix[] = "Microsoft.Communication.";

	if (strncmp(type, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	type += sizeof(prefix) - 1;
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++) {
		if (strcmp(type, known_types[i].name) == 0)
			return (int)i;
	}
	return -1;
}

/* --- the result row ------------------------------------------------------ */

struct result {
	const char *status, *message;
	bool has_code, has_subcode;
	int64_t code, subcode;
};

static void read_result(const struct ch_value *data, struct result *r)
{
	const struct ch_value *info = host->get(data, "resultInformation");

	if (host->type(info) != CH_VALUE_OBJECT)
		info = host->get(data, "resultInfo"); /* the preview's ResultInfo, often null */
	r->status = host->str(data, "status");
	r->has_code = host->int64(info, "code", &r->code);
	r->has_subcode = host->int64(info, "subCode", &r->subcode);
	r->message = host->str(info, "message");
}

static const char *preview_outcome(const struct result *r)
{
	if ((r->status != NULL && strcasecmp(r->status, "Failed") == 0) ||
	    (r->has_code && r->code >= 400))
		return "failed";
	return "succeeded";
}

static int insert_invite(struct hm_state *s, const struct ch_event *ev, int known)
{
	const struct ch_value *data = host->event_data(ev);
	sqlite3_stmt *st = s->stmt[INSERT_INVITE];
	const char *outcome = known_types[known].outcome;
	const char *context = host->str(data, "operationContext");
	struct result r;

	read_result(data, &r);
	if (outcome == NULL)
		outcome = preview_outcome(&r);
	hm_bind_text(st, 1, host->event_call_id(ev), ID_MAX);
	hm_bind_text(st, 2, context, ID_MAX);
	hm_bind_text(st, 3, known_types[known].action, ID_MAX);
	hm_bind_text(st, 4, outcome, ID_MAX);
	hm_bind_text(st, 5, r.status, ID_MAX);
	hm_bind_opt_int(st, 6, r.has_code, r.code);
	hm_bind_opt_int(st, 7, r.has_subcode, r.subcode);
	hm_bind_text(st, 8, r.message, TEXT_MAX);
	hm_bind_text(st, 9, host->str(data, "invitationId"), ID_MAX);
	hm_bind_text(st, 10, host->event_type(ev), ID_MAX);
	sqlite3_bind_int64(st, 11, host->event_id(ev));
	hm_bind_text(st, 12, host->event_time(ev), ID_MAX);
	sqlite3_bind_int64(st, 13, host->event_time_us(ev));
	return hm_run(st);
}

/* --- participants -------------------------------------------------------- */

struct identifier {
	const char *kind, *raw_id, *user_id, *phone, *teams_id;
	char key[ID_MAX + 3]; /* "4:" + phone needs room of its own */
};

/* The GA "kind" of an identifier sent without one (the preview never sends
 * it; GA may send only rawId): from the member present, else the rawId
 * prefix. */
static const char *derive_kind(const struct identifier *id)
{
	static const struct {
		const char *prefix, *kind;
	} prefixes[] = {
	    {"4:", "phoneNumber"},
	    {"8:acs:", "communicationUser"},
	    {"8:orgid:", "microsoftTeamsUser"},
	    {"8:teamsvisitor:", "microsoftTeamsUser"},
	};

	if (id->user_id != NULL)
		return "communicationUser";
	if (id->phone != NULL)
		return "phoneNumber";
	if (id->teams_id != NULL)
		return "microsoftTeamsUser";
	for (size_t i = 0; id->raw_id != NULL && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(id->raw_id, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0)
			return prefixes[i].kind;
	}
	return "unknown";
}

/* Read one identifier; false when it names nobody. */
static bool read_identifier(const struct ch_value *v, struct identifier *id)
{
	const struct ch_value *inner = host->get(v, "identifier");

	if (host->type(inner) == CH_VALUE_OBJECT)
		v = inner; /* {identifier, isMuted} wrappers, as in ParticipantsUpdated */
	memset(id, 0, sizeof(*id));
	id->raw_id = host->str(v, "rawId");
	id->user_id = host->str(v, "communicationUser.id");
	id->phone = host->str(v, "phoneNumber.value");
	id->teams_id = host->str(v, "microsoftTeamsUser.userId");
	id->kind = host->str(v, "kind");
	if (id->kind == NULL)
		id->kind = derive_kind(id);
	if (id->raw_id != NULL && id->raw_id[0] != '\0')
		snprintf(id->key, sizeof(id->key), "%.*s", ID_MAX, id->raw_id);
	else if (id->user_id != NULL && id->user_id[0] != '\0')
		snprintf(id->key, sizeof(id->key), "%.*s", ID_MAX, id->user_id);
	else if (id->phone != NULL && id->phone[0] != '\0')
		snprintf(id->key, sizeof(id->key), "4:%.*s", ID_MAX, id->phone);
	else if (id->teams_id != NULL && id->teams_id[0] != '\0')
		snprintf(id->key, sizeof(id->key), "%.*s", ID_MAX, id->teams_id);
	return id->key[0] != '\0';
}

static int insert_participant(struct hm_state *s, const struct ch_event *ev,
                              const struct ch_value *v)
{
	sqlite3_stmt *st = s->stmt[INSERT_PARTICIPANT];
	struct identifier id;

	if (!read_identifier(v, &id))
		return SQLITE_OK; /* an identifier naming nobody: nothing to key it by */
	sqlite3_bind_int64(st, 1, host->event_id(ev));
	hm_bind_text(st, 2, id.key, sizeof(id.key));
	hm_bind_text(st, 3, host->event_call_id(ev), ID_MAX);
	hm_bind_text(st, 4, id.kind, ID_MAX);
	hm_bind_text(st, 5, id.raw_id, ID_MAX);
	hm_bind_text(st, 6, id.user_id, ID_MAX);
	hm_bind_text(st, 7, id.phone, ID_MAX);
	hm_bind_text(st, 8, id.teams_id, ID_MAX);
	hm_bind_text(st, 9, host->event_time(ev), ID_MAX);
	sqlite3_bind_int64(st, 10, host->event_time_us(ev));
	return hm_run(st);
}

/* data.participants[] (the preview) and data.participant (GA). */
static int insert_participants(struct hm_state *s, const struct ch_event *ev)
{
	const struct ch_value *data = host->event_data(ev);
	const struct ch_value *list = host->get(data, "participants");
	const struct ch_value *one = host->get(data, "participant");
	size_t n = host->type(list) == CH_VALUE_ARRAY ? host->len(list) : 0;
	int rc = SQLITE_OK;

	if (n > PARTICIPANTS_MAX) {
		host->log(s->ctx, CH_LOG_WARN, "event %lld: %zu participants, keeping %d",
		          (long long)host->event_id(ev), n, PARTICIPANTS_MAX);
		n = PARTICIPANTS_MAX;
	}
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = insert_participant(s, ev, host->at(list, i, NULL));
	if (rc == SQLITE_OK && host->type(one) == CH_VALUE_OBJECT)
		rc = insert_participant(s, ev, one);
	return rc;
}

/* --- handle -------------------------------------------------------------- */

static enum ch_result invite_handle(void *state, const struct ch_event *ev)
{
	struct hm_state *s = state;
	int known = known_index(host->event_type(ev));
	int rc;

	if (known < 0)
		return CH_OK; /* a participant type this module does not know (yet) */
	if (hm_db(s) == NULL)
		return hm_db_error(s, SQLITE_BUSY, "no database transaction");
	rc = hm_prepare(s);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "prepare");
	rc = insert_invite(s, ev, known);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "insert invites");
	if (sqlite3_changes(s->db) == 0)
		return CH_OK; /* a replay, or the same result under another journal row */
	rc = insert_participants(s, ev);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "insert invite_participants");
	return CH_OK;
}

static int invite_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	host = h;
	return hm_init(h, ctx, "invite", sql, N_STMTS, state);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "invite",
    .version = "1.0",
    .description = "participant invite/add/remove results (invites, invite_participants)",
    .event_types = event_types,
    .init = invite_init,
    .handle = invite_handle,
    .fini = hm_fini,
};

HM_HANDLER_ENTRY(descriptor)
