/* dedupe.c - see dedupe.h */
#include "dedupe.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "log.h"
#include "sqlite_error.h"

#define MERGE_MIN_TAIL  16384   /* 1 MiB of table */
#define MERGE_MAX_TAIL  1048576 /* 64 MiB of table */
#define MERGE_RATIO     8       /* merge once the tail is 1/8 of what is merged */
#define MERGE_CHUNK_MIN 256     /* keys per commit, at least twice the commit's rows */
#define BLOOM_MIN_KEYS  65536
#define BLOOM_MAX_BYTES (64u << 20) /* about 50 million keys */

enum { ST_LOOKUP, ST_INSERT, ST_SET_MARK, ST_MAX_ID, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    [ST_LOOKUP] = "SELECT 1 FROM dedupe_index WHERE key = ?1",
    [ST_INSERT] = "INSERT OR IGNORE INTO dedupe_index(key) VALUES(?1)",
    [ST_SET_MARK] = ("INSERT INTO meta(key, value) VALUES('dedupe_merged_upto', ?1)"
                     " ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    [ST_MAX_ID] = "SELECT coalesce(max(id), 0) FROM events",
};

struct ch_dedupe {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
	struct ch_dedupe_limits limits;
	struct ch_keyset *tail;   /* keys of rows above the mark, and since the merge began */
	struct ch_keyset *frozen; /* the tail being merged, NULL when no merge */
	struct ch_bloom *bloom;   /* every key of dedupe_index (and of frozen); NULL: none */
	int64_t merged_upto;      /* meta dedupe_merged_upto */
	/* the merge under way */
	uint8_t *run; /* frozen's keys, sorted */
	size_t run_len, run_pos;
	size_t run_next;  /* run_pos once this transaction commits */
	int64_t run_upto; /* the mark once it is all merged */
};

static int fail(struct ch_dedupe *d, int rc, const char *op, struct ch_error *err)
{
	return ch_sqlite_error(d->db, rc, op, err);
}

static int load_mark(struct ch_dedupe *d, struct ch_error *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->db,
	                            "SELECT CAST(value AS INTEGER) FROM meta"
	                            " WHERE key = 'dedupe_merged_upto'",
	                            -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(d, rc, "dedupe mark", err);
	rc = sqlite3_step(st);
	d->merged_upto = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(d, rc, "dedupe mark", err);
}

/* Every key above the mark into the tail: what a merge had not finished. */
static int load_tail(struct ch_dedupe *d, struct ch_error *err)
{
	sqlite3_stmt *st;
	int rc =
	    sqlite3_prepare_v2(d->db, "SELECT dedupe_key FROM events WHERE id > ?1", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return fail(d, rc, "dedupe tail", err);
	sqlite3_bind_int64(st, 1, d->merged_upto);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(st, 0);

		if (sqlite3_column_bytes(st, 0) != CH_KEY_LEN || ch_keyset_has(d->tail, key))
			continue; /* a duplicate journaled before this scheme: already there */
		if (ch_keyset_reserve(d->tail) < 0) {
			sqlite3_finalize(st);
			return ch_error_set(err, 500, "OutOfMemory",
			                    "out of memory loading dedupe keys");
		}
		ch_keyset_add(d->tail, key);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(d, rc, "dedupe tail", err);
	ch_keyset_commit(d->tail);
	return 0;
}

/* The filter in front of dedupe_index (bloom.h), from a scan of it: the
 * index is read once at start-up, in key order.  Without memory for it the
 * writer only looks into the index every time. */
static int load_bloom(struct ch_dedupe *d, struct ch_error *err)
{
	sqlite3_stmt *st;
	size_t first = d->merged_upto > BLOOM_MIN_KEYS ? (size_t)d->merged_upto : BLOOM_MIN_KEYS;
	int rc;

	d->bloom = ch_bloom_new(first, BLOOM_MAX_BYTES);
	if (d->bloom == NULL)
		return 0;
	rc = sqlite3_prepare_v2(d->db, "SELECT key FROM dedupe_index", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail(d, rc, "dedupe filter", err);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) == CH_KEY_LEN)
			ch_bloom_add(d->bloom, sqlite3_column_blob(st, 0));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(d, rc, "dedupe filter", err);
}

int ch_dedupe_open(sqlite3 *db, const struct ch_dedupe_limits *limits, struct ch_dedupe **out,
                   struct ch_error *err)
{
	struct ch_dedupe *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL || (d->tail = ch_keyset_new()) == NULL) {
		free(d);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	d->db = db;
	if (limits != NULL)
		d->limits = *limits;
	if (d->limits.min_tail == 0)
		d->limits.min_tail = MERGE_MIN_TAIL;
	if (d->limits.max_tail == 0)
		d->limits.max_tail = MERGE_MAX_TAIL;
	if (d->limits.chunk == 0)
		d->limits.chunk = MERGE_CHUNK_MIN;
	for (int i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v3(db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                            &d->stmt[i], NULL);

		if (rc != SQLITE_OK) {
			fail(d, rc, "dedupe prepare", err);
			ch_dedupe_close(d);
			return -1;
		}
	}
	if (load_mark(d, err) < 0 || load_tail(d, err) < 0 || load_bloom(d, err) < 0) {
		ch_dedupe_close(d);
		return -1;
	}
	*out = d;
	return 0;
}

void ch_dedupe_close(struct ch_dedupe *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(d->stmt[i]);
	ch_keyset_free(d->tail);
	ch_keyset_free(d->frozen);
	ch_bloom_free(d->bloom);
	free(d->run);
	free(d);
}

int ch_dedupe_seen(struct ch_dedupe *d, const uint8_t key[CH_KEY_LEN], bool *seen,
                   struct ch_error *err)
{
	sqlite3_stmt *st = d->stmt[ST_LOOKUP];
	int rc;

