/* sources.h - what the HTTP layer knows about each client address: its open
 * connections and a token bucket of its requests, for the per-source limits
 * ([server] max_connections_per_source and rate_limit).
 *
 * The table has a fixed size, so a flood of addresses cannot exhaust
 * memory: when it is full, the address seen least recently that has no
 * connection open is forgotten (its bucket starts full again if it comes
 * back).  An address with a connection open is never forgotten, so the
 * counts stay exact; the table grows beyond its size only while more
 * distinct addresses than that have connections open, which the connection
 * limits already bound.
 *
 * An IPv6 client counts by its /64 network: one host usually holds a whole
 * /64, so counting single addresses would give it 2^64 allowances.  An
 * IPv4-mapped IPv6 address counts as the IPv4 address.
 *
 * Event loop thread only: no locking.
 */
#ifndef CH_SOURCES_H
#define CH_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;
struct ch_sources;

/* Addresses remembered: four per connection allowed at start-up (so the
 * addresses with connections open take at most a quarter of the table),
 * and at least this many. */
#define CH_SOURCES_PER_CONNECTION 4
#define CH_SOURCES_MIN            1024

struct ch_source_key {
	unsigned char b[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
};

/* The key of a peer address (AF_INET or AF_INET6); false for other families
 * (which are then not counted). */
bool ch_source_key_of(const struct sockaddr *sa, struct ch_source_key *key);
/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool ch_source_is_loopback(const struct sockaddr *sa);

struct ch_sources *ch_sources_new(size_t size);
void ch_sources_free(struct ch_sources *s);

/* A connection from key opened: returns how many it now has open, this one
 * included, or 0 when out of memory (then it is not counted: do not call
 * ch_sources_closed for it). */
long ch_sources_opened(struct ch_sources *s, const struct ch_source_key *key);
/* One it had open closed. */
void ch_sources_closed(struct ch_sources *s, const struct ch_source_key *key);

/* A request from key at now_us (a monotonic clock), against a bucket of
 * burst tokens refilled at rate per second: 0 when it may go ahead (a token
 * is taken), else the whole seconds until a token is available (at least 1).
 * Out of memory: 0 (not limited). */
long ch_sources_take(struct ch_sources *s, const struct ch_source_key *key, double rate,
                     double burst, int64_t now_us);

/* Addresses remembered now (tests). */
size_t ch_sources_count(const struct ch_sources *s);

#endif
