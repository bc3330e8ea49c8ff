/* check_dedupe.c - the journal's duplicate check: the in-memory key set, the
 * merge of its keys into dedupe_index, restarts in the middle of a merge, and
 * the migration of a journal that still has the old unique index. */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bloom.h"
#include "dedupe.h"
#include "keyset.h"
#include "log.h"
#include "store.h"

static char tmpdir[PATH_MAX];
static char path[PATH_MAX + 16];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_dedupe.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/journal.db", tmpdir);
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void teardown(void)
{
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A key whose first 8 bytes (the hash) are `home` and whose rest is n. */
static void make_key(uint8_t key[CH_KEY_LEN], uint64_t home, unsigned n)
{
	memset(key, 0, CH_KEY_LEN);
	memcpy(key, &home, sizeof(home));
	memcpy(key + 16, &n, sizeof(n));
}

static void add_key(struct ch_keyset *set, const uint8_t *key)
{
	ck_assert_int_eq(ch_keyset_reserve(set), 0);
	ck_assert(!ch_keyset_has(set, key));
	ch_keyset_add(set, key);
}

START_TEST(test_keyset_collisions_and_undo)
{
	struct ch_keyset *set = ch_keyset_new();
	uint8_t k[40][CH_KEY_LEN], zero[CH_KEY_LEN] = {0};
	size_t mark, n;
	uint8_t *sorted;

	/* Ten keys on one home slot, ten on the next, wrapping runs. */
	for (unsigned i = 0; i < 40; i++)
		make_key(k[i], i < 20 ? 5 + i / 10 : 1023 + (i % 3), i);
	for (unsigned i = 0; i < 20; i++)
		add_key(set, k[i]);
	ch_keyset_commit(set);
	mark = ch_keyset_mark(set);
	for (unsigned i = 20; i < 40; i++)
		add_key(set, k[i]);
	add_key(set, zero);
	ck_assert_uint_eq(ch_keyset_count(set), 41);
	ck_assert(ch_keyset_has(set, zero));

	/* Undo removes exactly the keys after the mark, whatever moved. */
	ch_keyset_undo_to(set, mark);
	ck_assert_uint_eq(ch_keyset_count(set), 20);
	ck_assert(!ch_keyset_has(set, zero));
	for (unsigned i = 0; i < 40; i++)
		ck_assert_msg(ch_keyset_has(set, k[i]) == (i < 20), "key %u", i);

	/* Growing keeps every key. */
	for (unsigned i = 0; i < 3000; i++) {
		uint8_t key[CH_KEY_LEN];

		make_key(key, (uint64_t)i * 2654435761u, 1000 + i);
		add_key(set, key);
	}
	ch_keyset_commit(set);
	ch_keyset_undo_to(set, 0); /* nothing to undo after a commit */
	ck_assert_uint_eq(ch_keyset_count(set), 3020);
	for (unsigned i = 0; i < 20; i++)
		ck_assert(ch_keyset_has(set, k[i]));

	sorted = ch_keyset_sorted(set, &n);
	ck_assert_uint_eq(n, 3020);
	for (size_t i = 1; i < n; i++)
		ck_assert(
		    memcmp(sorted + (i - 1) * CH_KEY_LEN, sorted + i * CH_KEY_LEN, CH_KEY_LEN) < 0);
	free(sorted);
	ch_keyset_free(set);
}
END_TEST

START_TEST(test_bloom_chain_and_saturation)
{
	struct ch_bloom *b = ch_bloom_new(100, 1u << 20);
	struct ch_bloom *tiny = ch_bloom_new(64, 128);
	uint8_t key[CH_KEY_LEN];
	unsigned false_maybe = 0;

	/* 5000 keys: the chain grows from 100 and still knows every one. */
	for (unsigned i = 0; i < 5000; i++) {
		make_key(key, i, i);
		key[8] = (uint8_t)i, key[12] = (uint8_t)(i >> 8); /* the probe bytes differ */
		memcpy(key + 16, &i, sizeof(i));
		ch_bloom_add(b, key);
		ch_bloom_add(tiny, key);
	}
	for (unsigned i = 0; i < 5000; i++) {
		make_key(key, i, i);
		key[8] = (uint8_t)i, key[12] = (uint8_t)(i >> 8);
		memcpy(key + 16, &i, sizeof(i));
		ck_assert(ch_bloom_maybe(b, key));
	}
	/* Keys never added: "maybe" rarely (about 1% a filter). */
	for (unsigned i = 0; i < 10000; i++) {
		uint64_t h[2] = {(uint64_t)i * 0x9e3779b97f4a7c15u,
		                 (uint64_t)i * 0xc2b2ae3d27d4eb4fu};

		memset(key, 0x5a, sizeof(key));
		memcpy(key + 8, h, sizeof(h));
		false_maybe += ch_bloom_maybe(b, key);
	}
	ck_assert_msg(false_maybe < 800, "%u false maybes in 10000", false_maybe);
	ck_assert_uint_gt(ch_bloom_bytes(b), 100 * 10 / 8);
	/* Out of room: every answer is "maybe", never a wrong "no". */
	memset(key, 0x77, sizeof(key));
	ck_assert(ch_bloom_maybe(tiny, key));
	ck_assert_uint_le(ch_bloom_bytes(tiny), 128);
	ch_bloom_free(b);
	ch_bloom_free(tiny);
}
END_TEST

/* --- the store ---------------------------------------------------------- */

static const struct ch_dedupe_limits small = {.min_tail = 8, .max_tail = 8, .chunk = 3};

static struct ch_store *open_store(void)
{
	struct ch_store_options opts = {.path = path, .dedupe_limits = &small};
	struct ch_error err = {0};
	struct ch_store *store = NULL;

	ck_assert_msg(ch_store_open(&opts, &store, &err) == 0, "open: %s", err.message);
	return store;
}

/* A minimal journal row with this dedupe key (borrowed). */
static struct ch_journal_row row_with_key(const uint8_t *key)
{
	static const char raw[] = "{}";

	return (struct ch_journal_row){.format = "preview",
	                               .type = "T",
	                               .received_us = 1,
	                               .dedupe_key = key,
	                               .raw = raw,
	                               .raw_len = sizeof(raw) - 1};
}

/* Append the event numbered n in its own transaction; true when it was a duplicate. */
static bool append_one(struct ch_store *store, unsigned n)
{
	uint8_t key[CH_KEY_LEN];
	struct ch_journal_row row = row_with_key(key);
	struct ch_error err = {0};
	bool duplicate = false;

	make_key(key, (uint64_t)n * 0x9e3779b97f4a7c15u, n);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_msg(ch_store_append(store, &row, &duplicate, &err) == 0, "%s", err.message);
	ck_assert_msg(ch_store_commit(store, &err) == 0, "%s", err.message);
	return duplicate;
}

static int64_t query_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

START_TEST(test_merge_and_restart)
{
	struct ch_store *store = open_store();

	/* 8 keys start a merge; 3 per commit go to dedupe_index. */
	for (unsigned n = 0; n < 50; n++)
		ck_assert_msg(!append_one(store, n), "event %u new", n);
	ck_assert_int_gt(query_int("SELECT count(*) FROM dedupe_index"), 20);
	ck_assert_int_gt(query_int("SELECT value FROM meta WHERE key = 'dedupe_merged_upto'"), 8);
	/* Every key is found: in the tail, the run being merged, or the index. */
	for (unsigned n = 0; n < 50; n++)
		ck_assert_msg(append_one(store, n), "event %u duplicate", n);
	ck_assert_int_eq(query_int("SELECT count(*) FROM events"), 50);

	/* Stop in the middle of a merge, as a crash would (nothing of the merge
	 * in memory survives): the rows above the mark come back into the tail. */
	for (unsigned n = 50; n < 200 && !ch_store_dedupe_merging(store); n++)
		append_one(store, n);
	ck_assert(ch_store_dedupe_merging(store));
	ch_store_close(store);
	store = open_store();
	{
		int64_t rows = query_int("SELECT count(*) FROM events");

		/* Every journaled key a duplicate, every new one accepted once. */
		for (unsigned n = 0; n < (unsigned)rows; n++)
			ck_assert_msg(append_one(store, n), "event %u duplicate after restart", n);
		ck_assert(!append_one(store, 100000));
		ck_assert(append_one(store, 100000));
		ck_assert_int_eq(query_int("SELECT count(*) FROM events"), rows + 1);
	}
	/* Enough commits finish the merges: every key at or below the mark is indexed. */
	for (unsigned n = 0; n < 40; n++)
		append_one(store, 200000 + n);
	ck_assert_int_eq(query_int("SELECT count(*) FROM events e"
	                           " WHERE e.id <= (SELECT value FROM meta"
	                           "                WHERE key = 'dedupe_merged_upto')"
	                           "   AND NOT EXISTS (SELECT 1 FROM dedupe_index d"
	                           "                   WHERE d.key = e.dedupe_key)"),
	                 0);
	ch_store_close(store);
}
END_TEST

START_TEST(test_rollback_forgets_keys)
{
	struct ch_store *store = open_store();
	uint8_t key[CH_KEY_LEN];
	struct ch_journal_row row = row_with_key(key);
	struct ch_error err = {0};
	bool duplicate = true;

	for (unsigned n = 0; n < 20; n++) /* a merge under way */
		append_one(store, n);
	make_key(key, 42, 424242);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_append(store, &row, &duplicate, &err), 0);
	ck_assert(!duplicate);
	ck_assert_int_eq(ch_store_append(store, &row, &duplicate, &err), 0);
	ck_assert(duplicate); /* twice in one transaction */
	ch_store_rollback(store);
	/* The rolled-back row's key is free again, and the merge goes on. */
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_append(store, &row, &duplicate, &err), 0);
	ck_assert(!duplicate);
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	for (unsigned n = 0; n < 20; n++)
		ck_assert(append_one(store, n));
	ck_assert_int_eq(query_int("SELECT count(*) FROM events"), 21);
	ch_store_close(store);
}
END_TEST

