/* dispatch.h - at-least-once delivery of journaled events to handlers.
 *
 * State lives in the database (schema/002_delivery.sql), never in memory, so
 * a restart resumes where the last run stopped.  One step for one handler:
 *   1. enqueue: journal rows past handlers.cursor whose type matches become
 *      'pending' deliveries (cursor advanced in the same transaction);
 *   2. claim: up to batch due deliveries get attempts+1 and COMMIT, before the
 *      handler runs: a handler that crashes the process has its attempt
 *      counted, and a delivery already at max_attempts is marked dead instead
 *      of run (no crash loop).  A delivery claimed before but never settled
 *      (the process died under it) is a suspect: suspects run one per
 *      transaction, so a poison event cannot drag its neighbours to dead;
 *   3. run: each claimed delivery inside a savepoint of one transaction; OK
 *      marks it done with the handler's derived writes, RETRY rolls them back
 *      and schedules a retry with exponential backoff (dead after
 *      max_attempts), FAIL rolls back and marks it dead.
 */
#ifndef CH_DISPATCH_H
#define CH_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "plugin.h"

struct sqlite3;

struct ch_dispatch_options {
	long max_attempts;  /* dead after this many; default 5 */
	long retry_base_ms; /* first backoff; doubles per attempt; default 1000 */
	long retry_max_ms;  /* backoff cap; default 300000 */
	long batch;         /* deliveries per transaction; default 256 */
	long share;         /* workers: at most 1/share of busy intake's time (rest()) */
};

/* Record the plugin in the handlers table (cursor at the end of the journal
 * for a handler never seen before: a new handler starts with new events;
 * callhookctl replay back-fills it). */
int ch_dispatch_register(struct sqlite3 *db, const struct ch_plugin *p, struct ch_error *err);
/* No handler is loaded (or a reload removed the last one): mark every
 * handler in the table inactive, on a short connection of its own to
 * db_path, since no instance has one to lend. */
int ch_dispatch_none_active(const char *db_path, long busy_timeout_ms, struct ch_error *err);

/* One step as described above.  *did is how many deliveries were settled or
 * enqueued (0: nothing to do now).  Errors are store errors (busy, full): the
 * caller waits and tries again; nothing is lost. */
int ch_dispatch_step(struct sqlite3 *db, struct ch_plugin *p, const struct ch_dispatch_options *o,
                     long *did, struct ch_error *err);

/* The enqueue part of a step for several handlers at once, in one
 * transaction on ps[0]'s connection: one read of the new journal rows, each
 * handler getting the rows past its own cursor that its patterns match (a
 * worker's handlers share it).  *did as for ch_dispatch_step. */
int ch_dispatch_enqueue(struct ch_plugin **ps, size_t n, long *did, struct ch_error *err);

/* callhookctl replay: run the handler over every journal row it matches
 * (with event time >= since_us when since_us > 0), in journal order, in
 * batches; each row's delivery ends 'done' (or failed/dead as in a step).
 * progress (may be NULL) is called after each batch. */
int ch_dispatch_replay(struct sqlite3 *db, struct ch_plugin *p, const struct ch_dispatch_options *o,
                       int64_t since_us, void (*progress)(void *arg, int64_t done, int64_t total),
                       void *arg, struct ch_error *err);

/* The daemon's workers: threads that run steps for their plugins until
 * stopped.  Plugins flagged CH_HANDLER_OWN_THREAD get a worker of their own;
 * the others share one.  Each plugin uses its own connection (plugin.c).
 * Start registers the set in the handlers table (the others inactive).  The
 * set stays the caller's: unload it after ch_workers_stop. */
struct ch_workers;
int ch_workers_start(struct ch_plugin_set *set, const struct ch_dispatch_options *o,
                     struct ch_workers **out, struct ch_error *err);
void ch_workers_kick(struct ch_workers *w);   /* new journal rows: look now */
void ch_workers_reopen(struct ch_workers *w); /* SIGHUP: call each plugin's reopen() */
void ch_workers_stop(struct ch_workers *w);   /* finish the current step, join */
/* Shutdown: the same, waiting at most timeout_ms.  A worker still running
 * then (its handler hangs) is abandoned: its thread goes on until the process
 * exits, so w is not freed and the plugins it runs must not be unloaded;
 * stuck[i] (one per plugin of the set, false on entry) is set for each of
 * them.  Their claimed deliveries were committed as attempted, so the next
 * start runs them again or quarantines them.  Returns how many. */
size_t ch_workers_stop_within(struct ch_workers *w, long timeout_ms, bool *stuck);

#endif
