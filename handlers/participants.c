/* participants.c - participant snapshots, join/leave/mute history, current set.
 *
 * Every ParticipantsUpdated carries the call's FULL current list, so each one
 * is stored as a snapshot (keyed by its journal row) and everything else is
 * derived from the call's chain of snapshots in event-time order (ties:
 * sequenceNumber, then journal row):
 *   - participant_events: each snapshot diffed against its predecessor in the
 *     chain (first snapshot: one join per member; a member muted on arrival
 *     is a join, not a mute);
 *   - participants: per participant ever seen, the latest listing, first join,
 *     last leave and whether the latest snapshot lists it.
 * The common case (the new snapshot is the latest of its call) extends both
 * from the new snapshot alone.  A snapshot that sorts before one already
 * stored, or a replay of a stored one, re-derives the call's events and
 * participants from the whole chain: calls have few snapshots, and a pure
 * function of the chain gives the same rows whatever the arrival order (the
 * tests compare both paths).
 *
 * Accepted shapes (paths are case-insensitive, so one covers both casings):
 * preview data.Participants[] of {Identifier, ParticipantId, IsMuted}; GA
 * data.participants[] of bare identifiers or {identifier, isMuted, isOnHold}.
 * An identifier may carry only rawId (no kind): the kind is then read from the
 * rawId prefix.  Events without a call id or a participants array are logged
 * and acknowledged: the journal keeps them, and no retry can fix them.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "module_common.h"

/* Bounds on input: identifiers are ~100 bytes; ACS calls hold at most a few
 * hundred participants (Teams meetings ~1000). */
#define MAX_ID_LEN  1024
#define MAX_KEY_LEN (MAX_ID_LEN + 32)
#define MAX_MEMBERS 10000

static const struct ch_host *host;

/* clang-format off */
/* The chain order, ascending; NULL sequence numbers sort first. */
#define CHAIN_ORDER "event_time_us, sequence_number, event_id"
#define CHAIN_ORDER_DESC "event_time_us DESC, sequence_number DESC, event_id DESC"

static const char exists_sql[] =
	"SELECT 1 FROM participant_snapshots WHERE event_id = ?1";

static const char insert_member_sql[] =
	"INSERT OR IGNORE INTO participant_snapshot_members (event_id, participant_key, kind, "
	"user_id, phone_number, teams_user_id, raw_id, participant_id, is_muted, is_on_hold) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

static const char insert_snapshot_sql[] =
	"INSERT OR IGNORE INTO participant_snapshots (event_id, call_id, event_time, event_time_us, "
	"sequence_number, participant_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

static const char latest_sql[] =
	"SELECT event_id FROM participant_snapshots WHERE call_id = ?1 "
	"ORDER BY " CHAIN_ORDER_DESC " LIMIT 1";

static const char forget_events_sql[] =
	"DELETE FROM participant_events WHERE call_id = ?1";

/* ?1 call id; ?2 the one snapshot to diff against its predecessor, or NULL
 * for every snapshot of the call. */
static const char diff_sql[] =
	"WITH chain AS (SELECT event_id, event_time_us, event_time, "
	"  LAG(event_id) OVER (ORDER BY " CHAIN_ORDER ") AS prev_id "
	"  FROM participant_snapshots WHERE call_id = ?1), "
	"cur AS (SELECT * FROM chain WHERE ?2 IS NULL OR event_id = ?2) "
	"INSERT OR IGNORE INTO participant_events (call_id, participant_key, action, "
	"event_time_us, event_time, event_id) "
	"SELECT ?1, m.participant_key, 'join', c.event_time_us, c.event_time, c.event_id "
	"FROM cur AS c JOIN participant_snapshot_members AS m ON m.event_id = c.event_id "
	"WHERE NOT EXISTS (SELECT 1 FROM participant_snapshot_members AS p "
	"  WHERE p.event_id = c.prev_id AND p.participant_key = m.participant_key) "
	"UNION ALL "
	"SELECT ?1, p.participant_key, 'leave', c.event_time_us, c.event_time, c.event_id "
	"FROM cur AS c JOIN participant_snapshot_members AS p ON p.event_id = c.prev_id "
	"WHERE NOT EXISTS (SELECT 1 FROM participant_snapshot_members AS m "
	"  WHERE m.event_id = c.event_id AND m.participant_key = p.participant_key) "
	"UNION ALL "
	"SELECT ?1, m.participant_key, CASE m.is_muted WHEN 1 THEN 'mute' ELSE 'unmute' END, "
	"c.event_time_us, c.event_time, c.event_id "
	"FROM cur AS c JOIN participant_snapshot_members AS m ON m.event_id = c.event_id "
	"JOIN participant_snapshot_members AS p "
	"  ON p.event_id = c.prev_id AND p.participant_key = m.participant_key "
	"WHERE m.is_muted IS NOT NULL AND p.is_muted IS NOT NULL AND m.is_muted <> p.is_muted";

