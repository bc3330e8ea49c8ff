/* metrics_db.c - see metrics_db.h */
#include "metrics_db.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define BUSY_TIMEOUT_MS 100 /* a scrape runs on the event loop: never wait long */

/* The count must walk the partial index of open deliveries
 * (schema/002_delivery.sql: deliveries_open), not the primary key, which
 * holds every delivery the handler ever had.  Without statistics the planner
 * picks the primary key, hence INDEXED BY (a schema without that index makes
 * the prepare fail, and the backlog is left out with a log line).  Its WHERE
 * repeats the index's own, which is what makes the partial index usable. */
static const char backlog_sql[] =
    "SELECT max(0, (SELECT coalesce(max(id), 0) FROM events) - h.cursor) + "
    "(SELECT count(*) FROM deliveries d INDEXED BY deliveries_open WHERE d.handler = h.name "
    "AND d.state IN ('pending', 'failed')) FROM handlers h WHERE h.name = ?1";

struct ch_metrics_db {
	char *path;
	sqlite3 *db;
	sqlite3_stmt *backlog;
	bool failing; /* log the first failure of a run of them, not each scrape */
};

struct ch_metrics_db *ch_metrics_db_new(const char *path)
{
	struct ch_metrics_db *mdb = calloc(1, sizeof(*mdb));

	if (mdb != NULL && (mdb->path = strdup(path)) == NULL) {
		free(mdb);
		return NULL;
	}
	return mdb;
}

static void close_db(struct ch_metrics_db *mdb)
{
	sqlite3_finalize(mdb->backlog);
	sqlite3_close(mdb->db); /* NULL is fine */
	mdb->backlog = NULL;
	mdb->db = NULL;
}

void ch_metrics_db_free(struct ch_metrics_db *mdb)
{
	if (mdb == NULL)
		return;
	close_db(mdb);
	free(mdb->path);
	free(mdb);
}

static int fail(struct ch_metrics_db *mdb, const char *what)
{
	if (!mdb->failing)
		ch_warn("metrics: cannot read the handler backlog (%s): %s", what,
		        mdb->db != NULL ? sqlite3_errmsg(mdb->db) : "out of memory");
	mdb->failing = true;
	close_db(mdb);
	return -1;
}

static int open_db(struct ch_metrics_db *mdb)
{
	if (mdb->backlog != NULL)
		return 0;
	if (sqlite3_open_v2(mdb->path, &mdb->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return fail(mdb, "open");
	sqlite3_busy_timeout(mdb->db, BUSY_TIMEOUT_MS);
	if (sqlite3_prepare_v2(mdb->db, backlog_sql, -1, &mdb->backlog, NULL) != SQLITE_OK)
		return fail(mdb, "prepare");
	return 0;
}

int ch_metrics_db_backlog(void *arg, const char *handler, int64_t *value)
{
	struct ch_metrics_db *mdb = arg;
	int rc;

	if (open_db(mdb) < 0)
		return -1;
	sqlite3_bind_text(mdb->backlog, 1, handler, -1, SQLITE_STATIC);
	rc = sqlite3_step(mdb->backlog);
	if (rc == SQLITE_ROW)
		*value = sqlite3_column_int64(mdb->backlog, 0);
	sqlite3_reset(mdb->backlog); /* ends the read transaction */
	sqlite3_clear_bindings(mdb->backlog);
	if (rc == SQLITE_ROW) {
		mdb->failing = false;
		return 0;
	}
	if (rc == SQLITE_DONE) /* not registered (yet) */
		return -1;
	return fail(mdb, "query");
}
