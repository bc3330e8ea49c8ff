/* check_plugin.c - the plugin host: patterns, loader errors, the accessors a
 * module sees, and delivery semantics (retry, fail, dead, crash quarantine,
 * atomic derived writes, replay), all through real modules. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dispatch.h"
#include "harness.h"
#include "plugin.h"

#define PROBE TEST_HANDLERS "/th_probe.so"
#define SEED  FIXTURES "/seed/"
#define EST   SEED "calllegstate-established.json"
#define DTMF  SEED "dtmfreceived.json"
#define PARTS SEED "participantsupdated.json"
#define TERM  SEED "calllegstate-terminated.json"

static const char *const no_options[] = {NULL};

START_TEST(test_patterns)
{
	ck_assert(ch_pattern_match("*", "Microsoft.Communication.CallConnected"));
	ck_assert(ch_pattern_match("Microsoft.Communication.*", "Microsoft.Communication.X"));
	ck_assert(!ch_pattern_match("Microsoft.Communication.*", "Microsoft.CommunicationX"));
	ck_assert(!ch_pattern_match("Microsoft.Communication.*", "Microsoft.EventGrid.X"));
	ck_assert(ch_pattern_match("Microsoft.Communication.DtmfReceived",
	                           "Microsoft.Communication.DtmfReceived"));
	ck_assert(!ch_pattern_match("Microsoft.Communication.DtmfReceived",
	                            "Microsoft.Communication.DtmfReceivedX"));
	ck_assert(!ch_pattern_match("Microsoft.Communication.DtmfReceived",
	                            "microsoft.communication.dtmfreceived"));
}
END_TEST

/* Each load error is one line naming the handler, the file and the cause. */
static void expect_load_error(const char *module, const char *const *options,
                              const char *const *needles)
{
	char err[512] = "";
	struct ch_harness *h = harness_try_new(module, options, err, sizeof(err));

	ck_assert_ptr_null(h);
	ck_assert_ptr_null(strchr(err, '\n'));
	for (const char *const *n = needles; *n != NULL; n++)
		ck_assert_msg(strstr(err, *n) != NULL, "\"%s\" not in \"%s\"", *n, err);
}

START_TEST(test_load_errors)
{
	expect_load_error(TEST_HANDLERS "/missing.so", no_options,
	                  (const char *const[]){"handler \"missing\"", "missing.so",
	                                        "no such module file", NULL});
	expect_load_error(TEST_HANDLERS "/th_nosym.so", no_options,
	                  (const char *const[]){"th_nosym", "no ch_handler_entry() symbol", NULL});
	expect_load_error(TEST_HANDLERS "/th_badabi.so", no_options,
	                  (const char *const[]){"th_badabi", "built for handler ABI 2.0",
	                                        "this callhookd has ABI 1.1", NULL});
	expect_load_error(PROBE, (const char *const[]){"init_fail=yes", NULL},
	                  (const char *const[]){"th_probe", "init failed",
	                                        "told to fail (init_fail = yes)", NULL});
	expect_load_error(PROBE, (const char *const[]){"colour=blue", NULL},
	                  (const char *const[]){"unknown option \"colour\"", NULL});
	expect_load_error(PROBE, (const char *const[]){"retries=many", NULL},
	                  (const char *const[]){"retries: \"many\" is not an integer", NULL});
	expect_load_error(PROBE, (const char *const[]){"init_fail=perhaps", NULL},
	                  (const char *const[]){"init_fail: \"perhaps\" is not yes or no", NULL});
	expect_load_error(PROBE, (const char *const[]){"pause=soon", NULL},
	                  (const char *const[]){"pause: \"soon\" is not a duration", NULL});
	expect_load_error(PROBE, (const char *const[]){"events=Microsoft.*.Call", NULL},
	                  (const char *const[]){"event pattern \"Microsoft.*.Call\"", NULL});
}
END_TEST

