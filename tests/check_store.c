/* check_store.c - the SQLite journal store (src/store_sqlite.c).
 *
 * Each test works in its own mkdtemp directory and checks what the store
 * wrote through a second, independent sqlite3 connection, the way an operator
 * or a report would see it.  Tests run as root in CI, so nothing here relies
 * on file permissions to make the database unwritable: contention comes from
 * a second connection holding the write lock.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

static char tmpdir[PATH_MAX];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/check_store.XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path under this test's directory; each call overwrites the last. */
static const char *tmp_path(const char *name)
{
	static char path[PATH_MAX];

	int n = snprintf(path, sizeof(path), "%s/%s", tmpdir, name);

	ck_assert(n > 0 && (size_t)n < sizeof(path));
	return path;
}

static struct ch_store *open_store(const char *path, int busy_timeout_ms)
{
	struct ch_store_options opts = {
	    .path = path,
	    .synchronous = CH_SYNC_FULL,
	    .busy_timeout_ms = busy_timeout_ms,
	};
	struct ch_error err = {0};
	struct ch_store *store = NULL;

	ck_assert_msg(ch_store_open(&opts, &store, &err) == 0, "open %s: %d %s %s", path,
	              err.status, err.code, err.message);
	ck_assert_ptr_nonnull(store);
	return store;
}

#define ck_assert_error(err, want_status, want_code)                                               \
	do {                                                                                       \
		ck_assert_msg((err).status == (want_status) &&                                     \
		                  strcmp((err).code, (want_code)) == 0,                            \
		              "want %d %s, got %d %s: %s", (want_status), (want_code),             \
		              (err).status, (err).code, (err).message);                            \
	} while (0)

/* A journal row whose dedupe key is derived from n; the row owns its key. */
struct test_row {
	struct ch_journal_row row;
	uint8_t key[32];
};

static void make_row(struct test_row *t, unsigned n)
{
	static const char raw[] = "{\"eventType\":\"Microsoft.Communication.CallConnected\"}";

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < sizeof(t->key); i++)
		t->key[i] = (uint8_t)(n >> (8 * (i % 4)));
	t->key[31] = 0xa5;
	t->row.format = "preview";
	t->row.type = "Microsoft.Communication.CallConnected";
	t->row.received_us = 1700000000000000 + n;
	t->row.dedupe_key = t->key;
	t->row.raw = raw;
	t->row.raw_len = sizeof(raw) - 1;
}

static bool append(struct ch_store *store, const struct ch_journal_row *row)
{
	struct ch_error err = {0};
	bool duplicate = true;

	ck_assert_msg(ch_store_append(store, row, &duplicate, &err) == 0, "append: %d %s %s",
	              err.status, err.code, err.message);
	return duplicate;
}

static sqlite3 *peer_open(const char *path)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static void peer_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
	              msg != NULL ? msg : "?");
}

/* The first column of the first row of sql, as an integer. */
static int64_t peer_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t value;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return value;
}

static int64_t count_events(const char *path)
{
	sqlite3 *db = peer_open(path);
	int64_t n = peer_int(db, "SELECT count(*) FROM events");

	sqlite3_close(db);
	return n;
}

static void create_db_with_version(const char *path, int version)
{
	char sql[64];
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", version);
	peer_exec(db, "CREATE TABLE unrelated(a)");
	peer_exec(db, sql);
	sqlite3_close(db);
}

/* Every numbered file of schema/ is compiled in. */
static int count_schema_files(void)
{
	DIR *d = opendir(SCHEMA_DIR);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		n += len > 4 && e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
		     strcmp(e->d_name + len - 4, ".sql") == 0;
	}
	closedir(d);
	return n;
}

