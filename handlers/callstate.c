/* callstate.c - call state history and one summary row per call.
 *
 * Subscribes to the preview CallLegStateChanged (data.CallState as sent) and
 * the GA CloudEvents CallConnected / CallDisconnected, which carry no state
 * field: they mean 'Established' and 'Terminated'.  FORMATS.md names no other
 * state event (no CallEstablished-style type), so nothing else is subscribed.
 *
 * Each event adds one call_states row keyed by its journal row (a replay adds
 * nothing), then the call's calls row is recomputed from all of its
 * call_states rows (recompute_call).  Recomputing rather than patching is
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

static const char insert_state_sql[] =
    "INSERT OR IGNORE INTO call_states (call_id, state, event_time, event_time_us, "
    "conversation_id, server_call_id, correlation_id, event_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/* The call's history, for recompute_call (which orders it itself). */
static const char history_sql[] =
    "SELECT state, event_time, event_time_us, conversation_id, server_call_id, "
    "correlation_id, event_id FROM call_states WHERE call_id = ?1";

static const char upsert_call_sql[] =
    "INSERT INTO calls (call_id, first_seen_at, first_seen_us, established_at, established_us, "
    "ended_at, ended_us, state, state_time_us, conversation_id, server_call_id, correlation_id, "
    "first_event_id, last_event_id, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) "
    "ON CONFLICT (call_id) DO UPDATE SET "
    "first_seen_at = excluded.first_seen_at, first_seen_us = excluded.first_seen_us, "
    "established_at = excluded.established_at, established_us = excluded.established_us, "
    "ended_at = excluded.ended_at, ended_us = excluded.ended_us, state = excluded.state, "
    "state_time_us = excluded.state_time_us, conversation_id = excluded.conversation_id, "
    "server_call_id = excluded.server_call_id, correlation_id = excluded.correlation_id, "
    "first_event_id = excluded.first_event_id, last_event_id = excluded.last_event_id, "
    "updated_at = excluded.updated_at";

enum stmt_index { ST_INSERT_STATE, ST_HISTORY, ST_UPSERT_CALL, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT_STATE] = insert_state_sql,
    [ST_HISTORY] = history_sql,
    [ST_UPSERT_CALL] = upsert_call_sql,
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

/* One call_states row, as far as the summary needs it. */
struct state_row {
	bool set;
	int64_t time_us, event_id;
	int rank;
	char state[MAX_STATE_LEN + 1];
	char time[40];
};

/* An id column's first non-NULL value, by the same order as the first row. */
struct first_id {
	bool set;
	int64_t time_us, event_id;
	int rank;
	char value[MAX_ID_LEN + 1];
};

/* The lifecycle position breaks ties between events stamped with the same
 * time, so that even then the summary does not depend on arrival order. */
static int lifecycle_rank(const char *state)
{
	for (size_t i = 0; i < sizeof(known_states) / sizeof(known_states[0]); i++)
		if (strcmp(state, known_states[i]) == 0)
			return (int)i + 1;
	return 0;
}

/* (time, rank, event id) order; rank 0 for "without rank" comparisons. */
static int compare(int64_t t1, int r1, int64_t id1, int64_t t2, int r2, int64_t id2)
{
	if (t1 != t2)
		return t1 < t2 ? -1 : 1;
	if (r1 != r2)
		return r1 < r2 ? -1 : 1;
	return id1 < id2 ? -1 : id1 > id2;
}

static void copy_text(char *dst, size_t size, const unsigned char *src)
{
	snprintf(dst, size, "%s", src != NULL ? (const char *)src : "");
}

static void take_row(struct state_row *r, sqlite3_stmt *st, int rank)
{
	r->set = true;
	r->time_us = sqlite3_column_int64(st, 2);
	r->event_id = sqlite3_column_int64(st, 6);
	r->rank = rank;
	copy_text(r->state, sizeof(r->state), sqlite3_column_text(st, 0));
	copy_text(r->time, sizeof(r->time), sqlite3_column_text(st, 1));
}