static const char forget_participants_sql[] =
	"DELETE FROM participants WHERE call_id = ?1";

/* ?1 call id.  seen: each participant's latest listing; joins/leaves: the
 * first join and last leave; latest: the call's latest snapshot. */
static const char rebuild_sql[] =
	"WITH chain AS (SELECT event_id, event_time_us, sequence_number "
	"  FROM participant_snapshots WHERE call_id = ?1), "
	"latest AS (SELECT event_id FROM chain ORDER BY " CHAIN_ORDER_DESC " LIMIT 1), "
	"seen AS (SELECT m.*, ROW_NUMBER() OVER (PARTITION BY m.participant_key "
	"  ORDER BY c.event_time_us DESC, c.sequence_number DESC, c.event_id DESC) AS rn "
	"  FROM participant_snapshot_members AS m JOIN chain AS c ON c.event_id = m.event_id), "
	"joins AS (SELECT participant_key, event_time, event_time_us, ROW_NUMBER() OVER "
	"  (PARTITION BY participant_key ORDER BY event_time_us, event_id) AS rn "
	"  FROM participant_events WHERE call_id = ?1 AND action = 'join'), "
	"leaves AS (SELECT participant_key, event_time, event_time_us, ROW_NUMBER() OVER "
	"  (PARTITION BY participant_key ORDER BY event_time_us DESC, event_id DESC) AS rn "
	"  FROM participant_events WHERE call_id = ?1 AND action = 'leave') "
	"INSERT INTO participants (call_id, participant_key, kind, user_id, phone_number, "
	"teams_user_id, raw_id, participant_id, is_muted, joined_at, joined_at_us, left_at, "
	"left_at_us, present, event_id) "
	"SELECT ?1, s.participant_key, s.kind, s.user_id, s.phone_number, s.teams_user_id, "
	"s.raw_id, s.participant_id, s.is_muted, j.event_time, j.event_time_us, "
	"CASE WHEN s.event_id = l.event_id THEN NULL ELSE lv.event_time END, "
	"CASE WHEN s.event_id = l.event_id THEN NULL ELSE lv.event_time_us END, "
	"s.event_id = l.event_id, s.event_id "
	"FROM seen AS s JOIN latest AS l ON 1 "
	"JOIN joins AS j ON j.participant_key = s.participant_key AND j.rn = 1 "
	"LEFT JOIN leaves AS lv ON lv.participant_key = s.participant_key AND lv.rn = 1 "
	"WHERE s.rn = 1";
/* The new snapshot ?2 is the call's latest: its members are present, with
 * their first join kept. */