START_TEST(test_accessors)
{
	struct ch_harness *h =
	    harness_new(PROBE, (const char *const[]){"label=probe-1", "pause=2s", NULL});
	char *s;

	ck_assert_int_eq(harness_post_file(h, EST), 1);
	ck_assert_int_eq(harness_post_file(h, DTMF), 1);
	ck_assert_int_eq(harness_post_file(h, PARTS), 1);
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 3);
	s = harness_text(h, "SELECT state FROM th_seen WHERE type LIKE '%CallLegStateChanged'");
	ck_assert_str_eq(s, "Established");
	free(s);
	s = harness_text(h, "SELECT format || ' ' || time || ' ' || label FROM th_seen WHERE "
	                    "type LIKE '%CallLegStateChanged'");
	ck_assert_str_eq(s, "preview 2021-05-05T20:08:59.578398Z probe-1");
	free(s);
	ck_assert_int_eq(harness_int(h, "SELECT pause_ms FROM th_seen LIMIT 1"), 2000);
	/* the dtmf fixture's ToneInfo, through a case-insensitive path */
	ck_assert_int_ge(harness_int(h, "SELECT seq FROM th_seen WHERE type LIKE '%Dtmf%'"), 0);
	s = harness_text(h, "SELECT tone FROM th_seen WHERE type LIKE '%Dtmf%'");
	ck_assert_ptr_nonnull(s);
	free(s);
	ck_assert_int_gt(harness_int(h, "SELECT n_participants FROM th_seen WHERE type LIKE "
	                                "'%ParticipantsUpdated'"),
	                 0);
	s = harness_text(h, "SELECT first_raw_id FROM th_seen WHERE type LIKE "
	                    "'%ParticipantsUpdated'");
	ck_assert_ptr_nonnull(s);
	free(s);
	/* json(): the data object exactly as sent */
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen s JOIN events e ON "
	                                "e.id = s.event_id WHERE instr(e.raw, s.data_json) > 0 "
	                                "AND s.data_json LIKE '{%}'"),
	                 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done' "
	                                "AND attempts = 1"),
	                 3);
	harness_free(h);
}
END_TEST

START_TEST(test_events_override)
{
	struct ch_harness *h = harness_new(
	    PROBE, (const char *const[]){"events=Microsoft.Communication.DtmfReceived", NULL});

	harness_post_file(h, EST);
	harness_post_file(h, DTMF);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen WHERE type = "
	                                "'Microsoft.Communication.DtmfReceived'"),
	                 1);
	/* the cursor moved past the row it did not want */
	ck_assert_int_eq(harness_int(h, "SELECT cursor FROM handlers"), 2);
	harness_free(h);
}
END_TEST

START_TEST(test_retry_then_done)
{
	struct ch_harness *h = harness_new(PROBE, (const char *const[]){"retries=2", NULL});

	harness_post_file(h, EST);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries WHERE state = 'done'"), 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 1);
	harness_free(h);
}
END_TEST

START_TEST(test_retry_until_dead)
{
	struct ch_harness *h = harness_new(PROBE, (const char *const[]){"retries=10", NULL});
	char *s;

	harness_post_file(h, EST);
	harness_run(h);
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries WHERE state = 'dead'"), 3);
	s = harness_text(h, "SELECT last_error FROM deliveries");
	ck_assert_str_eq(s, "retry 1");
	free(s);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 0);
	/* dead retry by hand (what callhookctl dead retry does) */
	sqlite3_exec(harness_db(h),
	             "UPDATE th_attempts SET n = 100; UPDATE deliveries SET state = 'pending', "
	             "attempts = 0 WHERE state = 'dead'",
	             NULL, NULL, NULL);
	harness_run(h);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

START_TEST(test_fail_is_dead_at_once)
{
	struct ch_harness *h = harness_new(
	    PROBE, (const char *const[]){"fail_type=Microsoft.Communication.DtmfReceived", NULL});
	char *s;

	harness_post_file(h, EST);
	harness_post_file(h, DTMF);
	harness_post_file(h, TERM);
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries WHERE state = 'dead'"), 1);
	s = harness_text(h, "SELECT last_error FROM deliveries WHERE state = 'dead'");
	ck_assert_str_eq(s, "fail_type Microsoft.Communication.DtmfReceived");
	free(s);
	harness_free(h);
}
END_TEST

/* A handler's writes and its done mark commit together: writes of an
 * attempt that asked for a retry are rolled back. */
START_TEST(test_writes_roll_back)
{
	struct ch_harness *h =
	    harness_new(PROBE, (const char *const[]){"write_then_retry=yes", NULL});

	harness_post_file(h, EST);
	harness_run(h);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'dead'"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 0);
	harness_free(h);
}
END_TEST

