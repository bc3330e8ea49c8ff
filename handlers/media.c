/* media.c - play and recognize operations, into media_events and
 * media_operations (schema/006_media.sql, which states the outcome and
 * folding rules).
 *
 * Shapes: the 2021 preview PlayAudioResult (data.OperationContext,
 * data.Status, data.ResultInfo.{Code,Subcode,Message}, ResultInfo may be
 * null) and the GA Play... and Recognize... events (data.operationContext,
 * often absent; data.resultInformation.{code,subCode,message}, which one doc
 * sample spells resultInfo).  Paths are case-insensitive, so "resultInfo.subCode"
 * also reads the preview's "ResultInfo.Subcode".
 *
 * Every event is first stored in media_events (ON CONFLICT (event_id) DO NOTHING),
 * then its operation's row is recomputed from all of that operation's
 * media_events.  Recomputing instead of patching the row in place is what
 * makes the result independent of arrival order, redeliveries and replays:
 * the fold sees the same set of events whatever order they came in.
 */
#define _POSIX_C_SOURCE 200809L /* strnlen */

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "module_common.h"

#define ID_MAX    1024 /* ids, contexts, types: GUID-sized in practice */
#define TEXT_MAX  4096 /* messages and recognized phrases */
#define TONES_MAX 64   /* digits kept from one dtmfResult */

static const struct ch_host *host;

enum stmt { INSERT_EVENT, SELECT_RUN, UPSERT_NAMED, UPSERT_UNNAMED, N_STMTS };

/* Prefix patterns: the host caps a descriptor at four, and later service
 * versions add names (PlayPaused, ...) that handle() must not misread. */
static const char *const event_types[] = {
    "Microsoft.Communication.Play*",
    "Microsoft.Communication.Recognize*",
    NULL,
};

/* The types handled, by name after "Microsoft.Communication."; any other
 * type the patterns match is acknowledged without a row. */
static const struct {
	const char *name, *kind;
} known_types[] = {
    {"PlayAudioResult", "play"},      {"PlayStarted", "play"},
    {"PlayCompleted", "play"},        {"PlayFailed", "play"},
    {"PlayCanceled", "play"},         {"RecognizeCompleted", "recognize"},
    {"RecognizeFailed", "recognize"}, {"RecognizeCanceled", "recognize"},
};

#define OP_COLUMNS                                                                                 \
	" (call_id, operation_context, kind, started_at_us, ended_at_us, outcome, result_code,"    \
	" result_subcode, result_message, event_type, first_event_id, last_event_id)"              \
	" SELECT call_id, operation_context, kind, ?1, ?2, outcome, result_code, result_subcode,"  \
	" result_message, event_type, ?3, ?4 FROM media_events WHERE event_id = ?5"
#define OP_UPDATE                                                                                  \
	" DO UPDATE SET started_at_us = excluded.started_at_us, ended_at_us = "                    \
	"excluded.ended_at_us,"                                                                    \
	" outcome = excluded.outcome, result_code = excluded.result_code,"                         \
	" result_subcode = excluded.result_subcode, result_message = excluded.result_message,"     \
	" event_type = excluded.event_type, first_event_id = excluded.first_event_id,"             \
	" last_event_id = excluded.last_event_id"

static const char *const sql[N_STMTS] = {
    [INSERT_EVENT] =
        "INSERT INTO media_events (call_id, operation_context, kind, event_type,"
        " outcome, status, result_code, result_subcode, result_message, recognition_type, tones,"
        " choice_label, recognized_phrase, event_id, event_time, event_time_us)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        " ON CONFLICT (event_id) DO NOTHING",
    /* The operation's events, a Started first among events of one instant.
     * Read through the stored row so a replay folds exactly what is stored. */
    [SELECT_RUN] =
        "SELECT o.event_id, o.outcome = 'started', o.event_time_us FROM media_events e"
        " JOIN media_events o ON o.call_id IS e.call_id AND o.kind = e.kind"
        " AND o.operation_context IS e.operation_context"
        " AND (e.operation_context IS NOT NULL OR o.event_id = e.event_id)"
        " WHERE e.event_id = ?1 ORDER BY o.event_time_us, o.outcome <> 'started', o.event_id",
    [UPSERT_NAMED] = "INSERT INTO media_operations" OP_COLUMNS
                     " ON CONFLICT (ifnull(call_id, ''), kind, operation_context)"
                     " WHERE operation_context IS NOT NULL" OP_UPDATE,
    [UPSERT_UNNAMED] = "INSERT INTO media_operations" OP_COLUMNS
                       " ON CONFLICT (first_event_id) WHERE operation_context IS NULL" OP_UPDATE,
};