static const char upsert_present_sql[] =
	"INSERT INTO participants (call_id, participant_key, kind, user_id, phone_number, "
	"teams_user_id, raw_id, participant_id, is_muted, joined_at, joined_at_us, left_at, "
	"left_at_us, present, event_id) "
	"SELECT ?1, m.participant_key, m.kind, m.user_id, m.phone_number, m.teams_user_id, "
	"m.raw_id, m.participant_id, m.is_muted, s.event_time, s.event_time_us, NULL, NULL, 1, "
	"m.event_id FROM participant_snapshot_members AS m "
	"JOIN participant_snapshots AS s ON s.event_id = m.event_id WHERE m.event_id = ?2 "
	"ON CONFLICT (call_id, participant_key) DO UPDATE SET kind = excluded.kind, "
	"user_id = excluded.user_id, phone_number = excluded.phone_number, "
	"teams_user_id = excluded.teams_user_id, raw_id = excluded.raw_id, "
	"participant_id = excluded.participant_id, is_muted = excluded.is_muted, "
	"left_at = NULL, left_at_us = NULL, present = 1, event_id = excluded.event_id";

/* ... and whoever was present but is not in it left at its time (?3, ?4). */
static const char mark_left_sql[] =
	"UPDATE participants SET present = 0, left_at = ?3, left_at_us = ?4 "
	"WHERE call_id = ?1 AND present = 1 AND participant_key NOT IN "
	"(SELECT participant_key FROM participant_snapshot_members WHERE event_id = ?2)";
/* clang-format on */

enum stmt_index {
	ST_EXISTS,
	ST_INSERT_MEMBER,
	ST_INSERT_SNAPSHOT,
	ST_LATEST,
	ST_FORGET_EVENTS,
	ST_DIFF,
	ST_FORGET_PARTICIPANTS,
	ST_REBUILD,
	ST_UPSERT_PRESENT,
	ST_MARK_LEFT,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_EXISTS] = exists_sql,
    [ST_INSERT_MEMBER] = insert_member_sql,
    [ST_INSERT_SNAPSHOT] = insert_snapshot_sql,
    [ST_LATEST] = latest_sql,
    [ST_FORGET_EVENTS] = forget_events_sql,
    [ST_DIFF] = diff_sql,
    [ST_FORGET_PARTICIPANTS] = forget_participants_sql,
    [ST_REBUILD] = rebuild_sql,
    [ST_UPSERT_PRESENT] = upsert_present_sql,
    [ST_MARK_LEFT] = mark_left_sql,
};

/* One member of a snapshot.  Strings point into the host's event (valid
 * during handle()) or are static; key is our own. */
struct member {
	const char *kind;
	const char *raw_id, *user_id, *phone, *teams_user_id, *participant_id;
	const char *teams_prefix; /* rawId prefix a Teams user without rawId would have */
	int is_muted, is_on_hold; /* 0, 1, or -1: not reported */
	char key[MAX_KEY_LEN + 1];
};

/* rawId prefixes of the identifier kinds (Azure Communication Common). */
static const struct {
	const char *prefix, *kind;
} raw_prefixes[] = {
    {"4:", "phoneNumber"},
    {"8:acs:", "communicationUser"},
    {"8:spool:", "communicationUser"},
    {"8:dod-acs:", "communicationUser"},
    {"8:gcch-acs:", "communicationUser"},
    {"8:orgid:", "microsoftTeamsUser"},
    {"8:teamsvisitor:", "microsoftTeamsUser"},
    {"8:dod:", "microsoftTeamsUser"},
    {"8:gcch:", "microsoftTeamsUser"},
};

static const char *const kinds[] = {"communicationUser", "phoneNumber", "microsoftTeamsUser"};

/* The host's string at path, or NULL when absent, empty or beyond bounds. */
static const char *text(const struct ch_value *base, const char *path)
{
	const char *s = host->str(base, path);

	if (s == NULL || s[0] == '\0' || strnlen(s, MAX_ID_LEN + 1) > MAX_ID_LEN)
		return NULL;
	return s;
}

static int tristate(const struct ch_value *base, const char *path)
{
	bool b;

	return host->boolean(base, path, &b) ? b : -1;
}

/* The known prefix raw starts with, or -1. */
static int raw_prefix(const char *raw)
{
	for (size_t i = 0; raw != NULL && i < sizeof(raw_prefixes) / sizeof(raw_prefixes[0]); i++)
		if (strncmp(raw, raw_prefixes[i].prefix, strlen(raw_prefixes[i].prefix)) == 0)
			return (int)i;
	return -1;
}