START_TEST(test_open_creates_dirs_and_schema)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct ch_store *store;
	struct stat st;
	sqlite3 *db;
	sqlite3_stmt *q;

	snprintf(path, sizeof(path), "%s", tmp_path("a/b/c/journal.db"));
	store = open_store(path, 1000);
	ck_assert_int_eq(ch_store_schema_latest(), count_schema_files());
	ck_assert_int_eq(ch_store_schema_version(store), ch_store_schema_latest());

	snprintf(dir, sizeof(dir), "%s", tmp_path("a/b"));
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0750); /* main() sets umask 022 */

	db = peer_open(path);
	ck_assert_int_eq(peer_int(db, "PRAGMA user_version"), ch_store_schema_latest());
	ck_assert_int_eq(peer_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                              " AND name IN ('events', 'meta')"),
	                 2);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	ch_store_close(store);
}
END_TEST

START_TEST(test_open_reports_uncreatable_directory)
{
	struct ch_store_options opts = {.path = NULL, .synchronous = CH_SYNC_FULL};
	char path[PATH_MAX];
	struct ch_error err = {0};
	struct ch_store *store = (struct ch_store *)&err; /* must be reset to NULL */
	FILE *f;

	f = fopen(tmp_path("plainfile"), "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s", tmp_path("plainfile/sub/journal.db"));
	opts.path = path;
	ck_assert_int_eq(ch_store_open(&opts, &store, &err), -1);
	ck_assert_ptr_null(store);
	ck_assert_error(err, 500, "StoreOpenFailed");
	ck_assert_msg(strstr(err.message, path) != NULL, "no path in: %s", err.message);
	ck_assert_msg(strstr(err.message, strerror(ENOTDIR)) != NULL, "no reason in: %s",
	              err.message);
}
END_TEST

static const uint8_t full_key[32] = {
    0x01, 0x02, 0x03, 0x00, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0,
    0xc0, 0xd0, 0xe0, 0xf0, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa};

static void assert_text(sqlite3_stmt *q, int col, const char *want)
{
	if (want == NULL) {
		ck_assert_msg(sqlite3_column_type(q, col) == SQLITE_NULL, "column %d not NULL",
		              col);
		return;
	}
	ck_assert_int_eq(sqlite3_column_type(q, col), SQLITE_TEXT);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, col), want);
}

START_TEST(test_append_commit_visible)
{
	/* raw_len stops before the trailing garbage: the store must not read on. */
	static const char raw[] = "{\"id\":\"e1\",\"data\":{}}TRAILING";
	const struct ch_journal_row full = {
	    .format = "cloudevents",
	    .type = "Microsoft.Communication.CallConnected",
	    .id = "e1",
	    .source = "calling/callConnections/421f",
	    .subject = "calling/callConnections/421f",
	    .call_id = "421f0b00-1234",
	    .event_time = "2023-11-14T22:13:19.500000Z",
	    .event_time_us = 1699999999500000,
	    .received_us = 1700000000123456,
	    .remote_addr = "127.0.0.1:53422",
	    .endpoint = "/events",
	    .dedupe_key = full_key,
	    .raw = raw,
	    .raw_len = sizeof("{\"id\":\"e1\",\"data\":{}}") - 1,
	};
	struct test_row sparse;
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	sqlite3 *db;
	sqlite3_stmt *q;

	make_row(&sparse, 7);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &full));
	ck_assert(!append(store, &sparse.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);

	db = peer_open(path);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT received_at, received_us, format, event_type,"
	                                    " event_id, source, subject, call_id, event_time,"
	                                    " event_time_us, remote_addr, endpoint, dedupe_key, raw"
	                                    " FROM events ORDER BY id",
	                                    -1, &q, NULL),
	                 SQLITE_OK);

	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	assert_text(q, 0, "2023-11-14T22:13:20.123456Z");
	ck_assert_int_eq(sqlite3_column_int64(q, 1), full.received_us);
	assert_text(q, 2, full.format);
	assert_text(q, 3, full.type);
	assert_text(q, 4, full.id);
	assert_text(q, 5, full.source);
	assert_text(q, 6, full.subject);
	assert_text(q, 7, full.call_id);
	assert_text(q, 8, full.event_time);
	ck_assert_int_eq(sqlite3_column_type(q, 9), SQLITE_INTEGER);
	ck_assert_int_eq(sqlite3_column_int64(q, 9), full.event_time_us);
	assert_text(q, 10, full.remote_addr);
	assert_text(q, 11, full.endpoint);
	ck_assert_int_eq(sqlite3_column_type(q, 12), SQLITE_BLOB);
	ck_assert_int_eq(sqlite3_column_bytes(q, 12), 32);
	ck_assert_mem_eq(sqlite3_column_blob(q, 12), full_key, 32);
	assert_text(q, 13, "{\"id\":\"e1\",\"data\":{}}");

	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	assert_text(q, 0, "2023-11-14T22:13:20.000007Z");
	assert_text(q, 2, "preview");
	for (int col = 4; col <= 11; col++) {
		ck_assert_msg(sqlite3_column_type(q, col) == SQLITE_NULL, "column %d not NULL",
		              col);
	}
	ck_assert_mem_eq(sqlite3_column_blob(q, 12), sparse.key, 32);
	assert_text(q, 13, sparse.row.raw);

	ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	sqlite3_close(db);
	ch_store_close(store);
}
END_TEST

