/* callstate.c - call state history and one summary row per call.
 *
 * Subscribes to the preview CallLegStateChanged (data.CallState as sent) and
 * the GA CloudEvents CallConnected / CallDisconnected, which carry no state
 * field: they mean 'Established' and 'Terminated'.  FORMATS.md names no other
 * state event (no CallEstablished-style type), so nothing else is subscribed.
 *
 * Each event adds one call_states row keyed by its journal row (a replay adds
 * nothing), then the call's calls row is recomputed from all of its
 * call_states rows in one statement.  Recomputing rather than patching is
 * what makes the row independent of arrival order: a Terminated that arrives
 * before Established, or a late Establishing, lands in the history and the
 * summary is the same function of the same set.  Calls have a handful of
 * state events, so the recomputation is cheap.
 *
 * An event without a call id is logged and acknowledged (CH_OK), not failed:
 * the journal keeps it whatever we answer, no retry or operator action could
 * give it an id, and a dead delivery is meant for what someone can fix.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "module_common.h"

/* Bounds on what we copy from input: ids are GUIDs or base64 URLs (~200
 * bytes); anything longer is not an id we can trust. */
#define MAX_ID_LEN    1024
#define MAX_STATE_LEN 64

static const struct ch_host *host;

/* The lifecycle position breaks ties between events stamped with the same
 * time, so that even then the summary does not depend on arrival order. */
/* clang-format off */
#define RANK "CASE state WHEN 'Establishing' THEN 1 WHEN 'Established' THEN 2 " \
	"WHEN 'Terminating' THEN 3 WHEN 'Terminated' THEN 4 ELSE 0 END"
#define FIRST_NOT_NULL(col) \
	"(SELECT " col " FROM call_states WHERE call_id = ?1 AND " col " IS NOT NULL " \
	"ORDER BY event_time_us, " RANK ", event_id LIMIT 1)"
#define FIRST_IN(state) \
	"(SELECT * FROM call_states WHERE call_id = ?1 AND state = '" state "' " \
	"ORDER BY event_time_us, event_id LIMIT 1)"

static const char insert_state_sql[] =
	"INSERT OR IGNORE INTO call_states (call_id, state, event_time, event_time_us, "
	"conversation_id, server_call_id, correlation_id, event_id) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/* ?1 call id, ?2 updated_at.  f: earliest event, l: latest, e: first
 * Established, t: first Terminated. */
static const char recompute_sql[] =
	"INSERT INTO calls (call_id, first_seen_at, first_seen_us, established_at, established_us, "
	"ended_at, ended_us, state, state_time_us, conversation_id, server_call_id, correlation_id, "
	"first_event_id, last_event_id, updated_at) "
	"SELECT ?1, f.event_time, f.event_time_us, e.event_time, e.event_time_us, t.event_time, "
	"t.event_time_us, l.state, l.event_time_us, "
	FIRST_NOT_NULL("conversation_id") ", "
	FIRST_NOT_NULL("server_call_id") ", "
	FIRST_NOT_NULL("correlation_id") ", "
	"f.event_id, l.event_id, ?2 "
	"FROM (SELECT * FROM call_states WHERE call_id = ?1 "
	"ORDER BY event_time_us, " RANK ", event_id LIMIT 1) AS f "
	"JOIN (SELECT * FROM call_states WHERE call_id = ?1 "
	"ORDER BY event_time_us DESC, " RANK " DESC, event_id DESC LIMIT 1) AS l ON 1 "
	"LEFT JOIN " FIRST_IN("Established") " AS e ON 1 "
	"LEFT JOIN " FIRST_IN("Terminated") " AS t ON 1 "
	"WHERE 1 ON CONFLICT (call_id) DO UPDATE SET "
	"first_seen_at = excluded.first_seen_at, first_seen_us = excluded.first_seen_us, "
	"established_at = excluded.established_at, established_us = excluded.established_us, "
	"ended_at = excluded.ended_at, ended_us = excluded.ended_us, state = excluded.state, "
	"state_time_us = excluded.state_time_us, conversation_id = excluded.conversation_id, "
	"server_call_id = excluded.server_call_id, correlation_id = excluded.correlation_id, "
	"first_event_id = excluded.first_event_id, last_event_id = excluded.last_event_id, "
	"updated_at = excluded.updated_at";
/* clang-format on */

enum stmt_index { ST_INSERT_STATE, ST_RECOMPUTE, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT_STATE] = insert_state_sql,
    [ST_RECOMPUTE] = recompute_sql,
};

/* What one event says about its call; strings are the host's (valid during
 * handle()) or static. */
struct state_event {
	const char *call_id;
	const char *state;
	const char *conversation_id;
	const char *server_call_id;
	const char *correlation_id;
};

static const char *const known_states[] = {"Establishing", "Established", "Terminating",
                                           "Terminated"};

/* The state a preview event names, spelled canonically when it is a known
 * one; unknown states are kept as sent (bounded), NULL when unusable. */
