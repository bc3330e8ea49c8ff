/* writer.h - group commit: the journal writer thread.
 *
 * The event loop parses and validates requests, then submits one job per
 * request.  The writer takes every job queued since its last transaction,
 * writes them all in one transaction (a savepoint per job of several rows, and
 * a single row is one atomic INSERT, so one job's failure never fails its
 * neighbours), commits, and hands the jobs back to the loop thread, which
 * answers them.  While a transaction's fsync runs, the loop keeps reading the
 * next requests: that overlap is where the throughput comes from.  Ordering
 * rule: a job's done callback runs only after COMMIT returned.
 */
#ifndef CH_WRITER_H
#define CH_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "store.h"

struct event_base;
struct ch_writer;

struct ch_commit_job {
	/* set by the submitter; rows stay valid until done runs */
	const struct ch_journal_row *rows;
	size_t n_rows;
	void (*done)(struct ch_commit_job *job, void *arg); /* runs on the loop thread */
	void *arg;
	bool *row_duplicate; /* NULL, or n_rows flags the writer sets (per-type metrics) */
	/* set by the writer before done runs */
	size_t accepted, duplicates;
	struct ch_error err;        /* status 0 when committed */
	struct ch_commit_job *next; /* private */
};

/* The writer takes over the store (it alone uses it from now on).
 * lock_timeout_ms bounds its wait for a handler's transaction (writelock.h),
 * as busy_timeout bounds the wait for another process's: past it the group
 * is answered 503, so a handler that never ends its transaction cannot stop
 * intake, nor shutdown, for good. */
struct ch_writer *ch_writer_start(struct event_base *base, struct ch_store *store, long max_batch,
                                  long lock_timeout_ms, struct ch_error *err);
void ch_writer_submit(struct ch_writer *w, struct ch_commit_job *job);
/* fn(arg) runs on the writer thread after each COMMIT that added rows (the
 * handler workers are told there is new work).  Set it before submitting. */
void ch_writer_on_commit(struct ch_writer *w, void (*fn)(void *arg), void *arg);
/* Did the last transaction (or recovery probe) succeed? */
bool ch_writer_healthy(struct ch_writer *w);
/* Jobs submitted whose done callback has not run yet. */
size_t ch_writer_pending(struct ch_writer *w);
/* Finish every queued job, run their callbacks, stop the thread.  The store
 * is handed back to the caller to close. */
void ch_writer_stop(struct ch_writer *w);

#endif
