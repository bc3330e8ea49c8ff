/* hello.c - an example callhookd handler, built out of tree.
 *
 * Counts the events it sees per event type, in a table of its own:
 *
 *     sqlite3 callhookd.db 'SELECT * FROM hello_counts'
 *
 * It shows the rules every handler follows (see callhookd-handler(3)):
 *
 *   - at-least-once delivery: the same journal row may come again (a retry,
 *     a replay, a crash before the commit), so the count only moves when
 *     the event's journal id is new to hello_events;
 *   - disorder: events arrive in any order, so "latest" is decided by event
 *     time (max), never by arrival;
 *   - transactions: handle()'s writes commit together with the host's "done"
 *     mark, because they go through host->db(), which opened the transaction;
 *   - statements are prepared once, bound (never pasted), finalized in fini.
 *
 * Build:  cc -shared -fPIC $(pkg-config --cflags callhookd) -o hello.so hello.c \
 *             $(pkg-config --libs callhookd)
 * Use:    [handler hello]
 *         module = /path/to/hello.so
 *         greeting = hi
 *
 * The tables belong to the module, not to one instance: a module meant to be
 * configured twice ([handler a] and [handler b] with the same module) would
 * add host->name(ctx) to its keys.
 */
#include <sqlite3.h>
#include <stdlib.h>

#include <callhookd/handler.h>

/* The one piece of global state a module needs: the host's function table. */
static const struct ch_host *host;

struct hello {
	struct ch_context *ctx;
	sqlite3_stmt *remember; /* INSERT OR IGNORE into hello_events */
	sqlite3_stmt *count;    /* upsert into hello_counts */
};

/* init() runs with no transaction open, so each statement here commits on its
 * own (autocommit); IF NOT EXISTS makes that safe at every start-up. */
static const char schema[] =
    /* One row per journal row counted: what makes a second delivery a no-op. */
    "CREATE TABLE IF NOT EXISTS hello_events ("
    "  event_id   INTEGER PRIMARY KEY REFERENCES events (id)," /* the journal row */
    "  event_type TEXT NOT NULL"
    ");"
    /* The count per type and the newest event time seen for it. */
    "CREATE TABLE IF NOT EXISTS hello_counts ("
    "  event_type TEXT PRIMARY KEY,"
    "  n          INTEGER NOT NULL," /* distinct journal rows of this type */
    "  last_time  TEXT NOT NULL"     /* latest event time (UTC, sortable text) */
    ");";

static const char remember_sql[] =
    "INSERT OR IGNORE INTO hello_events (event_id, event_type) VALUES (?1, ?2)";
/* Normalised times ("2021-05-05T20:08:39.015796Z") sort as text. */
static const char count_sql[] = "INSERT INTO hello_counts (event_type, n, last_time)"
                                " VALUES (?1, 1, ?2)"
                                " ON CONFLICT (event_type) DO UPDATE SET n = n + 1,"
                                " last_time = max(last_time, excluded.last_time)";

static const struct ch_option options[] = {
    {"greeting", CH_OPT_STRING, "hello", false, "word logged at start-up"},
    {NULL, CH_OPT_STRING, NULL, false, NULL},
};

/* Every Call Automation event; the config's "events" key can narrow it. */
static const char *const default_events[] = {"Microsoft.Communication.*", NULL};

static void hello_fini(void *state)
{
	struct hello *hs = state;

	if (hs == NULL)
		return;
	sqlite3_finalize(hs->remember); /* NULL is fine */
	sqlite3_finalize(hs->count);
	free(hs);
}

static int hello_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	struct hello *hs;
	sqlite3 *db;

	host = h;
	if ((hs = calloc(1, sizeof(*hs))) == NULL) {
		host->set_error(ctx, "out of memory");
		return -1;
	}
	hs->ctx = ctx;
	db = host->db(ctx);
	if (db == NULL || sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, remember_sql, -1, &hs->remember, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, count_sql, -1, &hs->count, NULL) != SQLITE_OK) {
		/* The message becomes start-up's error line, naming this module. */
		host->set_error(ctx, "database: %s", db ? sqlite3_errmsg(db) : "unavailable");
		hello_fini(hs);
		return -1;
	}
	host->log(ctx, CH_LOG_INFO, "%s from %s", host->opt_str(ctx, "greeting"), host->name(ctx));
	*state = hs;
	return 0;
}

/* Run one bound statement to completion; the statement is ready for reuse. */
static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static enum ch_result hello_handle(void *state, const struct ch_event *ev)
{
	struct hello *hs = state;
	sqlite3 *db = host->db(hs->ctx); /* opens the transaction */
	const char *type = host->event_type(ev);

	if (db == NULL) {
		host->set_error(hs->ctx, "database busy");
		return CH_RETRY;
	}
	sqlite3_bind_int64(hs->remember, 1, host->event_id(ev));
	sqlite3_bind_text(hs->remember, 2, type, -1, SQLITE_TRANSIENT);
	if (run(hs->remember) != SQLITE_OK)
		goto db_error;
	if (sqlite3_changes(db) == 0)
		return CH_OK; /* counted on an earlier delivery */
	sqlite3_bind_text(hs->count, 1, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(hs->count, 2, host->event_time(ev), -1, SQLITE_TRANSIENT);
	if (run(hs->count) != SQLITE_OK)
		goto db_error;
	host->log(hs->ctx, CH_LOG_DEBUG, "%s: counted event %lld", type,
	          (long long)host->event_id(ev));
	return CH_OK;
db_error:
	/* Busy, full disk, I/O: all worth another try; the host rolls back. */
	host->set_error(hs->ctx, "database: %s", sqlite3_errmsg(db));
	return CH_RETRY;
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .flags = 0,
    .name = "hello",
    .version = "1.0",
    .description = "example: count events per type in hello_counts",
    .event_types = default_events,
    .options = options,
    .init = hello_init,
    .handle = hello_handle,
    .reopen = NULL, /* no files to reopen */
    .fini = hello_fini,
};

/* The only exported symbol.  NULL refuses a host of another major version. */
CH_EXPORT const struct ch_handler *ch_handler_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor)
{
	(void)host_abi_minor;
	return host_abi_major == CH_ABI_MAJOR ? &descriptor : NULL;
}