static const char *canonical_state(const char *s)
{
	if (s == NULL || s[0] == '\0' || strnlen(s, MAX_STATE_LEN + 1) > MAX_STATE_LEN)
		return NULL;
	for (size_t i = 0; i < sizeof(known_states) / sizeof(known_states[0]); i++)
		if (strcasecmp(s, known_states[i]) == 0)
			return known_states[i];
	return s;
}

/* An optional id: NULL when absent, empty or beyond bounds (logged). */
static const char *bounded_id(struct hm_state *cs, const char *s, const char *what)
{
	if (s == NULL || s[0] == '\0')
		return NULL;
	if (strnlen(s, MAX_ID_LEN + 1) > MAX_ID_LEN) {
		host->log(cs->ctx, CH_LOG_WARN, "%s longer than %d bytes: stored as NULL", what,
		          MAX_ID_LEN);
		return NULL;
	}
	return s;
}

static const char *type_state(const struct ch_value *data, const char *type)
{
	if (strcmp(type, "Microsoft.Communication.CallLegStateChanged") == 0)
		return canonical_state(host->str(data, "CallState"));
	if (strcmp(type, "Microsoft.Communication.CallConnected") == 0)
		return "Established";
	if (strcmp(type, "Microsoft.Communication.CallDisconnected") == 0)
		return "Terminated";
	return NULL;
}

/* Fill *se from ev; false (logged) when the event says nothing we can store. */
static bool read_event(struct hm_state *cs, const struct ch_event *ev, struct state_event *se)
{
	const struct ch_value *data = host->event_data(ev);
	const char *type = host->event_type(ev);
	int64_t id = host->event_id(ev);

	se->state = type_state(data, type);
	if (se->state == NULL) {
		host->log(cs->ctx, CH_LOG_WARN, "event %lld (%s): no usable call state, ignored",
		          (long long)id, type);
		return false;
	}
	se->call_id = host->event_call_id(ev);
	if (se->call_id == NULL || se->call_id[0] == '\0' ||
	    strnlen(se->call_id, MAX_ID_LEN + 1) > MAX_ID_LEN) {
		host->log(cs->ctx, CH_LOG_WARN, "event %lld (%s): no usable call id, ignored",
		          (long long)id, type);
		return false;
	}
	se->conversation_id = bounded_id(cs, host->str(data, "ConversationId"), "ConversationId");
	se->server_call_id = bounded_id(cs, host->str(data, "serverCallId"), "serverCallId");
	se->correlation_id = bounded_id(cs, host->str(data, "correlationId"), "correlationId");
	return true;
}

/* Wall clock as the journal writes times: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
static void utc_now(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".%06dZ", (int)(ts.tv_nsec / 1000));
}

static int insert_state(struct hm_state *cs, const struct ch_event *ev,
                        const struct state_event *se)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(cs, ST_INSERT_STATE, &rc);

	if (st == NULL)
		return rc;
	sqlite3_bind_text(st, 1, se->call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, se->state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, host->event_time(ev), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, host->event_time_us(ev));
	/* Bounded already (bounded_id): nothing is cut. */
	hm_bind_text(st, 5, se->conversation_id, MAX_ID_LEN);
	hm_bind_text(st, 6, se->server_call_id, MAX_ID_LEN);
	hm_bind_text(st, 7, se->correlation_id, MAX_ID_LEN);
	sqlite3_bind_int64(st, 8, host->event_id(ev));
	return hm_run(st);
}

static int recompute_call(struct hm_state *cs, const char *call_id)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(cs, ST_RECOMPUTE, &rc);
	char now[64];

	if (st == NULL)
		return rc;
	utc_now(now, sizeof(now));
	sqlite3_bind_text(st, 1, call_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT);
	return hm_run(st);
}

static enum ch_result cs_handle(void *state, const struct ch_event *ev)
{
	struct hm_state *cs = state;
	struct state_event se;
	int rc;

	if (!read_event(cs, ev, &se))
		return CH_OK;
	if (hm_db(cs) == NULL) {
		host->set_error(cs->ctx, "no database connection");
		return CH_RETRY;
	}
	rc = insert_state(cs, ev, &se);
	if (rc != SQLITE_OK)
		return hm_db_error(cs, rc, "insert call_states");
	rc = recompute_call(cs, se.call_id);
	if (rc != SQLITE_OK)
		return hm_db_error(cs, rc, "recompute calls");
	return CH_OK;
}

static int cs_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	host = h;
	return hm_init(h, ctx, NULL, stmt_sql, ST_COUNT, state);
}

static const char *const event_types[] = {
    "Microsoft.Communication.CallLegStateChanged",
    "Microsoft.Communication.CallConnected",
    "Microsoft.Communication.CallDisconnected",
    NULL,
};

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "callstate",
    .version = "1.0",
    .description = "call state history (call_states) and one summary row per call (calls)",
    .event_types = event_types,
    .init = cs_init,
    .handle = cs_handle,
    .fini = hm_fini,
};

HM_HANDLER_ENTRY(descriptor)