static void consider_id(struct first_id *f, sqlite3_stmt *st, int col, int rank)
{
	int64_t t = sqlite3_column_int64(st, 2), id = sqlite3_column_int64(st, 6);

	if (sqlite3_column_type(st, col) == SQLITE_NULL ||
	    (f->set && compare(t, rank, id, f->time_us, f->rank, f->event_id) >= 0))
		return;
	f->set = true;
	f->time_us = t;
	f->event_id = id;
	f->rank = rank;
	copy_text(f->value, sizeof(f->value), sqlite3_column_text(st, col));
}

static void bind_time(sqlite3_stmt *st, int col, const struct state_row *r)
{
	if (r->set) {
		sqlite3_bind_text(st, col, r->time, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, col + 1, r->time_us);
	} else {
		sqlite3_bind_null(st, col);
		sqlite3_bind_null(st, col + 1);
	}
}

static void bind_id(sqlite3_stmt *st, int col, const struct first_id *f)
{
	if (f->set)
		sqlite3_bind_text(st, col, f->value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

/* The calls row is a function of the call's whole history, whatever order
 * it arrived in: the first row by (event time, lifecycle rank, journal row)
 * and the last by the same order; the first Established and Terminated by
 * (event time, journal row); each id from the first row that has one.
 * Computed here from one indexed read of the history: the same as a SQL
 * statement with seven ordered subqueries, at a fraction of its cost. */
static int recompute_call(struct hm_state *cs, const char *call_id)
{
	struct state_row first = {0}, last = {0}, established = {0}, terminated = {0};
	struct first_id conversation = {0}, server_call = {0}, correlation = {0};
	sqlite3_stmt *hist, *up;
	char now[64];
	int rc;

	hist = hm_stmt(cs, ST_HISTORY, &rc);
	if (hist == NULL)
		return rc;
	sqlite3_bind_text(hist, 1, call_id, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(hist)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(hist, 0);
		int rank = lifecycle_rank(state != NULL ? state : "");
		int64_t t = sqlite3_column_int64(hist, 2), id = sqlite3_column_int64(hist, 6);

		if (!first.set ||
		    compare(t, rank, id, first.time_us, first.rank, first.event_id) < 0)
			take_row(&first, hist, rank);
		if (!last.set || compare(t, rank, id, last.time_us, last.rank, last.event_id) > 0)
			take_row(&last, hist, rank);
		if (rank == 2 && (!established.set || compare(t, 0, id, established.time_us, 0,
		                                              established.event_id) < 0))
			take_row(&established, hist, rank);
		if (rank == 4 && (!terminated.set || compare(t, 0, id, terminated.time_us, 0,
		                                             terminated.event_id) < 0))
			take_row(&terminated, hist, rank);
		consider_id(&conversation, hist, 3, rank);
		consider_id(&server_call, hist, 4, rank);
		consider_id(&correlation, hist, 5, rank);
	}
	sqlite3_reset(hist);
	if (rc != SQLITE_DONE)
		return rc;
	if (!first.set)
		return SQLITE_OK; /* no history: nothing to summarise */

	up = hm_stmt(cs, ST_UPSERT_CALL, &rc);
	if (up == NULL)
		return rc;
	utc_now(now, sizeof(now));
	sqlite3_bind_text(up, 1, call_id, -1, SQLITE_TRANSIENT);
	bind_time(up, 2, &first);
	bind_time(up, 4, &established);
	bind_time(up, 6, &terminated);
	sqlite3_bind_text(up, 8, last.state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(up, 9, last.time_us);
	bind_id(up, 10, &conversation);
	bind_id(up, 11, &server_call);
	bind_id(up, 12, &correlation);
	sqlite3_bind_int64(up, 13, first.event_id);
	sqlite3_bind_int64(up, 14, last.event_id);
	sqlite3_bind_text(up, 15, now, -1, SQLITE_TRANSIENT);
	return hm_run(up);
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