/* received_at for times a hand-written calendar could get wrong. */
START_TEST(test_received_at_text)
{
	static const struct {
		int64_t us;
		const char *text;
	} cases[] = {
	    {0, "1970-01-01T00:00:00.000000Z"},
	    {-1, "1969-12-31T23:59:59.999999Z"},
	    {951782400000000, "2000-02-29T00:00:00.000000Z"},
	    {4107542399999999, "2100-02-28T23:59:59.999999Z"},
	    {-62135596800000000, "0001-01-01T00:00:00.000000Z"},
	    {INT64_MIN, "0001-01-01T00:00:00.000000Z"}, /* clamped */
	    {INT64_MAX, "9999-12-31T23:59:59.999999Z"}, /* clamped */
	};
	const size_t n_cases = sizeof(cases) / sizeof(cases[0]);
	const size_t n_random = 2000;
	const int64_t lo = -62135596800LL, hi = 253402300799LL;
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	uint64_t seed = 0x9e3779b97f4a7c15u;
	struct test_row t;
	sqlite3 *db;
	sqlite3_stmt *q;

	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	for (size_t i = 0; i < n_cases + n_random; i++) {
		make_row(&t, (unsigned)i);
		if (i < n_cases) {
			t.row.received_us = cases[i].us;
		} else {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			t.row.received_us =
			    (lo + (int64_t)((seed >> 11) % (uint64_t)(hi - lo))) * 1000000 +
			    (int64_t)(seed % 1000000);
		}
		ck_assert(!append(store, &t.row));
	}
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ch_store_close(store);

	/* The fixed cases by hand, the random ones against gmtime_r. */
	db = peer_open(path);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT received_us, received_at FROM events"
	                                    " ORDER BY id",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	for (size_t i = 0; i < n_cases + n_random; i++) {
		const char *got;
		char want[64];

		ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
		got = (const char *)sqlite3_column_text(q, 1);
		if (i < n_cases) {
			ck_assert_str_eq(got, cases[i].text);
		} else {
			int64_t us = sqlite3_column_int64(q, 0);
			int64_t frac = ((us % 1000000) + 1000000) % 1000000; /* floor */
			time_t secs = (time_t)((us - frac) / 1000000);
			struct tm tm;

			ck_assert_ptr_nonnull(gmtime_r(&secs, &tm));
			snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			         tm.tm_min, tm.tm_sec, (int)frac);
			ck_assert_msg(strcmp(got, want) == 0, "%" PRId64 ": got %s want %s", us,
			              got, want);
		}
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_duplicate_key)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	struct test_row a, a_again, b;

	make_row(&a, 1);
	make_row(&a_again, 1);
	a_again.row.type = "Microsoft.Communication.CallDisconnected"; /* same key wins */
	make_row(&b, 2);

	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &a.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);

	/* Against a committed row. */
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(append(store, &a_again.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(count_events(path), 1);

	/* Within one transaction, across request savepoints. */
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &b.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(append(store, &b.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(count_events(path), 2);
	ch_store_close(store);
}
END_TEST

START_TEST(test_savepoints)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	struct test_row r1, r2, r3, r4;
	sqlite3 *db;

	make_row(&r1, 1);
	make_row(&r2, 2);
	make_row(&r3, 3);
	make_row(&r4, 4);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);

	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);

	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r2.row));
	ch_store_rollback_savepoint(store);

	/* A request that fails part-way (a constraint, not a duplicate) is a
	 * 500 and leaves its neighbours alone once its savepoint is undone. */
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r3.row));
	r4.row.format = "bogus";
	{
		bool duplicate = true;

		ck_assert_int_eq(ch_store_append(store, &r4.row, &duplicate, &err), -1);
		ck_assert_error(err, 500, "StoreError");
		ck_assert(!duplicate);
	}
	ch_store_rollback_savepoint(store);

	/* The key of a rolled-back row is free again. */
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r2.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ck_assert_int_eq(ch_store_commit(store, &err), 0);

	db = peer_open(path);
	ck_assert_int_eq(peer_int(db, "SELECT count(*) FROM events"), 2);
	ck_assert_int_eq(peer_int(db, "SELECT count(*) FROM events WHERE received_us IN"
	                              " (1700000000000001, 1700000000000002)"),
	                 2);
	sqlite3_close(db);
	ch_store_close(store);
}
END_TEST

