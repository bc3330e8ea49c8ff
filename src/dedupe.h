/* dedupe.h - the journal writer's duplicate check.
 *
 * A redelivered event is found by its dedupe key (envelope.h), a SHA-256
 * value.  A unique index on those random keys in the journal made every
 * insert dirty a different index leaf: about one 4 KiB page written to the
 * WAL, synced and checkpointed per event, a fifth of the daemon's CPU.  So
 * the keys live in two places instead:
 *   - in memory, the keys of the journal's newest rows (the tail: every row
 *     whose id is above meta 'dedupe_merged_upto', loaded at start-up);
 *   - in the table dedupe_index (schema/011_dedupe.sql), every older key.
 * Once the tail has grown to an eighth of what is merged (at least
 * MERGE_MIN_TAIL keys, at most MERGE_MAX_TAIL), it is frozen and merged into
 * dedupe_index in key order, a chunk in each following commit: a sorted run
 * lands many keys on each leaf it touches, where random inserts touched one
 * leaf per key.  New keys meanwhile go into a fresh tail; a key is a
 * duplicate when it is in either tail or in dedupe_index.  The merge's last
 * chunk moves dedupe_merged_upto in the same transaction, so a crash at any
 * point leaves every journal row's key either at or below the mark (in
 * dedupe_index) or above it (reloaded into the tail): exact, never lossy.
 * Memory: 64 bytes per tail key, so at most about 2 x 64 MiB.
 * Used by the writer thread only, on the writer's connection.
 */
#ifndef CH_DEDUPE_H
#define CH_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keyset.h"

struct sqlite3;
struct ch_dedupe;

/* Tuning, for the tests: zero fields mean the defaults. */
struct ch_dedupe_limits {
	size_t min_tail; /* tail size that starts a merge, however small the index */
	size_t max_tail; /* tail size that starts one, however large */
	size_t chunk;    /* fewest keys a commit merges */
};

/* Load the tail.  Errors are the store's: status 500/503 with a message. */
int ch_dedupe_open(struct sqlite3 *db, const struct ch_dedupe_limits *limits,
                   struct ch_dedupe **out, struct ch_error *err);
void ch_dedupe_close(struct ch_dedupe *d);

/* Inside the writer's transaction: is key journaled already (or earlier in
 * this transaction)?  -1 with err when the index cannot be read. */
int ch_dedupe_seen(struct ch_dedupe *d, const uint8_t key[CH_KEY_LEN], bool *seen,
                   struct ch_error *err);
/* The row with a key ch_dedupe_seen did not know was inserted: remember it
 * (a rollback forgets it again).  Cannot fail: seen made room for it. */
void ch_dedupe_add(struct ch_dedupe *d, const uint8_t key[CH_KEY_LEN]);
/* Savepoints: forget the keys added after a mark. */
size_t ch_dedupe_mark(const struct ch_dedupe *d);
void ch_dedupe_undo_to(struct ch_dedupe *d, size_t mark);

/* Just before COMMIT: merge the next chunk, if a merge is under way. */
int ch_dedupe_before_commit(struct ch_dedupe *d, struct ch_error *err);
/* After the transaction: it committed (true) or was rolled back (false). */
void ch_dedupe_end(struct ch_dedupe *d, bool committed);

/* For metrics and tests: keys in memory, and whether a merge is under way. */
size_t ch_dedupe_tail_keys(const struct ch_dedupe *d);
bool ch_dedupe_merging(const struct ch_dedupe *d);

/* A read-only store has none: mark, undo_to, before_commit and end accept NULL. */

#endif
