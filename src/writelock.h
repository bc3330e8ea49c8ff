/* writelock.h - one writer at a time inside the process, first come first served.
 *
 * SQLite allows one write transaction per database; the journal writer and
 * the handler workers each have a connection of their own.  Left to SQLite,
 * a writer that finds the database locked sleeps in growing steps (1, 2, 5,
 * 10... ms) and polls again, which turned a few milliseconds of handler work
 * into 75 ms intake latencies.  Taking this lock before BEGIN IMMEDIATE makes
 * the threads of this process queue in order and wake the moment the previous
 * transaction ends; SQLite's busy timeout still covers other processes.
 *
 * A documented singleton: there is one database per process.
 */
#ifndef CH_WRITELOCK_H
#define CH_WRITELOCK_H

#include <stdbool.h>

/* Wait for our turn, at most timeout_ms (< 0: forever).  0, or -1 on timeout. */
int ch_write_lock(long timeout_ms);
void ch_write_unlock(void);
/* Is another thread waiting?  A handler worker in the middle of a batch
 * commits early when it is, so intake never waits for a whole batch. */
bool ch_write_contended(void);

#endif