/* The declared kind when it is one we store, else what the identifier holds:
 * a kind-specific member, else the rawId prefix. */
static const char *member_kind(const char *declared, const struct member *m)
{
	int p;

	if (declared != NULL) {
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strcasecmp(declared, kinds[i]) == 0)
				return kinds[i];
		return "unknown";
	}
	if (m->user_id != NULL)
		return "communicationUser";
	if (m->phone != NULL)
		return "phoneNumber";
	if (m->teams_user_id != NULL)
		return "microsoftTeamsUser";
	p = raw_prefix(m->raw_id);
	return p >= 0 ? raw_prefixes[p].kind : "unknown";
}

/* A rawId-only identifier still gets its display field, read from the rawId. */
static void fill_from_raw(struct member *m)
{
	int p = raw_prefix(m->raw_id);

	if (p < 0 || strcmp(raw_prefixes[p].kind, m->kind) != 0)
		return;
	if (strcmp(m->kind, "phoneNumber") == 0 && m->phone == NULL)
		m->phone = m->raw_id + strlen(raw_prefixes[p].prefix);
	else if (strcmp(m->kind, "communicationUser") == 0 && m->user_id == NULL)
		m->user_id = m->raw_id;
	else if (strcmp(m->kind, "microsoftTeamsUser") == 0 && m->teams_user_id == NULL)
		m->teams_user_id = m->raw_id + strlen(raw_prefixes[p].prefix);
}

static const char *teams_prefix(const struct ch_value *ident)
{
	const char *cloud = host->str(ident, "microsoftTeamsUser.cloud");
	bool anonymous = false;

	if (host->boolean(ident, "microsoftTeamsUser.isAnonymous", &anonymous) && anonymous)
		return "8:teamsvisitor:";
	if (cloud != NULL && strcasecmp(cloud, "dod") == 0)
		return "8:dod:";
	if (cloud != NULL && strcasecmp(cloud, "gcch") == 0)
		return "8:gcch:";
	return "8:orgid:";
}

/* The stable identity: rawId, else the rawId the kind's id would have, else
 * the preview ParticipantId.  false when there is nothing to key on. */
static bool make_key(struct member *m)
{
	int n;

	if (m->raw_id != NULL)
		n = snprintf(m->key, sizeof(m->key), "%s", m->raw_id);
	else if (strcmp(m->kind, "communicationUser") == 0 && m->user_id != NULL)
		n = snprintf(m->key, sizeof(m->key), "%s", m->user_id);
	else if (strcmp(m->kind, "phoneNumber") == 0 && m->phone != NULL)
		n = snprintf(m->key, sizeof(m->key), "4:%s", m->phone);
	else if (strcmp(m->kind, "microsoftTeamsUser") == 0 && m->teams_user_id != NULL)
		n = snprintf(m->key, sizeof(m->key), "%s%s", m->teams_prefix, m->teams_user_id);
	else if (m->participant_id != NULL)
		n = snprintf(m->key, sizeof(m->key), "%s", m->participant_id);
	else
		return false;
	return n > 0 && (size_t)n < sizeof(m->key);
}

/* el is {Identifier, ParticipantId, IsMuted}, {identifier, isMuted, isOnHold}
 * or a bare identifier.  A preview Identifier may be null: then only the
 * ParticipantId identifies the member (bare identifiers have none). */
static bool read_member(const struct ch_value *el, struct member *m)
{
	const struct ch_value *ident = host->get(el, "identifier");

	if (host->type(ident) != CH_VALUE_OBJECT)
		ident = el;
	m->raw_id = text(ident, "rawId");
	m->user_id = text(ident, "communicationUser.id");
	m->phone = text(ident, "phoneNumber.value");
	m->teams_user_id = text(ident, "microsoftTeamsUser.userId");
	m->teams_prefix = teams_prefix(ident);
	m->participant_id = text(el, "participantId");
	m->kind = member_kind(host->str(ident, "kind"), m);
	fill_from_raw(m);
	m->is_muted = tristate(el, "isMuted");
	m->is_on_hold = tristate(el, "isOnHold");
	return make_key(m);
}

