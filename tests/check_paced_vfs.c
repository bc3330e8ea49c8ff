/* check_paced_vfs.c - the checkpointer's VFS: a checkpoint through it writes
 * the database file out in steps (sync_file_range) and loses nothing; the
 * WAL and the rest pass through to the default VFS. */
#include <check.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "paced_vfs.h"

static char dir[PATH_MAX];
static char path[PATH_MAX + 16];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/check_paced_vfs.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/j.db", dir);
}

static void teardown(void)
{
	char name[PATH_MAX + 32];

	for (const char *const *s = (const char *const[]){"", "-wal", "-shm", NULL}; *s; s++) {
		snprintf(name, sizeof(name), "%s%s", path, *s);
		unlink(name);
	}
	rmdir(dir);
}

static sqlite3 *open_db(const char *vfs)
{
	sqlite3 *db = NULL;

	ck_assert_int_eq(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	return db;
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
	              msg ? msg : "?");
}

static long long one(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

START_TEST(test_checkpoint_in_steps_loses_nothing)
{
	sqlite3 *writer, *paced, *check;
	unsigned long before;
	int log = -1, copied = -1;

	ck_assert_int_eq(ch_paced_vfs_register(), SQLITE_OK);
	ck_assert_int_eq(ch_paced_vfs_register(), SQLITE_OK); /* once is enough */
	writer = open_db(NULL);
	exec(writer,
	     "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
	     "CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB);"
	     "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2048)"
	     " INSERT INTO t SELECT i, randomblob(1024) FROM n;");
	paced = open_db(CH_PACED_VFS_NAME);
	ck_assert_int_eq(one(paced, "SELECT count(*) FROM t WHERE id <= 2048"),
	                 2048); /* opens the WAL */
	before = ch_paced_vfs_flushes();
	ck_assert_int_eq(
	    sqlite3_wal_checkpoint_v2(paced, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied),
	    SQLITE_OK);
	ck_assert_int_gt(log, 0);
	ck_assert_int_eq(copied, log);
	/* more than 2 MiB went into the database file: written out 256 KiB at a time */
	ck_assert_uint_ge(ch_paced_vfs_flushes() - before, 7);
	/* it writes through the VFS too (its own WAL frames, passed through) */
	exec(paced, "INSERT INTO t VALUES (5000, x'00')");
	ck_assert_int_eq(
	    sqlite3_wal_checkpoint_v2(paced, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(paced);
	sqlite3_close(writer);
	/* a fresh connection through the default VFS finds every row intact */
	check = open_db(NULL);
	ck_assert_int_eq(one(check, "SELECT count(*) FROM t"), 2049);
	ck_assert_int_eq(one(check, "SELECT sum(length(blob)) FROM t"), 2048 * 1024 + 1);
	ck_assert_int_eq(one(check, "SELECT count(*) FROM pragma_integrity_check"
	                            " WHERE integrity_check <> 'ok'"),
	                 0);
	sqlite3_close(check);
}
END_TEST

START_TEST(test_missing_file_is_an_error)
{
	sqlite3 *db = NULL;
	char missing[PATH_MAX + 32];

	ck_assert_int_eq(ch_paced_vfs_register(), SQLITE_OK);
	snprintf(missing, sizeof(missing), "%s/none/j.db", dir);
	ck_assert_int_ne(sqlite3_open_v2(missing, &db, SQLITE_OPEN_READWRITE, CH_PACED_VFS_NAME),
	                 SQLITE_OK);
	sqlite3_close(db);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("paced_vfs");
	TCase *tc = tcase_create("paced_vfs");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_checkpoint_in_steps_loses_nothing);
	tcase_add_test(tc, test_missing_file_is_an_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