START_TEST(test_rollback_discards)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	struct test_row r1;

	/* Harmless with nothing open, and the store still works after. */
	ch_store_rollback(store);
	ch_store_rollback_savepoint(store);

	make_row(&r1, 1);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ch_store_rollback(store);
	ch_store_rollback(store);
	ch_store_rollback_savepoint(store);
	ck_assert_int_eq(count_events(path), 0);

	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(count_events(path), 1);
	ch_store_close(store);
	ch_store_close(NULL);
}
END_TEST

START_TEST(test_reopen_keeps_data)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	struct test_row r1, r2;

	make_row(&r1, 1);
	make_row(&r2, 2);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ch_store_close(store);

	/* Applying 001 again would fail on CREATE TABLE, so a successful
	 * reopen with the row still there means the migration was skipped. */
	store = open_store(path, 1000);
	ck_assert_int_eq(ch_store_schema_version(store), ch_store_schema_latest());
	ck_assert_int_eq(count_events(path), 1);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(append(store, &r1.row));
	ck_assert(!append(store, &r2.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ch_store_close(store);
	ck_assert_int_eq(count_events(path), 2);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
	const char *path = tmp_path("journal.db");
	const int newer = ch_store_schema_latest() + 5;
	struct ch_store_options opts = {.path = path, .synchronous = CH_SYNC_FULL};
	struct ch_error err = {0};
	struct ch_store *store = NULL;
	char want[128];
	sqlite3 *db;

	create_db_with_version(path, newer);
	ck_assert_int_eq(ch_store_open(&opts, &store, &err), -1);
	ck_assert_ptr_null(store);
	ck_assert_error(err, 500, "StoreOpenFailed");
	snprintf(want, sizeof(want), "database schema version %d is newer than this callhookd (%d)",
	         newer, ch_store_schema_latest());
	ck_assert_msg(strstr(err.message, want) != NULL, "got: %s", err.message);

	/* Refused, not touched. */
	db = peer_open(path);
	ck_assert_int_eq(peer_int(db, "PRAGMA user_version"), newer);
	ck_assert_int_eq(peer_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'events'"),
	                 0);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_locked_is_unavailable_then_recovers)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 50);
	struct ch_error err = {0};
	struct test_row r1;
	struct timespec t0, t1;
	sqlite3 *other = peer_open(path);
	double waited;

	make_row(&r1, 1);
	peer_exec(other, "BEGIN IMMEDIATE");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(ch_store_begin(store, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_error(err, 503, "StoreUnavailable");
	ck_assert_msg(strncmp(err.message, "journal not writable: ", 22) == 0, "got: %s",
	              err.message);
	/* It waited for the busy timeout, not much longer. */
	waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(waited >= 0.04 && waited < 5.0, "waited %.3fs", waited);

	/* The writer's reaction to a failed begin is harmless. */
	ch_store_rollback(store);

	peer_exec(other, "COMMIT");
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(peer_int(other, "SELECT count(*) FROM events"), 1);

	sqlite3_close(other);
	ch_store_close(store);
}
END_TEST

START_TEST(test_probe)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 50);
	struct ch_error err = {0};
	sqlite3 *other = peer_open(path);
	sqlite3_stmt *q;
	const char *value;

	ck_assert_int_eq(ch_store_probe(store, &err), 0);
	ck_assert_int_eq(sqlite3_prepare_v2(other,
	                                    "SELECT value FROM meta WHERE key = 'last_write_probe'",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	value = (const char *)sqlite3_column_text(q, 0);
	ck_assert_int_eq(strlen(value), 27);
	ck_assert_msg(value[4] == '-' && value[10] == 'T' && value[19] == '.' && value[26] == 'Z' &&
	                  strncmp(value, "20", 2) == 0,
	              "probe wrote %s", value);
	sqlite3_finalize(q);

	peer_exec(other, "BEGIN IMMEDIATE");
	ck_assert_int_eq(ch_store_probe(store, &err), -1);
	ck_assert_error(err, 503, "StoreUnavailable");
	peer_exec(other, "ROLLBACK");

	/* Recovers, and the upsert replaces rather than adds. */
	ck_assert_int_eq(ch_store_probe(store, &err), 0);
	ck_assert_int_eq(ch_store_probe(store, &err), 0);
	ck_assert_int_eq(peer_int(other, "SELECT count(*) FROM meta WHERE key = 'last_write_probe'"), 1);

	/* Inside the writer's own batch it refuses rather than commit it early. */
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_probe(store, &err), -1);
	ck_assert_error(err, 500, "StoreError");
	ch_store_rollback(store);

	sqlite3_close(other);
	ch_store_close(store);
}
END_TEST