/* A statement taking only the call id as ?1. */
static int run_for_call(struct hm_state *ps, enum stmt_index i, const char *call_id)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(ps, i, &rc);

	if (st == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	return hm_run(st);
}

/* Run statement i with ?1 bound to call_id, or to id when call_id is NULL;
 * *out: the first column of its first row as an integer, 0 when no row. */
static int query_id(struct hm_state *ps, enum stmt_index i, const char *call_id, int64_t id,
                    int64_t *out)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(ps, i, &rc);

	*out = 0;
	if (st == NULL)
		return rc;
	if (call_id != NULL)
		sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	return hm_finish(st, rc);
}

static int insert_member(struct hm_state *ps, int64_t event_id, const struct member *m, int *added)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(ps, ST_INSERT_MEMBER, &rc);

	if (st == NULL)
		return rc;
	sqlite3_bind_int64(st, 1, event_id);
	sqlite3_bind_text(st, 2, m->key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, m->kind, -1, SQLITE_STATIC);
	/* Bounded already (text(), parts of the rawId): nothing is cut. */
	hm_bind_text(st, 4, m->user_id, MAX_ID_LEN);
	hm_bind_text(st, 5, m->phone, MAX_ID_LEN);
	hm_bind_text(st, 6, m->teams_user_id, MAX_ID_LEN);
	hm_bind_text(st, 7, m->raw_id, MAX_ID_LEN);
	hm_bind_text(st, 8, m->participant_id, MAX_ID_LEN);
	hm_bind_opt_int(st, 9, m->is_muted >= 0, m->is_muted);
	hm_bind_opt_int(st, 10, m->is_on_hold >= 0, m->is_on_hold);
	rc = hm_run(st);
	if (rc == SQLITE_OK)
		*added += sqlite3_changes(ps->db);
	return rc;
}

/* Store every member we can key (the others are logged); *count: how many. */
static int store_members(struct hm_state *ps, const struct ch_event *ev,
                         const struct ch_value *list, int *count)
{
	int64_t id = host->event_id(ev);
	size_t n = host->len(list);
	int rc = SQLITE_OK;

	*count = 0;
	if (n > MAX_MEMBERS) {
		host->log(ps->ctx, CH_LOG_WARN, "event %lld: %zu participants, only %d stored",
		          (long long)id, n, MAX_MEMBERS);
		n = MAX_MEMBERS;
	}
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		struct member m;

		if (!read_member(host->at(list, i, NULL), &m)) {
			host->log(ps->ctx, CH_LOG_WARN,
			          "event %lld: participant %zu has no usable identity, skipped",
			          (long long)id, i);
			continue;
		}
		rc = insert_member(ps, id, &m, count);
	}
	return rc;
}

static int insert_snapshot(struct hm_state *ps, const struct ch_event *ev, const char *call_id,
                           int count)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(ps, ST_INSERT_SNAPSHOT, &rc);
	int64_t seq = 0;
	bool has_seq;

	if (st == NULL)
		return rc;
	sqlite3_bind_int64(st, 1, host->event_id(ev));
	sqlite3_bind_text(st, 2, call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, host->event_time(ev), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, host->event_time_us(ev));
	has_seq = host->int64(host->event_data(ev), "sequenceNumber", &seq);
	hm_bind_opt_int(st, 5, has_seq, seq);
	sqlite3_bind_int(st, 6, count);
	return hm_run(st);
}

/* Diff one snapshot against its predecessor (event_id > 0) or, with 0, forget
 * the call's history and diff every snapshot of the chain. */