/* What a restarted daemon does: a new connection and a new instance. */
static void run_in_child(struct ch_harness *h, const char *const *options)
{
	struct ch_dispatch_options o = {.max_attempts = 3, .batch = 4};
	struct ch_plugin *p;
	struct ch_error err;
	sqlite3 *db;
	long did;

	if (sqlite3_open(harness_path(h), &db) != SQLITE_OK)
		_exit(3);
	sqlite3_busy_timeout(db, 5000);
	p = harness_load_plugin(PROBE, NULL, options, db);
	do {
		if (ch_dispatch_step(db, p, &o, &did, &err) < 0)
			_exit(4);
	} while (did > 0);
	_exit(0);
}

static int crash_once(struct ch_harness *h, const char *const *options)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		run_in_child(h, options);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* A handler that kills the process must not cause a crash loop: the attempt
 * is counted before it runs, the poison event is quarantined once it reaches
 * the limit, and its neighbours are delivered. */
START_TEST(test_crash_quarantine)
{
	const char *const crash[] = {"crash_type=Microsoft.Communication.DtmfReceived", NULL};
	struct ch_harness *h = harness_new(PROBE, crash);
	int status = 0, crashes = 0;
	char *s;

	harness_post_file(h, EST);
	harness_post_file(h, DTMF);
	harness_post_file(h, TERM);
	harness_post_file(h, PARTS);
	for (int i = 0; i < 10; i++) { /* restarts, bounded */
		status = crash_once(h, crash);
		if (!WIFSIGNALED(status))
			break;
		ck_assert_int_eq(WTERMSIG(status), SIGABRT);
		crashes++;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	ck_assert_int_eq(crashes, 3); /* max_attempts */
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'dead'"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT event_id FROM deliveries WHERE state = 'dead'"), 2);
	s = harness_text(h, "SELECT last_error FROM deliveries WHERE state = 'dead'");
	ck_assert_ptr_nonnull(strstr(s, "quarantined"));
	free(s);
	/* the neighbours, including the ones claimed in the same batch, are done
	 * and none of them was pushed towards dead by the crashes */
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'"), 3);
	ck_assert_int_le(harness_int(h, "SELECT MAX(attempts) FROM deliveries WHERE state = "
	                                "'done'"),
	                 2);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 3);
	harness_free(h);
}
END_TEST

static void count_progress(void *arg, int64_t done, int64_t total)
{
	int64_t *last = arg;

	ck_assert_int_le(done, total);
	last[0] = done;
	last[1] = total;
}

/* A handler added later starts at the end of the journal; replay back-fills
 * it, and replaying again adds nothing twice. */
START_TEST(test_new_handler_and_replay)
{
	struct ch_harness *h = harness_new(PROBE, no_options);
	struct ch_dispatch_options o = {.max_attempts = 3};
	struct ch_plugin *late;
	struct ch_error err;
	int64_t progress[2] = {-1, -1};
	long did;

	harness_post_file(h, EST);
	harness_post_file(h, DTMF);
	harness_post_file(h, TERM);
	ck_assert_int_eq(harness_run(h), 3);
	late = harness_load_plugin(PROBE, "late", no_options, harness_db(h));
	ck_assert_int_eq(ch_dispatch_register(harness_db(h), late, &err), 0);
	ck_assert_int_eq(ch_dispatch_step(harness_db(h), late, &o, &did, &err), 0);
	ck_assert_int_eq(did, 0);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE handler='late'"), 0);

	ck_assert_int_eq(
	    ch_dispatch_replay(harness_db(h), late, &o, 0, count_progress, progress, &err), 0);
	ck_assert_int_eq(progress[0], 3);
	ck_assert_int_eq(progress[1], 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE handler='late' "
	                                "AND state='done'"),
	                 3);
	/* --since: only events at or after the Terminated one */
	ck_assert_int_eq(ch_dispatch_replay(harness_db(h), late, &o,
	                                    harness_int(h, "SELECT event_time_us FROM events "
	                                                   "WHERE id = 3"),
	                                    count_progress, progress, &err),
	                 0);
	ck_assert_int_eq(progress[1], harness_int(h, "SELECT COUNT(*) FROM events WHERE "
	                                             "event_time_us >= (SELECT event_time_us "
	                                             "FROM events WHERE id = 3)"));
	ck_assert_int_lt(progress[1], 3);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 3);
	ch_plugin_unload(late);
	harness_free(h);
}
END_TEST

/* A claim reads the open deliveries, not every one the handler ever had: it
 * used to walk the done ones first (SQLite, without statistics, picked the
 * primary key over the partial index), so each claim cost the whole history. */
