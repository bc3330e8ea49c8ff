/* bloom.h - "certainly not there" for the dedupe index.
 *
 * Nearly every event is new, so the writer's look into dedupe_index
 * (dedupe.h) almost always finds nothing, and it cost a sixth of the
 * writer's time.  A Bloom filter of every key in the index answers most of
 * them from memory: "not there" is certain, "maybe" sends the writer to the
 * index.  Keys are SHA-256 values, uniform already, so the probes come from
 * the key's own bytes (double hashing, 7 probes, 10 bits a key: about 1%
 * false "maybe").  The index only grows, so the filter is a chain: when one
 * filter holds what it was sized for, the next, twice as large, takes the new
 * keys; a lookup asks each.  Past max_bytes in all the filter gives up and
 * says "maybe" to everything: slower, never wrong.
 * Not thread-safe: one owner (the journal writer).
 */
#ifndef CH_BLOOM_H
#define CH_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyset.h"

struct ch_bloom;

/* first_capacity keys in the first filter; NULL when out of memory. */
struct ch_bloom *ch_bloom_new(size_t first_capacity, size_t max_bytes);
void ch_bloom_free(struct ch_bloom *b);

void ch_bloom_add(struct ch_bloom *b, const uint8_t key[CH_KEY_LEN]);
/* false: key was never added.  true: it may have been. */
bool ch_bloom_maybe(const struct ch_bloom *b, const uint8_t key[CH_KEY_LEN]);
/* Bytes of filter in use (metrics, tests). */
size_t ch_bloom_bytes(const struct ch_bloom *b);

#endif
