/* ctl_events.c - the journal and delivery state, as callhookctl shows them. */
#include "ctl_events.h"

#include <string.h>
#include <time.h>

#include "timefmt.h"

/* The inner query takes the newest rows, the outer one puts them oldest
 * first, so a limited list ends with what arrived last, like tail(1). */
static const char list_sql[] =
    "SELECT id, received_at, event_time, format, event_type, call_id, subject FROM ("
    " SELECT * FROM events"
    " WHERE (:since IS NULL OR coalesce(event_time_us, received_us) >= :since)"
    "   AND (:until IS NULL OR coalesce(event_time_us, received_us) < :until)"
    "   AND (:call IS NULL OR call_id = :call)"
    "   AND (:type IS NULL OR event_type GLOB :type)"
    " ORDER BY id DESC LIMIT :limit)"
    " ORDER BY id";

static const char show_sql[] =
    "SELECT id, received_at, received_us, format, event_type, event_id, source, subject,"
    " call_id, event_time, event_time_us, remote_addr, endpoint, dedupe_key,"
    " (SELECT group_concat(handler || ':' || state, ' ') FROM"
    /* handler IN (...): a primary-key search per handler, not a scan of
     * every delivery (the key is (handler, event_id)) */
    "   (SELECT handler, state FROM deliveries WHERE handler IN (SELECT name FROM handlers)"
    "    AND event_id = :event ORDER BY handler))"
    "   AS deliveries,"
    " raw FROM events WHERE id = :event";

static const char raw_sql[] = "SELECT raw FROM events WHERE id = :event";

static const char dead_sql[] = "SELECT handler, event_id, event_type, call_id, attempts,"
                               " last_error, updated_at FROM dead_deliveries"
                               " WHERE (:handler IS NULL OR handler = :handler)"
                               " ORDER BY handler, event_id";

/* last_error stays: it is why the delivery died, worth keeping until the
 * retry settles it one way or the other. */
static const char retry_sql[] =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_us = 0,"
    " updated_at = :now"
    " WHERE state = 'dead' AND (:handler IS NULL OR handler = :handler)"
    "   AND (:event IS NULL OR event_id = :event)";

static const char handlers_sql[] =
    "SELECT h.name AS handler, h.module, h.version, h.event_types, h.active, h.loaded_at,"
    " h.cursor, b.unqueued, b.pending, b.failed, b.dead, b.done, b.backlog"
    " FROM handlers h JOIN handler_backlog b ON b.handler = h.name ORDER BY h.name";

/* Prepare, bind the filter, print, finalize. */
static int query_print(sqlite3 *db, const char *sql, const struct ctl_filter *f,
                       const struct ctl_print *p, long *rows, struct ch_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (ctl_prepare(db, sql, &st, err) < 0)
		return -1;
	rc = ctl_bind(st, f, err);
	if (rc == 0)
		rc = ctl_print_rows(st, p, rows, err);
	sqlite3_finalize(st);
	return rc;
}

int ctl_events_list(sqlite3 *db, const struct ctl_filter *f, const struct ctl_print *p,
                    struct ch_error *err)
{
	return query_print(db, list_sql, f, p, NULL, err);
}

static int show_raw(sqlite3 *db, int64_t id, FILE *out, struct ch_error *err)
{
	struct ctl_filter f = {.event = id};
	sqlite3_stmt *st;
	int rc;

	if (ctl_prepare(db, raw_sql, &st, err) < 0)
		return -1;
	if (ctl_bind(st, &f, err) < 0) {
		sqlite3_finalize(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 0);

		fwrite(sqlite3_column_text(st, 0), 1, len, out);
		putc('\n', out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = ch_error_set(err, 404, "NotFound", "no event %lld in the journal",
		                  (long long)id);
	} else {
		rc = ch_error_set(err, 500, "Database", "cannot read the journal: %s",
		                  sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

int ctl_events_show(sqlite3 *db, int64_t id, bool raw, const struct ctl_print *p,
                    struct ch_error *err)
{
	struct ctl_filter f = {.event = id};
	struct ctl_print vp = *p;
	long rows = 0;

	if (raw)
		return show_raw(db, id, p->out, err);
	vp.vertical = true;
	vp.json_column = "raw";
	if (query_print(db, show_sql, &f, &vp, &rows, err) < 0)
		return -1;
	if (rows == 0)
		return ch_error_set(err, 404, "NotFound", "no event %lld in the journal",
		                    (long long)id);
	return 0;
}

int ctl_dead_list(sqlite3 *db, const struct ctl_filter *f, const struct ctl_print *p,
                  struct ch_error *err)
{
	return query_print(db, dead_sql, f, p, NULL, err);
}

int ctl_dead_retry(sqlite3 *db, const struct ctl_filter *f, long *changed, struct ch_error *err)
{
	char now[CH_TIME_TEXT_SIZE];
	sqlite3_stmt *st;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ch_time_format((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, now);
	if (ctl_prepare(db, retry_sql, &st, err) < 0)
		return -1;
	rc = ctl_bind(st, f, err);
	if (rc == 0 && sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":now"), now, -1,
	                                 SQLITE_TRANSIENT) != SQLITE_OK)
		rc = ch_error_set(err, 500, "Database", "cannot bind: %s", sqlite3_errmsg(db));
	if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
		rc = ch_error_set(err, 500, "Database", "cannot update deliveries: %s",
		                  sqlite3_errmsg(db));
	if (rc == 0)
		*changed = (long)sqlite3_changes(db);
	sqlite3_finalize(st);
	return rc;
}

int ctl_handlers(sqlite3 *db, const struct ctl_print *p, struct ch_error *err)
{
	struct ctl_filter none = {0};

	return query_print(db, handlers_sql, &none, p, NULL, err);
}
