/* sources.c - see sources.h
 *
 * An array of entries addressed by index: a hash table (chains through
 * hnext, with a random seed so that nobody can choose addresses that all
 * land in one chain), a free list (also through hnext), and an LRU list of
 * the entries with no connection open, the ones that may be forgotten.
 */
#include "sources.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#define NONE UINT32_MAX

struct entry {
	struct ch_source_key key;
	uint32_t hnext;        /* next in its hash chain, or in the free list */
	uint32_t older, newer; /* LRU list, while conns == 0 */
	uint32_t conns;
	bool used;
	double tokens;
	int64_t refilled_us; /* 0: bucket not started (it starts full) */
};

struct ch_sources {
	struct entry *e;
	size_t size;
	uint32_t *heads; /* hash chains; a power of two at least size of them */
	size_t mask;
	uint32_t free_list;
	uint32_t newest, oldest;
	size_t used;
	uint64_t seed[2];
};

bool ch_source_key_of(const struct sockaddr *sa, struct ch_source_key *key)
{
	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		key->b[10] = key->b[11] = 0xff;
		memcpy(key->b + 12, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		memcpy(key->b, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8); /* else its /64 */
		return true;
	}
	return false;
}

bool ch_source_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static uint32_t chain_of(const struct ch_sources *s, const struct ch_source_key *k)
{
	uint64_t a, b, h;

	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	h = (a ^ s->seed[0]) * 0x9e3779b97f4a7c15ull;
	h ^= h >> 32;
	h = (h ^ b ^ s->seed[1]) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	return (uint32_t)(h & s->mask);
}

/* Chains for size entries, and every entry put in its chain again. */
static int rehash(struct ch_sources *s)
{
	size_t n = 16;
	uint32_t *heads;

	while (n < s->size)
		n *= 2;
	if ((heads = malloc(n * sizeof(*heads))) == NULL)
		return -1;
	free(s->heads);
	s->heads = heads;
	s->mask = n - 1;
	for (size_t i = 0; i < n; i++)
		heads[i] = NONE;
	for (uint32_t i = 0; i < s->size; i++) {
		if (s->e[i].used) {
			uint32_t c = chain_of(s, &s->e[i].key);

			s->e[i].hnext = heads[c];
			heads[c] = i;
		}
	}
	return 0;
}

/* Entries [from, s->size) go on the free list. */
static void add_free(struct ch_sources *s, size_t from)
{
	for (size_t i = s->size; i-- > from;) {
		memset(&s->e[i], 0, sizeof(s->e[i]));
		s->e[i].hnext = s->free_list;
		s->free_list = (uint32_t)i;
	}
}

struct ch_sources *ch_sources_new(size_t size)
{
	struct ch_sources *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->size = size > 0 ? size : 1;
	s->free_list = s->newest = s->oldest = NONE;
	if ((s->e = calloc(s->size, sizeof(*s->e))) == NULL || rehash(s) < 0) {
		ch_sources_free(s);
		return NULL;
	}
	add_free(s, 0);
	if (getrandom(s->seed, sizeof(s->seed), GRND_NONBLOCK) != sizeof(s->seed)) {
		s->seed[0] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
		s->seed[1] = (uint64_t)(uintptr_t)s;
	}
	return s;
}

void ch_sources_free(struct ch_sources *s)
{
	if (s == NULL)
		return;
	free(s->e);
	free(s->heads);
	free(s);
}

static uint32_t find(const struct ch_sources *s, const struct ch_source_key *key)
{
	for (uint32_t i = s->heads[chain_of(s, key)]; i != NONE; i = s->e[i].hnext) {
		if (memcmp(&s->e[i].key, key, sizeof(*key)) == 0)
			return i;
	}
	return NONE;
}

static void lru_unlink(struct ch_sources *s, uint32_t i)
{
	struct entry *e = &s->e[i];

	if (e->older != NONE)
		s->e[e->older].newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer != NONE)
		s->e[e->newer].older = e->older;
	else
		s->newest = e->older;
	e->older = e->newer = NONE;
}

