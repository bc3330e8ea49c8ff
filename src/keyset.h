/* keyset.h - a set of 32-byte keys (SHA-256 values) in memory, with undo.
 *
 * The journal writer's duplicate check keeps the keys of its most recent
 * events here (dedupe.h says why).  Open addressing with linear probing on
 * the key's first 8 bytes (a SHA-256 value is already uniform), at most half
 * full, so a lookup is one or two cache lines.  Every key added since the
 * last ch_keyset_commit() can be taken out again, newest first, down to a
 * mark: that is how a rolled-back transaction or savepoint forgets its rows.
 * Not thread-safe: one owner at a time.
 */
#ifndef CH_KEYSET_H
#define CH_KEYSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_KEY_LEN 32

struct ch_keyset;

struct ch_keyset *ch_keyset_new(void);
void ch_keyset_free(struct ch_keyset *set);

bool ch_keyset_has(const struct ch_keyset *set, const uint8_t key[CH_KEY_LEN]);
/* Make room for one more key: -1 when out of memory (the set is unchanged).
 * After it succeeds, the next ch_keyset_add cannot fail. */
int ch_keyset_reserve(struct ch_keyset *set);
/* Add a key that is not in the set, after ch_keyset_reserve. */
void ch_keyset_add(struct ch_keyset *set, const uint8_t key[CH_KEY_LEN]);
size_t ch_keyset_count(const struct ch_keyset *set);

/* Undo: keys added since the last commit, in order.  A mark is a position in
 * that list; undo_to(mark) removes the keys added after it. */
size_t ch_keyset_mark(const struct ch_keyset *set);
void ch_keyset_undo_to(struct ch_keyset *set, size_t mark);
void ch_keyset_commit(struct ch_keyset *set); /* the added keys stay: forget how to undo them */

/* Every key, sorted by memcmp order, in a new array of count * CH_KEY_LEN
 * bytes the caller frees; NULL when out of memory (or the set is empty, with
 * *count 0). */
uint8_t *ch_keyset_sorted(const struct ch_keyset *set, size_t *count);

#endif