static int derive_events(struct hm_state *ps, const char *call_id, int64_t event_id)
{
	int rc;
	sqlite3_stmt *st;

	if (event_id == 0 && (rc = run_for_call(ps, ST_FORGET_EVENTS, call_id)) != SQLITE_OK)
		return rc;
	st = hm_stmt(ps, ST_DIFF, &rc);
	if (st == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	if (event_id > 0)
		sqlite3_bind_int64(st, 2, event_id);
	else
		sqlite3_bind_null(st, 2);
	return hm_run(st);
}

/* Everything derived for the call, from its whole chain. */
static int rederive_call(struct hm_state *ps, const char *call_id)
{
	int rc = derive_events(ps, call_id, 0);

	if (rc == SQLITE_OK)
		rc = run_for_call(ps, ST_FORGET_PARTICIPANTS, call_id);
	return rc == SQLITE_OK ? run_for_call(ps, ST_REBUILD, call_id) : rc;
}

/* The snapshot ev just stored is the call's latest: derive from it alone. */
static int extend_call(struct hm_state *ps, const struct ch_event *ev, const char *call_id)
{
	int64_t id = host->event_id(ev);
	int rc = derive_events(ps, call_id, id);
	sqlite3_stmt *st;

	if (rc != SQLITE_OK || (st = hm_stmt(ps, ST_UPSERT_PRESENT, &rc)) == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	if ((rc = hm_run(st)) != SQLITE_OK || (st = hm_stmt(ps, ST_MARK_LEFT, &rc)) == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, host->event_time(ev), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, host->event_time_us(ev));
	return hm_run(st);
}

/* A new snapshot: store it, then extend the call's history when it is the
 * latest, re-derive it when it belongs earlier in the chain. */
static int add_snapshot(struct hm_state *ps, const struct ch_event *ev, const char *call_id,
                        const struct ch_value *list)
{
	int64_t id = host->event_id(ev), latest;
	int count, rc;

	if ((rc = store_members(ps, ev, list, &count)) != SQLITE_OK ||
	    (rc = insert_snapshot(ps, ev, call_id, count)) != SQLITE_OK ||
	    (rc = query_id(ps, ST_LATEST, call_id, 0, &latest)) != SQLITE_OK)
		return rc;
	if (latest == id)
		return extend_call(ps, ev, call_id);
	host->log(ps->ctx, CH_LOG_DEBUG, "event %lld: late snapshot, re-deriving call %s",
	          (long long)id, call_id);
	return rederive_call(ps, call_id);
}

static enum ch_result ps_handle(void *state, const struct ch_event *ev)
{
	struct hm_state *ps = state;
	const char *call_id = host->event_call_id(ev);
	const struct ch_value *list = host->get(host->event_data(ev), "participants");
	int64_t id = host->event_id(ev), stored;
	int rc;

	if (call_id == NULL || call_id[0] == '\0' ||
	    strnlen(call_id, MAX_ID_LEN + 1) > MAX_ID_LEN || host->type(list) != CH_VALUE_ARRAY) {
		host->log(ps->ctx, CH_LOG_WARN,
		          "event %lld: no usable call id or participants array, ignored",
		          (long long)id);
		return CH_OK;
	}
	if (hm_db(ps) == NULL) {
		host->set_error(ps->ctx, "no database connection");
		return CH_RETRY;
	}
	if ((rc = query_id(ps, ST_EXISTS, NULL, id, &stored)) != SQLITE_OK)
		return hm_db_error(ps, rc, "look up snapshot");
	/* A replay: the snapshot is stored; re-deriving repairs anything lost. */
	rc = stored ? rederive_call(ps, call_id) : add_snapshot(ps, ev, call_id, list);
	return rc == SQLITE_OK ? CH_OK : hm_db_error(ps, rc, "derive participants");
}

static int ps_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	host = h;
	return hm_init(h, ctx, NULL, stmt_sql, ST_COUNT, state);
}

static const char *const event_types[] = {
    "Microsoft.Communication.ParticipantsUpdated",
    NULL,
};

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "participants",
    .version = "1.0",
    .description = "participant snapshots, join/leave/mute history and current participants",
    .event_types = event_types,
    .init = ps_init,
    .handle = ps_handle,
    .fini = hm_fini,
};

HM_HANDLER_ENTRY(descriptor)