START_TEST(test_read_only)
{
	const char *path = tmp_path("journal.db");
	struct ch_store_options opts = {.path = path, .read_only = true, .busy_timeout_ms = 50};
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	struct ch_store *ro = NULL;

	ch_store_close(store);
	ck_assert_int_eq(ch_store_open(&opts, &ro, &err), 0);
	ck_assert_int_eq(ch_store_schema_version(ro), ch_store_schema_latest());
	/* Writes are "cannot write now", like a read-only disk. */
	ck_assert_int_eq(ch_store_probe(ro, &err), -1);
	ck_assert_error(err, 503, "StoreUnavailable");
	ch_store_close(ro);
}
END_TEST

START_TEST(test_read_only_missing_or_unmigrated)
{
	char path[PATH_MAX];
	struct ch_store_options opts = {.read_only = true};
	struct ch_error err = {0};
	struct ch_store *ro = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s", tmp_path("nodir/journal.db"));
	opts.path = path;
	ck_assert_int_eq(ch_store_open(&opts, &ro, &err), -1);
	ck_assert_ptr_null(ro);
	ck_assert_error(err, 500, "StoreOpenFailed");
	ck_assert_msg(strstr(err.message, path) != NULL, "got: %s", err.message);
	ck_assert_int_eq(stat(tmp_path("nodir"), &st), -1); /* nothing created */

	snprintf(path, sizeof(path), "%s", tmp_path("missing.db"));
	ck_assert_int_eq(ch_store_open(&opts, &ro, &err), -1);
	ck_assert_error(err, 500, "StoreOpenFailed");
	ck_assert_int_eq(stat(path, &st), -1);

	snprintf(path, sizeof(path), "%s", tmp_path("plain.db"));
	create_db_with_version(path, 0);
	ck_assert_int_eq(ch_store_open(&opts, &ro, &err), -1);
	ck_assert_error(err, 500, "StoreOpenFailed");
	ck_assert_msg(strstr(err.message, "no callhookd schema") != NULL, "got: %s", err.message);
}
END_TEST

