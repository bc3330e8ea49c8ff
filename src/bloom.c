/* bloom.c - see bloom.h */
#include "bloom.h"

#include <stdlib.h>
#include <string.h>

#define PROBES       7
#define BITS_PER_KEY 10
#define MAX_FILTERS  40 /* capacities double: far past any max_bytes */

struct filter {
	uint64_t *words;
	uint64_t mask; /* bits - 1; bits is a power of two */
	size_t capacity, count;
};

struct ch_bloom {
	struct filter f[MAX_FILTERS];
	size_t n;
	size_t bytes, max_bytes;
	bool saturated; /* out of room: every answer is "maybe" */
};

static int add_filter(struct ch_bloom *b, size_t capacity)
{
	struct filter *f;
	uint64_t bits = 64;

	while (bits < (uint64_t)capacity * BITS_PER_KEY)
		bits *= 2;
	if (b->n == MAX_FILTERS || b->bytes + bits / 8 > b->max_bytes)
		return -1;
	f = &b->f[b->n];
	f->words = calloc(bits / 64, sizeof(uint64_t));
	if (f->words == NULL)
		return -1;
	f->mask = bits - 1;
	f->capacity = capacity;
	f->count = 0;
	b->bytes += bits / 8;
	b->n++;
	return 0;
}

struct ch_bloom *ch_bloom_new(size_t first_capacity, size_t max_bytes)
{
	struct ch_bloom *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->max_bytes = max_bytes;
	if (add_filter(b, first_capacity > 0 ? first_capacity : 1024) < 0)
		b->saturated = true;
	return b;
}

void ch_bloom_free(struct ch_bloom *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->f[i].words);
	free(b);
}

/* Two independent 64-bit hashes from the key's bytes (the first 8 already
 * place it in keyset.c's table: these use others). */
static void hashes(const uint8_t *key, uint64_t *h1, uint64_t *h2)
{
	memcpy(h1, key + 8, sizeof(*h1));
	memcpy(h2, key + 16, sizeof(*h2));
	*h2 |= 1; /* odd: the probes cover the whole power-of-two table */
}

static void set_bits(struct filter *f, uint64_t h1, uint64_t h2)
{
	for (int i = 0; i < PROBES; i++) {
		uint64_t bit = (h1 + (uint64_t)i * h2) & f->mask;

		f->words[bit / 64] |= (uint64_t)1 << (bit % 64);
	}
}

static bool test_bits(const struct filter *f, uint64_t h1, uint64_t h2)
{
	for (int i = 0; i < PROBES; i++) {
		uint64_t bit = (h1 + (uint64_t)i * h2) & f->mask;

		if (!(f->words[bit / 64] & ((uint64_t)1 << (bit % 64))))
			return false;
	}
	return true;
}

void ch_bloom_add(struct ch_bloom *b, const uint8_t key[CH_KEY_LEN])
{
	struct filter *last;
	uint64_t h1, h2;

	if (b->saturated)
		return;
	last = &b->f[b->n - 1];
	if (last->count >= last->capacity && add_filter(b, last->capacity * 2) < 0) {
		b->saturated = true;
		return;
	}
	last = &b->f[b->n - 1];
	hashes(key, &h1, &h2);
	set_bits(last, h1, h2);
	last->count++;
}

bool ch_bloom_maybe(const struct ch_bloom *b, const uint8_t key[CH_KEY_LEN])
{
	uint64_t h1, h2;

	if (b->saturated)
		return true;
	hashes(key, &h1, &h2);
	for (size_t i = b->n; i-- > 0;) {
		if (test_bits(&b->f[i], h1, h2))
			return true;
	}
	return false;
}

size_t ch_bloom_bytes(const struct ch_bloom *b)
{
	return b->bytes;
}
