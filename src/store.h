/* store.h - the journal behind a narrow interface.
 *
 * Everything the daemon needs from durable storage goes through these calls,
 * so a PostgreSQL backend can later implement the same ones.  The SQLite
 * implementation (store_sqlite.c) runs in WAL mode; the schema is the
 * numbered files of schema/, compiled into the binary and applied in order at
 * open, tracked with PRAGMA user_version.
 *
 * Threading: a ch_store is used by one thread at a time (the journal writer).
 * A writable SQLite store also runs a checkpoint thread of its own, with its
 * own connection, from ch_store_open to ch_store_close.
 * Errors: anything that means "cannot write now" (busy/locked past the busy
 * timeout, disk full, read-only, I/O) is reported as status 503 code
 * "StoreUnavailable", so the sender retries and nothing acknowledged is lost.
 */
#ifndef CH_STORE_H
#define CH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ch_dedupe_limits; /* dedupe.h */

/* FULL is the zero value: a zeroed options struct is durable, never silently not. */
enum ch_store_sync { CH_SYNC_FULL, CH_SYNC_NORMAL, CH_SYNC_OFF };

struct ch_store_options {
	const char *path;               /* database file; its directory is created if missing */
	enum ch_store_sync synchronous; /* default CH_SYNC_FULL */
	int busy_timeout_ms;            /* how long a write waits for a lock held elsewhere */
	bool read_only;                 /* open without creating or migrating (report tools) */
	const struct ch_dedupe_limits *dedupe_limits; /* tests only; NULL: the defaults */
};

/* One journal row; all pointers are borrowed for the duration of the call. */
struct ch_journal_row {
	const char *format; /* "preview" | "eventgrid" | "cloudevents" */
	const char *type;
	const char *id;            /* nullable */
	const char *source;        /* nullable: CloudEvents source / Event Grid topic */
	const char *subject;       /* nullable */
	const char *call_id;       /* nullable */
	const char *event_time;    /* nullable, normalised UTC text */
	int64_t event_time_us;     /* meaningful when event_time != NULL */
	int64_t received_us;       /* when the request was received */
	const char *remote_addr;   /* "127.0.0.1:53422" */
	const char *endpoint;      /* the listener path it arrived on */
	const uint8_t *dedupe_key; /* 32 bytes */
	const char *raw;
	size_t raw_len;
};

struct ch_store;

int ch_store_open(const struct ch_store_options *opts, struct ch_store **out, struct ch_error *err);
void ch_store_close(struct ch_store *store);
/* Schema version now in the database (PRAGMA user_version) and the newest compiled in. */
int ch_store_schema_version(struct ch_store *store);
int ch_store_schema_latest(void);

/* One group-commit transaction: begin, then per request a savepoint holding its
 * rows (so one request's failure never fails its neighbours; a request of one
 * row needs none, a single append is atomic), then commit.  Checkpoints do not
 * happen in ch_store_commit: a writable store copies its WAL back into the
 * database on a thread of its own (checkpoint.h). */
int ch_store_begin(struct ch_store *store, struct ch_error *err);
int ch_store_savepoint(struct ch_store *store, struct ch_error *err);
int ch_store_release(struct ch_store *store, struct ch_error *err);
void ch_store_rollback_savepoint(struct ch_store *store);
/* Insert a row; *duplicate is set when its dedupe key is already journaled
 * (the row is then not inserted, and this is not an error). */
int ch_store_append(struct ch_store *store, const struct ch_journal_row *row, bool *duplicate,
                    struct ch_error *err);
int ch_store_commit(struct ch_store *store, struct ch_error *err);
void ch_store_rollback(struct ch_store *store);

/* Whether the duplicate check is merging its in-memory keys (dedupe.h): tests. */
bool ch_store_dedupe_merging(const struct ch_store *store);

/* A tiny write transaction: is the store writable right now? (readiness, recovery) */
int ch_store_probe(struct ch_store *store, struct ch_error *err);

#endif