START_TEST(test_claim_reads_only_open_deliveries)
{
	struct ch_harness *h = harness_new(PROBE, no_options);
	struct ch_dispatch_options o = {.max_attempts = 3};
	sqlite3 *db = harness_db(h);
	struct ch_plugin *big;
	struct ch_error err;
	int most = 0;
	long did;

	harness_post_file(h, EST);
	big = harness_load_plugin(PROBE, "big", no_options, db);
	ck_assert_int_eq(ch_dispatch_register(db, big, &err), 0);
	/* 100,000 settled deliveries before the open one (ids below the
	 * journal's, so no journal rows are needed for them) */
	ck_assert_int_eq(
	    sqlite3_exec(db,
	                 "PRAGMA foreign_keys = OFF;"
	                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
	                 " WHERE i < 100000) INSERT INTO deliveries (handler, event_id, state,"
	                 " attempts, updated_at) SELECT 'big', -i, 'done', 1, 'x' FROM n;"
	                 "PRAGMA foreign_keys = ON;"
	                 "INSERT INTO deliveries (handler, event_id, state, attempts, updated_at)"
	                 " VALUES ('big', 1, 'pending', 0, 'x')",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(ch_dispatch_step(db, big, &o, &did, &err), 0);
	ck_assert_int_eq(did, 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE handler = 'big'"
	                                " AND event_id = 1 AND state = 'done'"),
	                 1);
	for (int i = 0; i < CH_DISPATCH_STMTS; i++) {
		int steps =
		    big->dispatch_stmts[i] != NULL
		        ? sqlite3_stmt_status(big->dispatch_stmts[i], SQLITE_STMTSTATUS_VM_STEP, 0)
		        : 0;

		most = steps > most ? steps : most;
	}
	ck_assert_msg(most < 10000, "a dispatch statement took %d VM steps", most);
	ch_plugin_unload(big);
	harness_free(h);
}
END_TEST

/* The handlers of one worker share a pass over the journal: each gets the
 * rows past its own cursor that its patterns match, and every cursor ends at
 * the last row read. */
START_TEST(test_shared_enqueue)
{
	struct ch_harness *h = harness_new(PROBE, no_options);
	struct ch_plugin *ps[2];
	struct ch_error err;
	long did = 0;

	ps[0] = harness_load_plugin(PROBE, "all", no_options, harness_db(h));
	ps[1] = harness_load_plugin(
	    PROBE, "dtmfonly",
	    (const char *const[]){"events=Microsoft.Communication.DtmfReceived", NULL},
	    harness_db(h));
	ck_assert_int_eq(ch_dispatch_register(harness_db(h), ps[0], &err), 0);
	ck_assert_int_eq(ch_dispatch_register(harness_db(h), ps[1], &err), 0);
	harness_post_file(h, EST);
	harness_post_file(h, DTMF);
	harness_post_file(h, TERM);
	/* "all" has seen the first row already, "dtmfonly" nothing. */
	ck_assert_int_eq(sqlite3_exec(harness_db(h),
	                              "UPDATE handlers SET cursor = 1 WHERE name = 'all'", NULL,
	                              NULL, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(ch_dispatch_enqueue(ps, 2, &did, &err), 0);
	ck_assert_int_eq(did, 3);
	harness_assert_rows(h,
	                    "SELECT handler, event_id, state FROM deliveries"
	                    " WHERE handler IN ('all', 'dtmfonly') ORDER BY 1, 2",
	                    "all|2|pending;all|3|pending;dtmfonly|2|pending");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM handlers WHERE name IN ('all', "
	                                "'dtmfonly') AND cursor = 3"),
	                 2);
	/* Nothing new: nothing to do, and the cursors stay. */
	did = 0;
	ck_assert_int_eq(ch_dispatch_enqueue(ps, 2, &did, &err), 0);
	ck_assert_int_eq(did, 0);
	ch_plugin_unload(ps[0]);
	ch_plugin_unload(ps[1]);
	harness_free(h);
}
END_TEST

static Suite *plugin_suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("host");

	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_shared_enqueue);
	tcase_add_test(tc, test_claim_reads_only_open_deliveries);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_accessors);
	tcase_add_test(tc, test_events_override);
	tcase_add_test(tc, test_retry_then_done);
	tcase_add_test(tc, test_retry_until_dead);
	tcase_add_test(tc, test_fail_is_dead_at_once);
	tcase_add_test(tc, test_writes_roll_back);
	tcase_add_test(tc, test_crash_quarantine);
	tcase_add_test(tc, test_new_handler_and_replay);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(plugin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
