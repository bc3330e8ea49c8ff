/* keyset.c - see keyset.h */
#include "keyset.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 1024 /* a power of two */

struct ch_keyset {
	uint8_t *slots; /* n_slots keys; all-zero bytes mark an empty slot */
	size_t n_slots; /* a power of two */
	size_t count;   /* keys in slots, plus the zero key when has_zero */
	bool has_zero;  /* the all-zero key, which cannot live in a slot */
	uint8_t *undo;  /* keys added since the last commit, oldest first */
	size_t undo_len, undo_cap;
};

static const uint8_t zero_key[CH_KEY_LEN];

static bool is_zero(const uint8_t *key)
{
	return memcmp(key, zero_key, CH_KEY_LEN) == 0;
}

static size_t home(const struct ch_keyset *set, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)h & (set->n_slots - 1);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const struct ch_keyset *set, const uint8_t *key)
{
	size_t i = home(set, key);

	for (;;) {
		const uint8_t *slot = set->slots + i * CH_KEY_LEN;

		if (is_zero(slot) || memcmp(slot, key, CH_KEY_LEN) == 0)
			return i;
		i = (i + 1) & (set->n_slots - 1);
	}
}

struct ch_keyset *ch_keyset_new(void)
{
	struct ch_keyset *set = calloc(1, sizeof(*set));

	if (set == NULL)
		return NULL;
	set->n_slots = INITIAL_SLOTS;
	set->slots = calloc(set->n_slots, CH_KEY_LEN);
	if (set->slots == NULL) {
		free(set);
		return NULL;
	}
	return set;
}

void ch_keyset_free(struct ch_keyset *set)
{
	if (set == NULL)
		return;
	free(set->slots);
	free(set->undo);
	free(set);
}

bool ch_keyset_has(const struct ch_keyset *set, const uint8_t key[CH_KEY_LEN])
{
	if (is_zero(key))
		return set->has_zero;
	return !is_zero(set->slots + probe(set, key) * CH_KEY_LEN);
}

size_t ch_keyset_count(const struct ch_keyset *set)
{
	return set->count;
}

static int grow(struct ch_keyset *set)
{
	struct ch_keyset bigger = *set;

	bigger.n_slots = set->n_slots * 2;
	bigger.slots = calloc(bigger.n_slots, CH_KEY_LEN);
	if (bigger.slots == NULL)
		return -1;
	for (size_t i = 0; i < set->n_slots; i++) {
		const uint8_t *key = set->slots + i * CH_KEY_LEN;

		if (!is_zero(key))
			memcpy(bigger.slots + probe(&bigger, key) * CH_KEY_LEN, key, CH_KEY_LEN);
	}
	free(set->slots);
	set->slots = bigger.slots;
	set->n_slots = bigger.n_slots;
	return 0;
}

int ch_keyset_reserve(struct ch_keyset *set)
{
	/* At most half full: short probe sequences. */
	if ((set->count + 1) * 2 > set->n_slots && grow(set) < 0)
		return -1;
	if (set->undo_len == set->undo_cap) {
		size_t cap = set->undo_cap ? set->undo_cap * 2 : 64;
		uint8_t *undo = realloc(set->undo, cap * CH_KEY_LEN);

		if (undo == NULL)
			return -1;
		set->undo = undo;
		set->undo_cap = cap;
	}
	return 0;
}

void ch_keyset_add(struct ch_keyset *set, const uint8_t key[CH_KEY_LEN])
{
	memcpy(set->undo + set->undo_len++ * CH_KEY_LEN, key, CH_KEY_LEN);
	if (is_zero(key))
		set->has_zero = true;
	else
		memcpy(set->slots + probe(set, key) * CH_KEY_LEN, key, CH_KEY_LEN);
	set->count++;
}

/* Linear probing's deletion: empty the slot, then move back every key of
 * the run after it that would no longer be found past the hole. */
static void remove_key(struct ch_keyset *set, const uint8_t *key)
{
	size_t mask = set->n_slots - 1, hole, i;

	if (is_zero(key)) {
		set->has_zero = false;
		set->count--;
		return;
	}
	hole = probe(set, key);
	if (is_zero(set->slots + hole * CH_KEY_LEN))
		return; /* not there: nothing to undo */
	memset(set->slots + hole * CH_KEY_LEN, 0, CH_KEY_LEN);
	set->count--;
	for (i = (hole + 1) & mask; !is_zero(set->slots + i * CH_KEY_LEN); i = (i + 1) & mask) {
		uint8_t *slot = set->slots + i * CH_KEY_LEN;
		size_t h = home(set, slot);

		/* The key may stay when its home lies cyclically in (hole, i]. */
		if (hole <= i ? (hole < h && h <= i) : (hole < h || h <= i))
			continue;
		memcpy(set->slots + hole * CH_KEY_LEN, slot, CH_KEY_LEN);
		memset(slot, 0, CH_KEY_LEN);
		hole = i;
	}
}

size_t ch_keyset_mark(const struct ch_keyset *set)
{
	return set->undo_len;
}

void ch_keyset_undo_to(struct ch_keyset *set, size_t mark)
{
	while (set->undo_len > mark) {
		set->undo_len--;
		remove_key(set, set->undo + set->undo_len * CH_KEY_LEN);
	}
}

void ch_keyset_commit(struct ch_keyset *set)
{
	set->undo_len = 0;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, CH_KEY_LEN);
}

uint8_t *ch_keyset_sorted(const struct ch_keyset *set, size_t *count)
{
	uint8_t *keys;
	size_t n = 0;

	*count = 0;
	if (set->count == 0)
		return NULL;
	keys = malloc(set->count * CH_KEY_LEN);
	if (keys == NULL)
		return NULL;
	if (set->has_zero)
		memcpy(keys + n++ * CH_KEY_LEN, zero_key, CH_KEY_LEN);
	for (size_t i = 0; i < set->n_slots; i++) {
		const uint8_t *key = set->slots + i * CH_KEY_LEN;

		if (!is_zero(key))
			memcpy(keys + n++ * CH_KEY_LEN, key, CH_KEY_LEN);
	}
	qsort(keys, n, CH_KEY_LEN, cmp_key);
	*count = n;
	return keys;
}