/* A journal made by an older callhookd: schema files 1-8 as they were, with
 * the unique index on dedupe_key, rows and a delivery referencing one. */
START_TEST(test_migrates_unique_journal)
{
	static const char *const files[] = {
	    "001_journal.sql", "002_delivery.sql", "003_callstate.sql", "004_participants.sql",
	    "005_dtmf.sql",    "006_media.sql",    "007_invite.sql",    "008_reports.sql"};
	struct ch_store *store;
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char file[PATH_MAX], *sql;
		FILE *f;
		long len;

		snprintf(file, sizeof(file), "%s/%s", SCHEMA_DIR, files[i]);
		f = fopen(file, "r");
		ck_assert_ptr_nonnull(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		rewind(f);
		sql = calloc(1, (size_t)len + 1);
		ck_assert_uint_eq(fread(sql, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s: %s",
		              files[i], sqlite3_errmsg(db));
		free(sql);
	}
	ck_assert_int_eq(
	    sqlite3_exec(db,
	                 "PRAGMA user_version=8;"
	                 "INSERT INTO events(id, received_at, received_us, format, event_type,"
	                 " call_id, event_time_us, dedupe_key, raw) VALUES"
	                 " (1, 't', 1, 'preview', 'T', 'c1', 5, x'01', '{}'),"
	                 " (2, 't', 2, 'preview', 'T', 'c1', 6, x'02', '{}');"
	                 "INSERT INTO handlers(name, module, event_types, cursor)"
	                 " VALUES ('h', 'h.so', '*', 2);"
	                 "INSERT INTO deliveries(handler, event_id, state, updated_at)"
	                 " VALUES ('h', 2, 'dead', 't');",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	store = open_store();
	ch_store_close(store);
	ck_assert_int_eq(query_int("PRAGMA user_version"), ch_store_schema_latest());
	ck_assert_int_eq(query_int("SELECT count(*) FROM events"), 2);
	ck_assert_int_eq(query_int("SELECT count(*) FROM dedupe_index"), 2);
	ck_assert_int_eq(query_int("SELECT value FROM meta WHERE key = 'dedupe_merged_upto'"), 2);
	/* The unique index and the unused per-call one are gone, the views work. */
	ck_assert_int_eq(query_int("SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'events'"
	                           " AND name LIKE 'sqlite_autoindex%'"),
	                 0);
	ck_assert_int_eq(query_int("SELECT count(*) FROM sqlite_schema"
	                           " WHERE name = 'events_by_call'"),
	                 0);
	ck_assert_int_eq(query_int("SELECT count(*) FROM dead_deliveries"), 1);
}
END_TEST

static Suite *dedupe_suite(void)
{
	Suite *s = suite_create("dedupe");
	TCase *tc = tcase_create("dedupe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keyset_collisions_and_undo);
	tcase_add_test(tc, test_bloom_chain_and_saturation);
	tcase_add_test(tc, test_merge_and_restart);
	tcase_add_test(tc, test_rollback_forgets_keys);
	tcase_add_test(tc, test_migrates_unique_journal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dedupe_suite());
	int failed;

	ch_log_set_level(CH_LOG_WARN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
