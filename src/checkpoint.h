/* checkpoint.h - WAL checkpoints on a thread of their own, off the commit path.
 *
 * SQLite's default is to checkpoint inside the COMMIT that pushes the WAL past
 * 1000 pages: that commit then copies megabytes into the database file and
 * syncs it while every request of its group waits.  Instead, the journal
 * writer's connection reports the WAL size after each commit (its wal hook
 * calls ch_checkpointer_notify) and this thread, with a connection of its own,
 * copies the WAL back in PASSIVE checkpoints, which never block the writer.
 *
 * The WAL file restarts from its beginning only when a writer begins after a
 * checkpoint copied every frame.  Under steady load a checkpoint on another
 * thread almost never ends between two commits, so once the WAL is large the
 * writer copies the last few frames itself, right after a commit (inside
 * ch_checkpointer_notify): one short sync per 32 MiB of WAL.  Should the WAL
 * still grow (readers pinning old snapshots), the thread tries a RESTART
 * checkpoint, which waits for them briefly.  After a second without commits
 * of the writer, the thread copies whatever the WAL holds and truncates it to
 * zero bytes (retrying every second while it is not empty), so an idle journal
 * is one self-contained file and what other connections wrote is copied too.
 *
 * Durability does not depend on any of this: a commit is durable once its WAL
 * frames are synced (synchronous=FULL); checkpoints only move pages the WAL
 * already holds.  Every other connection that writes to the journal must not
 * checkpoint on commit either (PRAGMA wal_autocheckpoint=0), or it takes the
 * copy back onto its own commit path.
 */
#ifndef CH_CHECKPOINT_H
#define CH_CHECKPOINT_H

#include "error.h"
#include "store.h"

/* The WAL may exceed this after a burst; the first commit after it restarts
 * cuts the file back to it (journal_size_limit on the writer's connection). */
#define CH_WAL_SIZE_LIMIT 67108864

struct ch_checkpointer;
struct sqlite3;

/* Open a second connection to the (WAL-mode) journal at path and start the
 * thread.  sync is the store's level: checkpoints sync the files as it says;
 * page_size the journal's. */
int ch_checkpointer_start(const char *path, enum ch_store_sync sync, int page_size,
                          struct ch_checkpointer **out, struct ch_error *err);
/* The WAL holds `frames` frames after a commit on db, the writer's connection.
 * Called on the writer thread from its wal hook, between two transactions.
 * Usually it only records the size and wakes the thread; about once per
 * FINISH_AT frames it copies the last few frames itself (see checkpoint.c). */
void ch_checkpointer_notify(struct ch_checkpointer *c, struct sqlite3 *db, int frames);
/* Stop the thread (finishing a checkpoint in progress) and close its
 * connection.  NULL is accepted. */
void ch_checkpointer_stop(struct ch_checkpointer *c);

#endif
