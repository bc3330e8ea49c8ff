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
/* How many threads are waiting for their turn (the tests queue them one by one). */
unsigned ch_write_waiters(void);
/* The journal writer's thread says so once; from then on every time it has
 * to queue behind another transaction is counted.  Two readings of
 * ch_write_intake_waits() tell a handler worker whether intake waited for it
 * meanwhile, which is when it should step back (dispatch.c, rest()). */
void ch_write_lock_is_intake(void);
unsigned long ch_write_intake_waits(void);

#endif