/* --- small helpers ------------------------------------------------------- */

/* 'play' or 'recognize' for a handled type, NULL for any other. */
static const char *type_kind(const char *type)
{
	static const char prefix[] = "Microsoft.Communication.";

	if (strncmp(type, prefix, sizeof(prefix) - 1) != 0)
		return NULL;
	type += sizeof(prefix) - 1;
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++) {
		if (strcmp(type, known_types[i].name) == 0)
			return known_types[i].kind;
	}
	return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_status(const char *status, const char *want)
{
	return status != NULL && strcasecmp(status, want) == 0;
}

/* --- one event ----------------------------------------------------------- */

struct media_event {
	const char *kind, *context, *status, *outcome;
	bool has_code, has_subcode;
	int64_t code, subcode;
	const char *message;
	const char *recognition_type, *choice_label, *phrase;
	bool has_tones;
	char tones[TONES_MAX + 1];
};

static void read_result(const struct ch_value *data, struct media_event *m)
{
	const struct ch_value *r = host->get(data, "resultInformation");

	if (host->type(r) != CH_VALUE_OBJECT)
		r = host->get(data, "resultInfo"); /* a doc sample, and the preview's ResultInfo */
	m->has_code = host->int64(r, "code", &m->code);
	m->has_subcode = host->int64(r, "subCode", &m->subcode);
	m->message = host->str(r, "message");
}

/* See schema/006_media.sql for why each rule is what it is. */
static const char *event_outcome(const char *type, const struct media_event *m)
{
	if (has_suffix(type, "Started"))
		return "started";
	if (has_suffix(type, "Canceled") ||
	    (m->has_code && m->code == 400 && m->has_subcode && m->subcode == 8508))
		return "cancelled";
	if (has_suffix(type, "Failed") || is_status(m->status, "Failed") ||
	    (m->has_code && m->code >= 400))
		return "failed";
	if (is_status(m->status, "Running") || is_status(m->status, "NotStarted"))
		return "started";
	return "completed";
}

/* dtmfResult.tones[] (collectTonesResult in 2022 GA) as "123#"; '?' marks a
 * tone the table does not know. */
static void read_tones(const struct ch_value *data, struct media_event *m)
{
	const struct ch_value *tones = host->get(data, "dtmfResult.tones");
	size_t n, k = 0;

	if (host->type(tones) != CH_VALUE_ARRAY)
		tones = host->get(data, "collectTonesResult.tones");
	if (host->type(tones) != CH_VALUE_ARRAY)
		return;
	n = host->len(tones);
	for (size_t i = 0; i < n && k < TONES_MAX; i++) {
		char c = hm_tone_symbol(host->str(host->at(tones, i, NULL), ""));
		m->tones[k++] = c != 0 ? c : '?';
	}
	m->tones[k] = '\0';
	m->has_tones = true;
}

static void read_event(const struct ch_event *ev, const char *kind, struct media_event *m)
{
	const struct ch_value *data = host->event_data(ev);
	const char *type = host->event_type(ev);

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->context = host->str(data, "operationContext");
	if (m->context != NULL && m->context[0] == '\0')
		m->context = NULL; /* "" names nothing: each such event stands alone */
	m->status = host->str(data, "status");
	read_result(data, m);
	m->outcome = event_outcome(type, m);
	m->recognition_type = host->str(data, "recognitionType");
	m->choice_label = host->str(data, "choiceResult.label");
	m->phrase = host->str(data, "choiceResult.recognizedPhrase");
	if (m->phrase == NULL)
		m->phrase = host->str(data, "speechResult.speech");
	read_tones(data, m);
}

/* --- database ------------------------------------------------------------ */

