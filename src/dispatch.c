/* dispatch.c - see dispatch.h
 *
 * Every decision is a row in deliveries, written before the next one is
 * taken, so the state after any crash is one of the states described in
 * dispatch.h and a restart simply continues.
 */
#include "dispatch.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions.h"
#include "clocks.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "writelock.h"

#define ENQUEUE_ROWS   1024 /* journal rows looked at per step */
#define YIELD_EVERY    32   /* rows between two looks at whether intake waits */
#define YIELD_AFTER_US 300  /* a batch commits early for intake after this long */
#define IDLE_POLL_MS   250  /* how often an idle worker looks for due retries */
#define ERROR_PAUSE_MS 1000 /* after a store error */

/* The journal holds only JSON the intake validated; these limits only keep
 * a damaged row from costing unbounded memory. */
static const struct ch_json_limits journal_json_limits = {.max_depth = 1024,
                                                          .max_string = 64u << 20};

struct claim {
	int64_t event_id;
	long attempts; /* including the one being made */
};

static void now_text(char buf[CH_TIME_TEXT_SIZE])
{
	ch_time_format(ch_clock_us(CLOCK_REALTIME), buf);
}

static void fill_defaults(const struct ch_dispatch_options *in, struct ch_dispatch_options *o)
{
	*o = *in;
	if (o->max_attempts <= 0)
		o->max_attempts = 5;
	if (o->retry_base_ms < 0)
		o->retry_base_ms = 1000;
	if (o->retry_max_ms < o->retry_base_ms)
		o->retry_max_ms = o->retry_base_ms;
	if (o->batch <= 0)
		o->batch = 256;
	if (o->share <= 0)
		o->share = CH_HANDLER_SHARE_DEFAULT;
}

static int db_fail(struct ch_error *err, sqlite3 *db, const char *what)
{
	return ch_error_set(err, 503, "StoreUnavailable", "dispatch: %s: %s", what,
	                    sqlite3_errmsg(db));
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct ch_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return db_fail(err, db, "prepare");
	return 0;
}

/* The statements of a step, prepared once per instance (plugin.h). */
enum dispatch_stmt {
	DS_CURSOR,
	DS_JOURNAL_ROWS,
	DS_ENQUEUE,
	DS_ADVANCE,
	DS_SUSPECT,
	DS_DUE,
	DS_ATTEMPT,
	DS_QUARANTINE,
	DS_EVENT,
	DS_SETTLE,
	DS_COUNT
};

