/* metrics.h - what callhookd counts, and the text GET /metrics answers.
 *
 * One registry per process: a documented singleton, like the log level, so
 * that each hook in the HTTP layer, the journal writer and the handler
 * workers is one call with no handle to thread through.  Every count is a
 * relaxed C11 atomic in a fixed array: counting takes no lock and allocates
 * nothing.  Every label set is bounded and fixed at start-up: the configured
 * endpoint paths, the loaded handlers, a table of known event types, the
 * error codes and the statuses the daemon answers.  Anything else is
 * counted as "other", so no input can create a series.
 *
 * The metrics and their labels are listed in callhookd(8), METRICS.
 */
#ifndef CH_METRICS_H
#define CH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "prom.h"

#define CH_METRICS_MAX_ENDPOINTS 64  /* configured paths with a label of their own */
#define CH_METRICS_MAX_PATH      255 /* longer configured paths count as "other" */
#define CH_METRICS_MAX_HANDLERS  64

/* --- set-up ----------------------------------------------------------------- */

/* Event loop thread (it alone counts requests), before the first request
 * and on reload.  Records the start time (once) and the configured endpoint
 * paths.  Calling it again with a new configuration keeps the counts of
 * every path seen; requests to a path no longer configured count as "other"
 * from then on. */
void ch_metrics_start(const struct ch_config *cfg);
/* A loaded handler gets its series (idempotent, by name; any thread). */
void ch_metrics_add_handler(const char *name);

/* --- hooks ------------------------------------------------------------------ */

/* The writer's and the handler workers' hooks may run on any thread; the
 * HTTP ones run on the event loop, which alone reads the endpoint table. */

/* An answer with this status to a request for path (NULL before the
 * request line was read). */
void ch_metrics_http_answer(const char *path, size_t path_len, int status);
/* An error answer, by its code (struct ch_error.code). */
void ch_metrics_rejection(const char *code);
void ch_metrics_connection_opened(void);
void ch_metrics_connection_closed(void);
/* A connection accepted past max_connections (answered 429 or closed). */
void ch_metrics_connection_refused(void);
/* An event newly journaled; format is the events.format value. */
void ch_metrics_event(const char *type, const char *format);
void ch_metrics_duplicates(size_t n);
/* Monotonic nanoseconds, for ch_metrics_commit's start. */
int64_t ch_metrics_now(void);
/* A group commit that succeeded: started at ch_metrics_now(), holding this
 * many requests and rows. */
void ch_metrics_commit(int64_t started, size_t requests, size_t events);
/* A handler's attempt ended in state "done", "failed" or "dead". */
void ch_metrics_delivery(const char *handler, const char *state);
/* One send of a handler action (actions.c) ended: kind is the actions.kind
 * value, outcome "sent", "retry" or "failed". */
void ch_metrics_action(const char *kind, const char *outcome);

/* --- scrape ---------------------------------------------------------------- */

struct ch_metrics_scrape {
	bool store_up; /* the journal writer's health */
	/* A handler's backlog now: 0 with *value set, or -1 when unknown (its
	 * sample is then left out).  NULL: no backlog family. */
	int (*backlog)(void *arg, const char *handler, int64_t *value);
	void *arg;
};

/* The whole exposition into out (0.0.4 text format); -1 when out's cap was
 * reached. */
int ch_metrics_render(struct ch_text *out, const struct ch_metrics_scrape *scrape);

/* The label value an event type is counted under: itself when it is in the
 * table of known types, else "other" (exposed for the tests). */
const char *ch_metrics_type_label(const char *type);
/* The i-th of those known types (in sorted order), NULL past the last: for
 * the test that holds them against callhookd(8). */
const char *ch_metrics_known_type(size_t i);

#endif