static void lru_push(struct ch_sources *s, uint32_t i)
{
	struct entry *e = &s->e[i];

	e->older = s->newest;
	e->newer = NONE;
	if (s->newest != NONE)
		s->e[s->newest].newer = i;
	else
		s->oldest = i;
	s->newest = i;
}

static void forget(struct ch_sources *s, uint32_t i)
{
	uint32_t *link = &s->heads[chain_of(s, &s->e[i].key)];

	while (*link != i)
		link = &s->e[*link].hnext;
	*link = s->e[i].hnext;
	lru_unlink(s, i);
	memset(&s->e[i], 0, sizeof(s->e[i]));
	s->e[i].hnext = s->free_list;
	s->free_list = i;
	s->used--;
}

/* Twice the entries: only when every one has a connection open. */
static int grow(struct ch_sources *s)
{
	size_t old = s->size;
	struct entry *e;

	if (old >= NONE / 2 || (e = realloc(s->e, 2 * old * sizeof(*e))) == NULL)
		return -1;
	s->e = e;
	memset(e + old, 0, old * sizeof(*e)); /* not used: rehash skips them */
	s->size = 2 * old;
	if (rehash(s) < 0) {
		s->size = old; /* the chains still fit the old size */
		return -1;
	}
	add_free(s, old);
	return 0;
}

/* key's entry, made (as the newest) if it has none; NONE when out of memory. */
static uint32_t acquire(struct ch_sources *s, const struct ch_source_key *key)
{
	uint32_t i = find(s, key), c;

	if (i != NONE)
		return i;
	if (s->free_list == NONE) {
		if (s->oldest != NONE)
			forget(s, s->oldest);
		else if (grow(s) < 0)
			return NONE;
	}
	i = s->free_list;
	s->free_list = s->e[i].hnext;
	s->e[i].key = *key;
	s->e[i].used = true;
	c = chain_of(s, key);
	s->e[i].hnext = s->heads[c];
	s->heads[c] = i;
	s->e[i].older = s->e[i].newer = NONE;
	lru_push(s, i);
	s->used++;
	return i;
}

long ch_sources_opened(struct ch_sources *s, const struct ch_source_key *key)
{
	uint32_t i = acquire(s, key);

	if (i == NONE)
		return 0;
	if (s->e[i].conns == 0)
		lru_unlink(s, i); /* pinned while it has connections */
	return ++s->e[i].conns;
}

void ch_sources_closed(struct ch_sources *s, const struct ch_source_key *key)
{
	uint32_t i = find(s, key);

	if (i == NONE || s->e[i].conns == 0)
		return; /* cannot happen: counted entries are never forgotten */
	if (--s->e[i].conns == 0)
		lru_push(s, i);
}

long ch_sources_take(struct ch_sources *s, const struct ch_source_key *key, double rate,
                     double burst, int64_t now_us)
{
	uint32_t i = acquire(s, key);
	struct entry *e;
	double wait;
	long whole;

	if (i == NONE)
		return 0;
	e = &s->e[i];
	if (e->conns == 0) { /* seen now: the newest */
		lru_unlink(s, i);
		lru_push(s, i);
	}
	if (e->refilled_us == 0)
		e->tokens = burst;
	else if (now_us > e->refilled_us)
		e->tokens += (double)(now_us - e->refilled_us) / 1e6 * rate;
	if (e->tokens > burst)
		e->tokens = burst; /* also when a reload lowered burst */
	if (now_us > e->refilled_us)
		e->refilled_us = now_us;
	if (e->tokens >= 1) {
		e->tokens -= 1;
		return 0;
	}
	wait = (1 - e->tokens) / rate; /* rounded up: never tell a client to come back too early */
	whole = (long)wait;
	return whole < 1 ? 1 : whole + (wait > (double)whole);
}

size_t ch_sources_count(const struct ch_sources *s)
{
	return s->used;
}
