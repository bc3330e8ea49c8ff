/* metrics_db.h - the handler backlog, read from the journal at scrape time.
 *
 * It uses a read-only SQLite connection of its own, never the writer's or a
 * handler's: in WAL mode a reader never waits for them nor they for it, and
 * each statement is reset at once so no read transaction outlives a scrape
 * (a long one would hold back checkpoints).  Per handler the cost is two
 * index lookups (its cursor, max(events.id)) and a count over the partial
 * index of its open deliveries, so it grows with the backlog, not the
 * journal.  Opened at the first scrape, reopened after an error.
 * Loop thread only.
 */
#ifndef CH_METRICS_DB_H
#define CH_METRICS_DB_H

#include <stdint.h>

struct ch_metrics_db;

/* NULL when out of memory; nothing is opened yet. */
struct ch_metrics_db *ch_metrics_db_new(const char *path);
void ch_metrics_db_free(struct ch_metrics_db *db);
/* Fits struct ch_metrics_scrape's backlog: arg is the ch_metrics_db.
 * Journal rows past the handler's cursor plus its pending and failed
 * deliveries; -1 when the store cannot be read or the handler is not in
 * the handlers table. */
int ch_metrics_db_backlog(void *arg, const char *handler, int64_t *value);

#endif