static const char *const dispatch_sql[DS_COUNT] = {
    [DS_CURSOR] = "SELECT cursor FROM handlers WHERE name = ?1",
    [DS_JOURNAL_ROWS] = "SELECT id, event_type FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    [DS_ENQUEUE] = "INSERT OR IGNORE INTO deliveries (handler, event_id, state, attempts, "
                   "updated_at) VALUES (?1, ?2, 'pending', 0, ?3)",
    [DS_ADVANCE] = "UPDATE handlers SET cursor = ?2 WHERE name = ?1",
    /* The open deliveries are a few at the end of every delivery a handler
     * ever had.  Without statistics SQLite walks the primary key from the
     * first one, done rows and all: 26 ms a claim with 500k done, and
     * catch-up and replay slowed as the journal grew.  Hence INDEXED BY the
     * partial index; the WHERE repeats the index's own so it applies. */
    [DS_SUSPECT] = "SELECT event_id, attempts FROM deliveries INDEXED BY deliveries_open "
                   "WHERE handler = ?1 AND state IN ('pending', 'failed') AND "
                   "state = 'pending' AND attempts > 0 ORDER BY event_id LIMIT 1",
    [DS_DUE] = "SELECT event_id, attempts FROM deliveries INDEXED BY deliveries_open "
               "WHERE handler = ?1 AND state IN ('pending', 'failed') AND next_attempt_us <= ?2 "
               "ORDER BY event_id LIMIT ?3",
    [DS_ATTEMPT] = "UPDATE deliveries SET state = 'pending', attempts = ?3, updated_at = ?4 "
                   "WHERE handler = ?1 AND event_id = ?2",
    [DS_QUARANTINE] = "UPDATE deliveries SET state = 'dead', last_error = ?3, updated_at = ?4 "
                      "WHERE handler = ?1 AND event_id = ?2",
    [DS_EVENT] = "SELECT format, event_type, source, subject, call_id, event_time, "
                 "event_time_us, received_at, received_us, raw FROM events WHERE id = ?1",
    [DS_SETTLE] = "UPDATE deliveries SET state = ?3, last_error = COALESCE(?4, last_error), "
                  "next_attempt_us = ?5, updated_at = ?6 WHERE handler = ?1 AND event_id = ?2",
};

/* Statement id of p, prepared on first use and kept (parsing SQL for every
 * step was a twentieth of a worker's time); reset, bindings cleared. */
static sqlite3_stmt *stmt(struct ch_plugin *p, enum dispatch_stmt id, struct ch_error *err)
{
	_Static_assert(DS_COUNT <= CH_DISPATCH_STMTS, "plugin.h: CH_DISPATCH_STMTS too small");
	sqlite3_stmt *st = p->dispatch_stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(p->ctx.db, dispatch_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                       &st, NULL) != SQLITE_OK) {
			db_fail(err, p->ctx.db, "prepare");
			return NULL;
		}
		p->dispatch_stmts[id] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Run a statement that returns no rows; finalizes it. */
static int exec_stmt(sqlite3 *db, sqlite3_stmt *st, const char *what, struct ch_error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(err, db, what);
	return 0;
}

/* Write transactions queue on the process's write lock first (writelock.h);
 * in_txn means both are held.  host.c's db() opens them the same way. */
static int begin(struct ch_context *ctx, struct ch_error *err)
{
	if (ctx->in_txn)
		return 0;
	ch_write_lock(-1);
	if (sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(err, ctx->db, "begin");
		ch_write_unlock();
		return -1;
	}
	ctx->in_txn = true;
	return 0;
}

static int commit(struct ch_context *ctx, struct ch_error *err)
{
	int rc = 0;

	if (!ctx->in_txn)
		return 0;
	ctx->in_txn = false;
	if (sqlite3_exec(ctx->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(err, ctx->db, "commit");
		sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
	}
	ch_write_unlock();
	if (rc == 0)
		ch_actions_after_commit(); /* wake the action sender if actions were queued */
	return rc;
}

static void rollback(struct ch_context *ctx)
{
	if (ctx->in_txn) {
		sqlite3_exec(ctx->db, "ROLLBACK", NULL, NULL, NULL);
		ch_write_unlock();
	}
	ctx->in_txn = ctx->in_savepoint = false;
}

/* --- registration -------------------------------------------------------- */

int ch_dispatch_register(sqlite3 *db, const struct ch_plugin *p, struct ch_error *err)
{
	char patterns[1024] = "", when[CH_TIME_TEXT_SIZE];
	size_t used = 0;
	sqlite3_stmt *st;

	for (char **pat = p->patterns; *pat != NULL && used < sizeof(patterns); pat++)
		used += (size_t)snprintf(patterns + used, sizeof(patterns) - used, "%s%s",
		                         used ? " " : "", *pat);
	now_text(when);
	if (prepare(db,
	            "INSERT INTO handlers (name, module, version, description, event_types, "
	            "cursor, loaded_at, active) VALUES (?1, ?2, ?3, ?4, ?5, "
	            "(SELECT COALESCE(MAX(id), 0) FROM events), ?6, 1) "
	            "ON CONFLICT (name) DO UPDATE SET module = excluded.module, "
	            "version = excluded.version, description = excluded.description, "
	            "event_types = excluded.event_types, loaded_at = excluded.loaded_at, "
	            "active = 1",
	            &st, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->module_path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->desc->version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->desc->description, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, patterns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, when, -1, SQLITE_STATIC);
	return exec_stmt(db, st, "register handler", err);
}

int ch_dispatch_none_active(const char *db_path, long busy_timeout_ms, struct ch_error *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, (int)busy_timeout_ms);
	if (rc == SQLITE_OK) {
		ch_write_lock(-1); /* queue with the journal writer, not against it */
		rc = sqlite3_exec(db, "UPDATE handlers SET active = 0 WHERE active", NULL, NULL,
		                  NULL);
		ch_write_unlock();
	}
	if (rc != SQLITE_OK)
		ch_error_set(err, 503, "StoreUnavailable", "%s: marking handlers inactive: %s",
		             db_path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Every handler the daemon runs now is active; the others were configured
 * once and are kept (their history stays) but marked inactive. */
static int register_all(struct ch_plugin_set *set, struct ch_error *err)
{
	struct ch_context *ctx;

	if (set->n == 0)
		return 0;
	ctx = &set->items[0]->ctx;
	if (begin(ctx, err) < 0)
		return -1;
	if (sqlite3_exec(ctx->db, "UPDATE handlers SET active = 0", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_fail(err, ctx->db, "register handlers");
		rollback(ctx);
		return -1;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (ch_dispatch_register(ctx->db, set->items[i], err) < 0) {
			rollback(ctx);
			return -1;
		}
	}
	return commit(ctx, err);
}

/* --- one step ------------------------------------------------------------- */

/* New journal rows past each handler's cursor become its pending deliveries.
 * The handlers of one worker share the pass over the journal (one read of
 * each row, not one per handler: with five handlers, most of whose types an
 * event does not match, the reads were a third of a worker's time).  Runs on
 * ps[0]'s connection, in the caller's transaction. */
static int enqueue(struct ch_plugin **ps, size_t n, long *enqueued, struct ch_error *err)
{
	struct ch_plugin *p0 = ps[0];
	sqlite3 *db = p0->ctx.db;
	sqlite3_stmt *cur, *rows, *ins, *upd;
	char when[CH_TIME_TEXT_SIZE];
	int64_t *cursor, from = INT64_MAX, last;
	int rc = -1;

	*enqueued = 0;
	now_text(when);
	if ((cursor = calloc(n, sizeof(*cursor))) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	if ((cur = stmt(p0, DS_CURSOR, err)) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_text(cur, 1, ps[i]->ctx.name, -1, SQLITE_STATIC);
		if (sqlite3_step(cur) != SQLITE_ROW) {
			sqlite3_reset(cur);
			ch_error_set(err, 500, "HandlerNotRegistered",
			             "dispatch: handler \"%s\" is not in the handlers table",
			             ps[i]->ctx.name);
			goto out;
		}
		cursor[i] = sqlite3_column_int64(cur, 0);
		from = cursor[i] < from ? cursor[i] : from;
		sqlite3_reset(cur);
	}
	last = from;
	if ((rows = stmt(p0, DS_JOURNAL_ROWS, err)) == NULL ||
	    (ins = stmt(p0, DS_ENQUEUE, err)) == NULL || (upd = stmt(p0, DS_ADVANCE, err)) == NULL)
		goto out;
	sqlite3_bind_int64(rows, 1, from);
	sqlite3_bind_int(rows, 2, ENQUEUE_ROWS);
	sqlite3_bind_text(ins, 3, when, -1, SQLITE_STATIC);
	for (long seen = 0; (rc = sqlite3_step(rows)) == SQLITE_ROW; seen++) {
		const char *type = (const char *)sqlite3_column_text(rows, 1);

		/* Intake waits for this transaction: stop here, the cursors say
		 * where the next pass goes on. */
		if (seen > 0 && seen % YIELD_EVERY == 0 && ch_write_contended()) {
			rc = SQLITE_DONE;
			break;
		}
		last = sqlite3_column_int64(rows, 0);
		for (size_t i = 0; i < n && type != NULL; i++) {
			if (last <= cursor[i] || !ch_plugin_matches(ps[i], type))
				continue;
			sqlite3_bind_text(ins, 1, ps[i]->ctx.name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 2, last);
			rc = sqlite3_step(ins);
			sqlite3_reset(ins);
			if (rc != SQLITE_DONE) {
				rc = db_fail(err, db, "enqueue");
				goto out;
			}
			(*enqueued)++;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = db_fail(err, db, "read journal");
		goto out;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (last <= cursor[i])
			continue;
		sqlite3_bind_text(upd, 1, ps[i]->ctx.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, last);
		if (sqlite3_step(upd) != SQLITE_DONE)
			rc = db_fail(err, db, "advance cursor");
		sqlite3_reset(upd);
		*enqueued += *enqueued == 0; /* a cursor moved: that was work too */
	}
out:
	/* No statement may stay mid-step: an open read would keep the
	 * connection's snapshot (see load_event). */
	for (int i = DS_CURSOR; i <= DS_ADVANCE; i++)
		sqlite3_reset(p0->dispatch_stmts[i]);
	free(cursor);
	return rc;
}

/* Pick the deliveries to run and count their attempt now.  A suspect (an
 * attempt was counted but never settled: the process died under it) runs
 * alone, so a poison event cannot take its neighbours down with it.
 * Candidates are read first and updated after: SQLite leaves it undefined
 * whether a pending SELECT sees rows changed under it. */
static int claim(struct ch_plugin *p, const struct ch_dispatch_options *o, struct claim *out,
                 size_t *n_out, long *quarantined, struct ch_error *err)
{
	sqlite3 *db = p->ctx.db;
	sqlite3_stmt *sel, *upd, *dead;
	char when[CH_TIME_TEXT_SIZE], why[160];
	size_t n = 0, kept = 0;
	int rc = SQLITE_DONE;

	*n_out = 0;
	*quarantined = 0;
	now_text(when);
	/* Suspects only come from a process that died, so one look per loaded
	 * instance finds them all: the query scans every open delivery. */
	if (!p->suspects_checked) {
		if ((sel = stmt(p, DS_SUSPECT, err)) == NULL)
			return -1;
		sqlite3_bind_text(sel, 1, p->ctx.name, -1, SQLITE_STATIC);
		rc = sqlite3_step(sel);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(sel);
			p->suspects_checked = true;
		}
	}
	if (rc == SQLITE_DONE) {
		if ((sel = stmt(p, DS_DUE, err)) == NULL)
			return -1;
		sqlite3_bind_text(sel, 1, p->ctx.name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sel, 2, ch_clock_us(CLOCK_REALTIME));
		sqlite3_bind_int64(sel, 3, o->batch);
		rc = sqlite3_step(sel);
	}
	for (; rc == SQLITE_ROW && n < (size_t)o->batch; rc = sqlite3_step(sel)) {
		if (n > 0 && n % YIELD_EVERY == 0 && ch_write_contended())
			break; /* intake waits: claim the rest next time */
		out[n].event_id = sqlite3_column_int64(sel, 0);
		out[n].attempts = (long)sqlite3_column_int64(sel, 1) + 1;
		n++;
	}
	sqlite3_reset(sel);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(err, db, "claim");
	if ((upd = stmt(p, DS_ATTEMPT, err)) == NULL ||
	    (dead = stmt(p, DS_QUARANTINE, err)) == NULL)
		return -1;
	sqlite3_bind_text(upd, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(upd, 4, when, -1, SQLITE_STATIC);
	sqlite3_bind_text(dead, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(dead, 4, when, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = upd;

		if (out[i].attempts > o->max_attempts) {
			snprintf(why, sizeof(why),
			         "quarantined: the process stopped during each of %ld attempts "
			         "(did the handler crash?)",
			         out[i].attempts - 1);
			sqlite3_bind_text(dead, 3, why, -1, SQLITE_TRANSIENT);
			st = dead;
			ch_error_log("handler=%s event=%lld %s", p->ctx.name,
			             (long long)out[i].event_id, why);
			ch_metrics_delivery(p->ctx.name, "dead"); /* metrics: quarantined */
			(*quarantined)++;
		} else {
			sqlite3_bind_int64(upd, 3, out[i].attempts);
			out[kept++] = out[i];
		}
		sqlite3_bind_int64(st, 2, out[i].event_id);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return db_fail(err, db, "claim");
	}
	*n_out = kept;
	return 0;
}

static const char *column_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Copy column i into buf at *used; NULL stays NULL. */
static const char *keep_column(sqlite3_stmt *st, int i, char *buf, size_t *used)
{
	const char *text = column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	char *copy = buf + *used;

	if (text == NULL)
		return NULL;
	memcpy(copy, text, n);
	copy[n] = '\0';
	*used += n + 1;
	return copy;
}

/* Build the event from its journal row (st, as selected in run()), copying
 * what it needs into *owned: the statement is reset before the handler runs,
 * because a read left open on the connection would stop the handler's write
 * transaction from starting once another connection has written. */
static int load_event(sqlite3_stmt *st, int64_t id, struct ch_event *ev, char **owned,
                      struct ch_json_doc **doc, char *why, size_t why_size)
{
	struct ch_error perr;
	size_t size = 0, used = 0;
	bool timed = sqlite3_column_type(st, 5) != SQLITE_NULL;

	memset(ev, 0, sizeof(*ev));
	for (int i = 0; i <= 9; i++)
		size += (size_t)sqlite3_column_bytes(st, i) + 1;
	if ((*owned = malloc(size)) == NULL) {
		snprintf(why, why_size, "out of memory loading journal row %lld", (long long)id);
		return -1;
	}
	ev->journal_id = id;
	ev->format = keep_column(st, 0, *owned, &used);
	ev->type = keep_column(st, 1, *owned, &used);
	ev->source = keep_column(st, 2, *owned, &used);
	ev->subject = keep_column(st, 3, *owned, &used);
	ev->call_id = keep_column(st, 4, *owned, &used);
	/* a CloudEvent without "time": when it arrived is the best we know */
	ev->time = keep_column(st, timed ? 5 : 7, *owned, &used);
	ev->time_us = sqlite3_column_int64(st, timed ? 6 : 8);
	ev->raw_len = (size_t)sqlite3_column_bytes(st, 9);
	ev->raw = keep_column(st, 9, *owned, &used);
	if (ev->type == NULL || ev->time == NULL || ev->raw == NULL) {
		snprintf(why, why_size, "journal row %lld is incomplete", (long long)id);
		return -1;
	}
	if (ch_json_parse(ev->raw, ev->raw_len, &journal_json_limits, doc, &perr) < 0) {
		snprintf(why, why_size, "journal row %lld does not parse: %s", (long long)id,
		         perr.message);
		return -1;
	}
	ev->root = ch_json_root(*doc);
	ev->data = ch_json_get_ci(ev->root, "data");
	return 0;
}

/* Call the handler for one loaded event; its writes are in a savepoint. */
static enum ch_result call_handler(struct ch_plugin *p, const struct ch_event *ev)
{
	struct ch_context *ctx = &p->ctx;
	enum ch_result res;

	ctx->dispatching = true;
	ctx->in_savepoint = false;
	ctx->db_error = 0;
	ctx->error[0] = '\0';
	ch_host_set_current(ev);
	res = p->desc->handle(p->state, ev);
	ch_host_set_current(NULL);
	ctx->dispatching = false;
	if (res != CH_OK && res != CH_RETRY && res != CH_FAIL) {
		snprintf(ctx->error, sizeof(ctx->error), "handle() returned %d, not a ch_result",
		         (int)res);
		res = CH_FAIL;
	}
	if (ctx->db_error != 0 && (res == CH_OK || ctx->error[0] == '\0')) {
		/* db() failed: say why, and never count it as done */
		snprintf(ctx->error, sizeof(ctx->error), "could not open the transaction: %s",
		         sqlite3_errstr(ctx->db_error));
		res = CH_RETRY;
	}
	if (ctx->in_savepoint) {
		if (res != CH_OK)
			sqlite3_exec(ctx->db, "ROLLBACK TO handler", NULL, NULL, NULL);
		sqlite3_exec(ctx->db, "RELEASE handler", NULL, NULL, NULL);
		ctx->in_savepoint = false;
	}
	return res;
}

static int64_t backoff_us(const struct ch_dispatch_options *o, long attempts)
{
	int64_t ms = o->retry_base_ms;

	for (long i = 1; i < attempts && ms < o->retry_max_ms; i++)
		ms *= 2;
	return (ms > o->retry_max_ms ? o->retry_max_ms : ms) * 1000;
}

static int settle(struct ch_plugin *p, sqlite3_stmt *upd, const struct claim *c, enum ch_result res,
                  const char *why, const struct ch_dispatch_options *o, struct ch_error *err)
{
	const char *state = "done";
	int64_t next = 0;

	if (res == CH_RETRY && c->attempts < o->max_attempts) {
		state = "failed";
		next = ch_clock_us(CLOCK_REALTIME) + backoff_us(o, c->attempts);
	} else if (res != CH_OK) {
		state = "dead";
	}
	ch_metrics_delivery(p->ctx.name, state); /* metrics: the attempt's outcome */
	if (res != CH_OK)
		ch_warn("handler=%s event=%lld attempt=%ld state=%s error=\"%s\"", p->ctx.name,
		        (long long)c->event_id, c->attempts, state, why[0] ? why : "(none given)");
	if (begin(&p->ctx, err) < 0)
		return -1;
	sqlite3_bind_text(upd, 3, state, -1, SQLITE_STATIC);
	if (res == CH_OK)
		sqlite3_bind_null(upd, 4);
	else
		sqlite3_bind_text(upd, 4, why[0] ? why : "(the handler gave no reason)", -1,
		                  SQLITE_TRANSIENT);
	sqlite3_bind_int64(upd, 5, next);
	sqlite3_bind_int64(upd, 2, c->event_id);
	if (sqlite3_step(upd) != SQLITE_DONE)
		return db_fail(err, p->ctx.db, "settle");
	sqlite3_reset(upd);
	return 0;
}

/* Run the claimed deliveries in one transaction (opened lazily: by the first
 * handler write, or by the first settle). */
static int run(struct ch_plugin *p, const struct claim *claims, size_t n,
               const struct ch_dispatch_options *o, struct ch_error *err)
{
	sqlite3_stmt *sel = NULL, *upd = NULL;
	char when[CH_TIME_TEXT_SIZE];
	bool handler_txn, may_block = p->desc->flags & CH_HANDLER_OWN_THREAD;
	int64_t txn_since = 0; /* when the open transaction began */
	int rc = -1;

	now_text(when);
	if ((sel = stmt(p, DS_EVENT, err)) == NULL || (upd = stmt(p, DS_SETTLE, err)) == NULL)
		goto out;
	sqlite3_bind_text(upd, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(upd, 6, when, -1, SQLITE_STATIC);
	for (size_t i = 0; i < n; i++) {
		struct ch_json_doc *doc = NULL;
		struct ch_event ev;
		enum ch_result res = CH_FAIL;
		char why[sizeof(p->ctx.error)], *owned = NULL;
		int loaded = -1;

		sqlite3_bind_int64(sel, 1, claims[i].event_id);
		if (sqlite3_step(sel) != SQLITE_ROW)
			snprintf(why, sizeof(why), "journal row %lld is gone",
			         (long long)claims[i].event_id);
		else
			loaded = load_event(sel, claims[i].event_id, &ev, &owned, &doc, why,
			                    sizeof(why));
		sqlite3_reset(sel);
		if (loaded == 0) {
			res = call_handler(p, &ev);
			snprintf(why, sizeof(why), "%s", p->ctx.error);
		}
		ch_json_doc_free(doc);
		free(owned);
		handler_txn = p->ctx.in_txn;
		if (settle(p, upd, &claims[i], res, why, o, err) < 0)
			goto out;
		/* A handler that writes nothing (exec, jsonl) may be slow: never
		 * hold the write lock across its next call just for a done mark.
		 * Nor across the next call of one that declared it may block
		 * (OWN_THREAD): if that call never returns, the lock taken for
		 * this event's writes would stop intake with it.  And intake
		 * never waits for the rest of a batch. */
		if (p->ctx.in_txn && txn_since == 0)
			txn_since = ch_clock_us(CLOCK_MONOTONIC);
		if (!handler_txn || may_block ||
		    (ch_write_contended() &&
		     ch_clock_us(CLOCK_MONOTONIC) - txn_since >= YIELD_AFTER_US)) {
			txn_since = 0;
			if (commit(&p->ctx, err) < 0)
				goto out;
		}
	}
	rc = commit(&p->ctx, err);
out:
	if (rc < 0)
		rollback(&p->ctx);
	sqlite3_reset(upd);
	return rc;
}

/* Is any delivery of p due now?  A read, outside any write transaction: most
 * rounds most handlers have nothing (a handler sees only its event types),
 * and an empty claim still took the write lock, in intake's way.  Until the
 * suspects have been looked for, the answer is yes. */
static int anything_due(struct ch_plugin *p, struct ch_error *err)
{
	sqlite3_stmt *sel;
	int rc;

	if (!p->suspects_checked)
		return 1;
	if ((sel = stmt(p, DS_DUE, err)) == NULL)
		return -1;
	sqlite3_bind_text(sel, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(sel, 2, ch_clock_us(CLOCK_REALTIME));
	sqlite3_bind_int64(sel, 3, 1);
	rc = sqlite3_step(sel);
	sqlite3_reset(sel); /* no read transaction is kept open */
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(err, p->ctx.db, "look for due deliveries");
	return rc == SQLITE_ROW;
}

/* Claim what is due and run it: one transaction counts the attempts, the
 * next holds the handler's writes and the outcomes. */
static int claim_and_run(struct ch_plugin *p, const struct ch_dispatch_options *o, long *did,
                         struct ch_error *err)
{
	struct claim *claims;
	long quarantined = 0;
	size_t n = 0;
	int rc = anything_due(p, err);

	if (rc <= 0)
		return rc;
	if ((claims = calloc((size_t)o->batch, sizeof(*claims))) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	rc = begin(&p->ctx, err);
	if (rc == 0)
		rc = claim(p, o, claims, &n, &quarantined, err);
	if (rc == 0)
		rc = commit(&p->ctx, err); /* the attempts are counted before anything runs */
	else
		rollback(&p->ctx);
	if (rc == 0 && n > 0)
		rc = run(p, claims, n, o, err);
	free(claims);
	*did += quarantined + (long)n;
	return rc;
}

int ch_dispatch_enqueue(struct ch_plugin **ps, size_t n, long *did, struct ch_error *err)
{
	long enqueued = 0;
	int rc = begin(&ps[0]->ctx, err);

	if (rc == 0)
		rc = enqueue(ps, n, &enqueued, err);
	if (rc == 0)
		rc = commit(&ps[0]->ctx, err);
	else
		rollback(&ps[0]->ctx);
	*did += enqueued;
	return rc;
}

int ch_dispatch_step(sqlite3 *db, struct ch_plugin *p, const struct ch_dispatch_options *opts,
                     long *did, struct ch_error *err)
{
	struct ch_dispatch_options o;

	*did = 0;
	fill_defaults(opts, &o);
	if (db != p->ctx.db)
		return ch_error_set(err, 500, "InternalError",
		                    "dispatch: handler \"%s\" runs on another connection",
		                    p->ctx.name);
	if (ch_dispatch_enqueue(&p, 1, did, err) < 0)
		return -1;
	return claim_and_run(p, &o, did, err);
}

/* --- replay --------------------------------------------------------------- */

/* Mark every matching journal row up to the cursor (rows past it are
 * enqueued by the steps anyway) as pending again, with fresh attempts. */
static int mark_for_replay(struct ch_plugin *p, int64_t since_us, int64_t *marked,
                           struct ch_error *err)
{
	sqlite3 *db = p->ctx.db;
	sqlite3_stmt *rows = NULL, *ins = NULL;
	char when[CH_TIME_TEXT_SIZE];
	int rc = -1, step;

	*marked = 0;
	now_text(when);
	if (begin(&p->ctx, err) < 0)
		return -1;
	if (prepare(db,
	            "SELECT id, event_type FROM events WHERE id <= (SELECT cursor FROM handlers "
	            "WHERE name = ?1) AND COALESCE(event_time_us, received_us) >= ?2 ORDER BY id",
	            &rows, err) < 0 ||
	    prepare(db,
	            "INSERT INTO deliveries (handler, event_id, state, attempts, updated_at) "
	            "VALUES (?1, ?2, 'pending', 0, ?3) ON CONFLICT (handler, event_id) DO UPDATE "
	            "SET state = 'pending', attempts = 0, next_attempt_us = 0, "
	            "updated_at = excluded.updated_at",
	            &ins, err) < 0)
		goto out;
	sqlite3_bind_text(rows, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(rows, 2, since_us);
	sqlite3_bind_text(ins, 1, p->ctx.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, when, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(rows)) == SQLITE_ROW) {
		const char *type = column_text(rows, 1);

		if (type == NULL || !ch_plugin_matches(p, type))
			continue;
		sqlite3_bind_int64(ins, 2, sqlite3_column_int64(rows, 0));
		if (sqlite3_step(ins) != SQLITE_DONE) {
			db_fail(err, db, "mark for replay");
			goto out;
		}
		sqlite3_reset(ins);
		(*marked)++;
	}
	if (step != SQLITE_DONE) {
		db_fail(err, db, "read journal");
		goto out;
	}
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	return commit(&p->ctx, err);
out:
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	rollback(&p->ctx);
	return rc;
}

int ch_dispatch_replay(sqlite3 *db, struct ch_plugin *p, const struct ch_dispatch_options *o,
                       int64_t since_us, void (*progress)(void *arg, int64_t done, int64_t total),
                       void *arg, struct ch_error *err)
{
	int64_t total, done = 0;
	sqlite3_stmt *known;
	long did;
	bool registered;

	if (db != p->ctx.db)
		return ch_error_set(err, 500, "InternalError",
		                    "replay: handler \"%s\" runs on another connection",
		                    p->ctx.name);
	if (prepare(db, "SELECT 1 FROM handlers WHERE name = ?1", &known, err) < 0)
		return -1;
	sqlite3_bind_text(known, 1, p->ctx.name, -1, SQLITE_STATIC);
	registered = sqlite3_step(known) == SQLITE_ROW;
	sqlite3_finalize(known);
	/* A handler the daemon never ran starts at the end of the journal; the
	 * replay below is what back-fills it. */
	if (!registered && ch_dispatch_register(db, p, err) < 0)
		return -1;
	if (mark_for_replay(p, since_us, &total, err) < 0)
		return -1;
	if (progress != NULL)
		progress(arg, 0, total);
	do {
		if (ch_dispatch_step(db, p, o, &did, err) < 0)
			return -1;
		done += did;
		if (progress != NULL && did > 0)
			progress(arg, done < total ? done : total, total);
	} while (did > 0);
	return 0;
}

/* --- workers --------------------------------------------------------------- */

struct worker {
	struct ch_workers *all;
	pthread_t thread;
	bool started;
	struct ch_plugin **plugins; /* borrowed from the set */
	size_t n;
	unsigned long reopen_seen;
};

struct ch_workers {
	pthread_mutex_t lock;
	pthread_cond_t wake;  /* a kick, a reopen or stop: for idle workers */
	pthread_cond_t alarm; /* a reopen or stop only: a resting worker sleeps through kicks */
	bool stopping;
	unsigned long kicks, reopens; /* generation counters, guarded by lock */
	struct ch_dispatch_options opts;
	struct ch_plugin_set *set;
	struct worker *workers;
	size_t n_workers;
};

static void reopen_plugins(struct worker *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->plugins[i]->desc->reopen != NULL)
			w->plugins[i]->desc->reopen(w->plugins[i]->state);
	}
}

/* Intake first.  When the journal writer had to queue for the write lock
 * while a worker worked, the worker rests share - 1 times as long as it
 * worked ([handlers] share), so the handlers take at most 1/share of the time
 * (the write lock, a core, the disk) from busy intake: an acknowledged callback is what a sender
 * waits for, a derived row can come a little later.  They catch up as soon as intake pauses.  With
 * all->lock held; wakes early only to stop or reopen (all->alarm: the commits' kicks, thousands a
 * second, would only wake it to sleep again). */
static void rest(struct ch_workers *all, int64_t us)
{
	struct timespec ts;
	unsigned long reopens = all->reopens;

	if (us <= 0)
		return;
	ts = ch_deadline_us(CLOCK_REALTIME, us);
	while (!all->stopping && all->reopens == reopens &&
	       pthread_cond_timedwait(&all->alarm, &all->lock, &ts) == 0)
		;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ch_workers *all = w->all;
	struct ch_dispatch_options opts;
	unsigned long seen;
	bool failing = false;

	fill_defaults(&all->opts, &opts);
	pthread_setname_np(pthread_self(), "ch-handlers"); /* for top -H, perf, the tests */

	pthread_mutex_lock(&all->lock);
	seen = all->kicks;
	while (!all->stopping) {
		long total = 0, pause_ms = IDLE_POLL_MS;
		bool reopen = w->reopen_seen != all->reopens;
		int64_t started;
		unsigned long intake_waits;

		w->reopen_seen = all->reopens;
		seen = all->kicks;
		pthread_mutex_unlock(&all->lock);
		started = ch_clock_us(CLOCK_MONOTONIC);
		intake_waits = ch_write_intake_waits();
		if (reopen)
			reopen_plugins(w);
		for (size_t i = 0; i < w->n; i++) {
			struct ch_error err;
			long did = 0;
			/* The worker's handlers share one enqueue pass (enqueue()). */
			int rc = i == 0 ? ch_dispatch_enqueue(w->plugins, w->n, &did, &err) : 0;

			if (rc == 0)
				rc = claim_and_run(w->plugins[i], &opts, &did, &err);
			if (rc < 0) {
				if (!failing)
					ch_error_log("handler=%s dispatch failed, will retry: %s",
					             w->plugins[i]->ctx.name, err.message);
				failing = true;
				pause_ms = ERROR_PAUSE_MS;
			} else if (failing && did >= 0) {
				failing = false;
			}
			total += did;
		}
		pthread_mutex_lock(&all->lock);
		if (total > 0 && pause_ms != ERROR_PAUSE_MS) {
			/* More may be waiting: go again, at once unless intake had to
			 * wait for the write lock meanwhile. */
			if (ch_write_intake_waits() != intake_waits)
				rest(all,
				     (ch_clock_us(CLOCK_MONOTONIC) - started) * (opts.share - 1));
			continue;
		}
		if (all->kicks == seen && !all->stopping && w->reopen_seen == all->reopens) {
			struct timespec ts =
			    ch_deadline_us(CLOCK_REALTIME, (int64_t)pause_ms * 1000);

			pthread_cond_timedwait(&all->wake, &all->lock, &ts);
		}
	}
	pthread_mutex_unlock(&all->lock);
	return NULL;
}

static struct worker *add_worker(struct ch_workers *all)
{
	struct worker *w = &all->workers[all->n_workers++];

	memset(w, 0, sizeof(*w));
	w->all = all;
	return w;
}

int ch_workers_start(struct ch_plugin_set *set, const struct ch_dispatch_options *o,
                     struct ch_workers **out, struct ch_error *err)
{
	struct ch_workers *all = calloc(1, sizeof(*all));
	struct worker *shared = NULL;

	*out = NULL;
	if (all == NULL ||
	    (set->n > 0 && (all->workers = calloc(set->n, sizeof(struct worker))) == NULL)) {
		free(all);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	fill_defaults(o, &all->opts);
	all->set = set;
	pthread_mutex_init(&all->lock, NULL);
	pthread_cond_init(&all->wake, NULL);
	pthread_cond_init(&all->alarm, NULL);
	if (register_all(set, err) < 0)
		goto fail;
	/* Fast handlers share one worker (one writer at a time is all SQLite
	 * allows anyway); a slow one gets its own so it delays only itself. */
	for (size_t i = 0; i < set->n; i++) {
		struct ch_plugin *p = set->items[i];
		struct worker *w;

		ch_metrics_add_handler(p->ctx.name); /* metrics: its series */
		if (p->desc->flags & CH_HANDLER_OWN_THREAD)
			w = add_worker(all);
		else
			w = shared != NULL ? shared : (shared = add_worker(all));
		if (w->plugins == NULL &&
		    (w->plugins = calloc(set->n, sizeof(*w->plugins))) == NULL) {
			ch_error_set(err, 500, "OutOfMemory", "out of memory");
			goto fail;
		}
		w->plugins[w->n++] = p;
	}
	for (size_t i = 0; i < all->n_workers; i++) {
		if (pthread_create(&all->workers[i].thread, NULL, worker_main, &all->workers[i]) !=
		    0) {
			ch_error_set(err, 500, "StartFailed",
			             "cannot start a handler worker thread");
			goto fail;
		}
		all->workers[i].started = true;
	}
	*out = all;
	return 0;
fail:
	ch_workers_stop(all);
	return -1;
}

/* Advance one of the generation counters and wake the idle workers (and the
 * resting ones too when alarm). */
static void bump(struct ch_workers *all, unsigned long *counter, bool alarm)
{
	pthread_mutex_lock(&all->lock);
	(*counter)++;
	pthread_cond_broadcast(&all->wake);
	if (alarm)
		pthread_cond_broadcast(&all->alarm);
	pthread_mutex_unlock(&all->lock);
}

void ch_workers_kick(struct ch_workers *all)
{
	if (all != NULL)
		bump(all, &all->kicks, false);
}

void ch_workers_reopen(struct ch_workers *all)
{
	if (all != NULL)
		bump(all, &all->reopens, true);
}

static void request_stop(struct ch_workers *all)
{
	pthread_mutex_lock(&all->lock);
	all->stopping = true;
	pthread_cond_broadcast(&all->wake);
	pthread_cond_broadcast(&all->alarm);
	pthread_mutex_unlock(&all->lock);
}

/* Every worker has been joined. */
static void free_workers(struct ch_workers *all)
{
	for (size_t i = 0; i < all->n_workers; i++)
		free(all->workers[i].plugins);
	free(all->workers);
	pthread_mutex_destroy(&all->lock);
	pthread_cond_destroy(&all->wake);
	pthread_cond_destroy(&all->alarm);
	free(all);
}

void ch_workers_stop(struct ch_workers *all)
{
	if (all == NULL)
		return;
	request_stop(all);
	for (size_t i = 0; i < all->n_workers; i++) {
		if (all->workers[i].started)
			pthread_join(all->workers[i].thread, NULL);
	}
	free_workers(all);
}

size_t ch_workers_stop_within(struct ch_workers *all, long timeout_ms, bool *stuck)
{
	struct timespec deadline;
	size_t n_stuck = 0;

	if (all == NULL)
		return 0;
	deadline = ch_deadline_us(CLOCK_REALTIME, (int64_t)timeout_ms * 1000);
	request_stop(all);
	for (size_t i = 0; i < all->n_workers; i++) {
		struct worker *w = &all->workers[i];

		if (!w->started || pthread_timedjoin_np(w->thread, NULL, &deadline) == 0)
			continue;
		for (size_t j = 0; j < w->n; j++) {
			for (size_t k = 0; k < all->set->n; k++)
				stuck[k] |= all->set->items[k] == w->plugins[j];
			ch_log_kv(CH_LOG_WARN,
			          "shutdown: handler still running at the deadline, abandoned",
			          "handler=%s timeout_ms=%ld", w->plugins[j]->ctx.name, timeout_ms);
			n_stuck++;
		}
	}
	/* A thread that is still running uses all, its worker and its plugins:
	 * they stay as they are, and the process exits. */
	if (n_stuck == 0)
		free_workers(all);
	return n_stuck;
}