/* A deferred foreign key makes COMMIT itself fail while SQLite keeps the
 * transaction open: the store must roll it back so the next batch starts
 * clean.  (Derived tables will point back to the journal the same way.) */
START_TEST(test_failed_commit_recovers)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	sqlite3 *other = peer_open(path);
	struct test_row r1, r2;

	peer_exec(other, "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
	                 "CREATE TABLE child(parent_id INTEGER REFERENCES parent(id)"
	                 " DEFERRABLE INITIALLY DEFERRED);"
	                 "CREATE TRIGGER orphan AFTER INSERT ON events"
	                 " BEGIN INSERT INTO child VALUES (NEW.id + 1000); END;");
	make_row(&r1, 1);
	make_row(&r2, 2);
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_commit(store, &err), -1);
	ck_assert_error(err, 500, "StoreError");
	ck_assert_int_eq(count_events(path), 0);

	peer_exec(other, "DROP TRIGGER orphan");
	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &r2.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(count_events(path), 1);
	sqlite3_close(other);
	ch_store_close(store);
}
END_TEST

/* SQLite rolls a whole transaction back by itself after some errors (I/O,
 * disk full; here a trigger's RAISE(ROLLBACK) stands in for them).  The rest
 * of that batch must fail with 503 rather than run in autocommit mode, and
 * its commit must not report success. */
START_TEST(test_lost_transaction_fails_batch)
{
	const char *path = tmp_path("journal.db");
	struct ch_store *store = open_store(path, 1000);
	struct ch_error err = {0};
	sqlite3 *other = peer_open(path);
	struct test_row r1, bad, r3;
	bool duplicate;

	peer_exec(other,
	          "CREATE TRIGGER lose BEFORE INSERT ON events"
	          " WHEN NEW.event_type = 'lose' BEGIN SELECT RAISE(ROLLBACK, 'lost'); END;");
	make_row(&r1, 1);
	make_row(&bad, 2);
	bad.row.type = "lose";
	make_row(&r3, 3);

	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert_int_eq(ch_store_release(store, &err), 0);
	ck_assert_int_eq(ch_store_savepoint(store, &err), 0);
	ck_assert_int_eq(ch_store_append(store, &bad.row, &duplicate, &err), -1);
	ch_store_rollback_savepoint(store);

	ck_assert_int_eq(ch_store_savepoint(store, &err), -1);
	ck_assert_error(err, 503, "StoreUnavailable");
	ck_assert_int_eq(ch_store_append(store, &r3.row, &duplicate, &err), -1);
	ck_assert_error(err, 503, "StoreUnavailable");
	ck_assert_int_eq(ch_store_commit(store, &err), -1);
	ck_assert_error(err, 503, "StoreUnavailable");
	ck_assert_int_eq(count_events(path), 0);

	ck_assert_int_eq(ch_store_begin(store, &err), 0);
	ck_assert(!append(store, &r1.row));
	ck_assert(!append(store, &r3.row));
	ck_assert_int_eq(ch_store_commit(store, &err), 0);
	ck_assert_int_eq(count_events(path), 2);
	sqlite3_close(other);
	ch_store_close(store);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_creates_dirs_and_schema);
	tcase_add_test(tc, test_open_reports_uncreatable_directory);
	tcase_add_test(tc, test_append_commit_visible);
	tcase_add_test(tc, test_received_at_text);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_savepoints);
	tcase_add_test(tc, test_rollback_discards);
	tcase_add_test(tc, test_failed_commit_recovers);
	tcase_add_test(tc, test_lost_transaction_fails_batch);
	tcase_add_test(tc, test_reopen_keeps_data);
	tcase_add_test(tc, test_newer_schema_refused);
	tcase_add_test(tc, test_locked_is_unavailable_then_recovers);
	tcase_add_test(tc, test_probe);
	tcase_add_test(tc, test_read_only);
	tcase_add_test(tc, test_read_only_missing_or_unmigrated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	umask(022);
	/* Migrations log at info; keep the test output to failures. */
	ch_log_set_level(CH_LOG_WARN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