	*seen = ch_keyset_has(d->tail, key) || (d->frozen != NULL && ch_keyset_has(d->frozen, key));
	if (*seen)
		return 0;
	/* Room for ch_dedupe_add now, while failing still loses nothing. */
	if (ch_keyset_reserve(d->tail) < 0)
		return ch_error_set(err, 503, "StoreUnavailable",
		                    "journal not writable: out of memory for dedupe keys");
	if (d->bloom != NULL && !ch_bloom_maybe(d->bloom, key))
		return 0; /* certainly not in dedupe_index */
	sqlite3_bind_blob(st, 1, key, CH_KEY_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*seen = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail(d, rc, "dedupe lookup", err);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

void ch_dedupe_add(struct ch_dedupe *d, const uint8_t key[CH_KEY_LEN])
{
	ch_keyset_add(d->tail, key);
}

/* A read-only store has no dedupe: the transaction calls accept NULL. */
size_t ch_dedupe_mark(const struct ch_dedupe *d)
{
	return d != NULL ? ch_keyset_mark(d->tail) : 0;
}

void ch_dedupe_undo_to(struct ch_dedupe *d, size_t mark)
{
	if (d != NULL)
		ch_keyset_undo_to(d->tail, mark);
}

/* Freeze the tail and sort it: the run the next commits merge. */
static void start_merge(struct ch_dedupe *d)
{
	size_t want = (size_t)(d->merged_upto / MERGE_RATIO);
	struct ch_keyset *fresh;
	sqlite3_stmt *st = d->stmt[ST_MAX_ID];
	int64_t upto;

	if (want < d->limits.min_tail)
		want = d->limits.min_tail;
	if (want > d->limits.max_tail)
		want = d->limits.max_tail;
	if (d->frozen != NULL || ch_keyset_count(d->tail) < want)
		return;
	/* Outside any transaction, so max(id) is exactly the committed rows. */
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return; /* try again after the next commit */
	}
	upto = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	fresh = ch_keyset_new();
	if (fresh == NULL)
		return;
	d->run = ch_keyset_sorted(d->tail, &d->run_len);
	if (d->run == NULL) {
		ch_keyset_free(fresh);
		return;
	}
	/* In the filter from now on: a "maybe" for a key still on its way into
	 * the index is only a look that finds nothing yet (frozen has it). */
	for (size_t i = 0; d->bloom != NULL && i < d->run_len; i++)
		ch_bloom_add(d->bloom, d->run + i * CH_KEY_LEN);
	d->frozen = d->tail;
	d->tail = fresh;
	d->run_pos = d->run_next = 0;
	d->run_upto = upto;
	ch_debug("dedupe: merging %zu keys up to row %lld", d->run_len, (long long)upto);
}

int ch_dedupe_before_commit(struct ch_dedupe *d, struct ch_error *err)
{
	size_t n = 2 * ch_keyset_mark(d->tail), end;
	int rc = SQLITE_OK;

	if (d == NULL || d->frozen == NULL)
		return 0;
	if (n < d->limits.chunk)
		n = d->limits.chunk;
	end = d->run_pos + n < d->run_len ? d->run_pos + n : d->run_len;
	for (size_t i = d->run_pos; i < end && rc == SQLITE_OK; i++) {
		sqlite3_stmt *st = d->stmt[ST_INSERT];

		sqlite3_bind_blob(st, 1, d->run + i * CH_KEY_LEN, CH_KEY_LEN, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc == SQLITE_OK && end == d->run_len) {
		sqlite3_stmt *st = d->stmt[ST_SET_MARK];

		sqlite3_bind_int64(st, 1, d->run_upto);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc != SQLITE_OK)
		return fail(d, rc, "dedupe merge", err);
	d->run_next = end;
	return 0;
}

void ch_dedupe_end(struct ch_dedupe *d, bool committed)
{
	if (d == NULL)
		return;
	if (!committed) {
		ch_keyset_undo_to(d->tail, 0);
		d->run_next = d->run_pos;
		return;
	}
	ch_keyset_commit(d->tail);
	if (d->frozen != NULL) {
		d->run_pos = d->run_next;
		if (d->run_pos == d->run_len) {
			d->merged_upto = d->run_upto;
			ch_keyset_free(d->frozen);
			d->frozen = NULL;
			free(d->run);
			d->run = NULL;
			d->run_len = d->run_pos = d->run_next = 0;
		}
	}
	start_merge(d);
}

size_t ch_dedupe_tail_keys(const struct ch_dedupe *d)
{
	if (d == NULL)
		return 0;
	return ch_keyset_count(d->tail) + (d->frozen != NULL ? ch_keyset_count(d->frozen) : 0);
}

bool ch_dedupe_merging(const struct ch_dedupe *d)
{
	return d != NULL && d->frozen != NULL;
}