static int insert_event(struct hm_state *s, const struct ch_event *ev, const struct media_event *m)
{
	sqlite3_stmt *st = s->stmt[INSERT_EVENT];

	hm_bind_text(st, 1, host->event_call_id(ev), ID_MAX);
	hm_bind_text(st, 2, m->context, ID_MAX);
	hm_bind_text(st, 3, m->kind, ID_MAX);
	hm_bind_text(st, 4, host->event_type(ev), ID_MAX);
	hm_bind_text(st, 5, m->outcome, ID_MAX);
	hm_bind_text(st, 6, m->status, ID_MAX);
	hm_bind_opt_int(st, 7, m->has_code, m->code);
	hm_bind_opt_int(st, 8, m->has_subcode, m->subcode);
	hm_bind_text(st, 9, m->message, TEXT_MAX);
	hm_bind_text(st, 10, m->recognition_type, ID_MAX);
	hm_bind_text(st, 11, m->has_tones ? m->tones : NULL, sizeof(m->tones));
	hm_bind_text(st, 12, m->choice_label, TEXT_MAX);
	hm_bind_text(st, 13, m->phrase, TEXT_MAX);
	sqlite3_bind_int64(st, 14, host->event_id(ev));
	hm_bind_text(st, 15, host->event_time(ev), ID_MAX);
	sqlite3_bind_int64(st, 16, host->event_time_us(ev));
	return hm_run(st);
}

/* The latest run of an operation (see schema/006_media.sql).  Events come
 * in event-time order, a Started first among events of one instant, so a
 * run is Started events then terminal ones, and its last event decides:
 * its latest terminal event, or its latest Started while it has none. */
struct run {
	int n;
	int64_t first_id, last_id, started_at;
	bool ended; /* the run has a terminal event */
	int64_t ended_at;
};

static void fold(struct run *r, int64_t id, bool started, int64_t t)
{
	if (r->n++ == 0 || (r->ended && started)) {
		r->first_id = id; /* after an end, a Started means a reused context */
		r->started_at = t;
		r->ended = false;
	}
	r->last_id = id;
	if (!started) {
		r->ended = true;
		r->ended_at = t;
	}
}

static int fold_operation(struct hm_state *s, int64_t event_id, struct run *r)
{
	sqlite3_stmt *st = s->stmt[SELECT_RUN];
	int rc;

	memset(r, 0, sizeof(*r));
	sqlite3_bind_int64(st, 1, event_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fold(r, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1) != 0,
		     sqlite3_column_int64(st, 2));
	}
	return hm_finish(st, rc);
}

static int store_operation(struct hm_state *s, const struct media_event *m, const struct run *r)
{
	sqlite3_stmt *st = s->stmt[m->context != NULL ? UPSERT_NAMED : UPSERT_UNNAMED];

	sqlite3_bind_int64(st, 1, r->started_at);
	hm_bind_opt_int(st, 2, r->ended, r->ended_at);
	sqlite3_bind_int64(st, 3, r->first_id);
	sqlite3_bind_int64(st, 4, r->last_id);
	sqlite3_bind_int64(st, 5, r->last_id); /* the deciding event */
	return hm_run(st);
}

static enum ch_result media_handle(void *state, const struct ch_event *ev)
{
	struct hm_state *s = state;
	const char *kind = type_kind(host->event_type(ev));
	struct media_event m;
	struct run r;
	int rc;

	if (kind == NULL)
		return CH_OK; /* a media type this module does not know (yet) */
	if (hm_db(s) == NULL)
		return hm_db_error(s, SQLITE_BUSY, "no database transaction");
	rc = hm_prepare(s);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "prepare");
	read_event(ev, kind, &m);
	rc = insert_event(s, ev, &m);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "insert media_events");
	rc = fold_operation(s, host->event_id(ev), &r);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "read media_events");
	if (r.n == 0) {
		host->set_error(s->ctx, "media: event %lld not in media_events",
		                (long long)host->event_id(ev));
		return CH_RETRY;
	}
	rc = store_operation(s, &m, &r);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "upsert media_operations");
	return CH_OK;
}

static int media_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	host = h;
	return hm_init(h, ctx, "media", sql, N_STMTS, state);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "media",
    .version = "1.0",
    .description = "play and recognize operations (media_events, media_operations)",
    .event_types = event_types,
    .init = media_init,
    .handle = media_handle,
    .fini = hm_fini,
};

HM_HANDLER_ENTRY(descriptor)
