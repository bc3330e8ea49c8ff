/* paced_vfs.h - an SQLite VFS whose database-file writes reach the disk in
 * small steps, for the checkpointer's connection.
 *
 * A checkpoint copies WAL frames into the database file, then syncs it.
 * Left alone the copies pile up in the page cache and the sync flushes them
 * all at once: after a reader had held the WAL for 10 s (933 MiB), that one
 * flush kept the journal writer's WAL syncs waiting, and intake's p99 went
 * from 4 ms to 553 ms.  Through this VFS, every PACED_FLUSH_AFTER bytes
 * written to the database file are written out (sync_file_range) and
 * waited for before the checkpoint goes on, so no more than that is ever
 * queued ahead of a commit's sync; the checkpointer, a background thread,
 * takes the wait.  The idea of PostgreSQL's checkpoint_flush_after.
 *
 * Durability is SQLite's as before: the checkpoint still syncs the file.
 * Only the main database file is paced; the WAL and everything else go to
 * the default VFS untouched.
 */
#ifndef CH_PACED_VFS_H
#define CH_PACED_VFS_H

#define CH_PACED_VFS_NAME "callhookd-paced"

/* Register the VFS (once; later calls do nothing).  An SQLite result code. */
int ch_paced_vfs_register(void);
/* Writes out started and waited for so far, in this process (for tests). */
unsigned long ch_paced_vfs_flushes(void);

#endif
