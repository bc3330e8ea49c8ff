/* check_example.c - the out-of-tree example handler (examples/hello.c).
 *
 * Builds the example at test time the way a user would, against
 * include/callhookd/handler.h alone (no daemon header, no libcallhookd):
 * once with the compiler directly, once through examples/Makefile with the
 * build tree's callhookd.pc.  Then runs it through the real host.  A
 * compilation failure fails the test, with the compiler's output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define CALL_TYPE "Microsoft.Communication.CallLegStateChanged"

static char dir[64];

static void make_dir(void)
{
	harness_mkdtemp(dir, sizeof(dir), "check_example");
}

static void remove_dir(void)
{
	harness_rmdir(dir);
}

/* Run a shell command whose output goes to dir/build.log; on failure the
 * test fails with that output. */
static void run_build(const char *cmd)
{
	char full[4096], log[128], text[4096] = "";
	FILE *f;
	size_t n = 0;
	int rc;

	snprintf(log, sizeof(log), "%s/build.log", dir);
	ck_assert_int_lt(snprintf(full, sizeof(full), "(%s) > '%s' 2>&1", cmd, log),
	                 (int)sizeof(full));
	rc = system(full);
	if ((f = fopen(log, "r")) != NULL) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	ck_assert_msg(rc == 0, "build failed (%d): %s\n%s", rc, cmd, text);
}

/* The preview CallLegStateChanged sequence, later states first, then DTMF
 * and a GA CloudEvent (camelCase), then a duplicate body. */
static void post_events(struct ch_harness *h)
{
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/calllegstate-terminated.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/calllegstate-established.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/calllegstate-establishing.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/callconnected.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/dtmfreceived.json"), 0);
}

static void assert_counts(struct ch_harness *h)
{
	char *last;

	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM hello_counts"), 3);
	ck_assert_int_eq(
	    harness_int(h, "SELECT n FROM hello_counts WHERE event_type = '" CALL_TYPE "'"), 3);
	ck_assert_int_eq(harness_int(h, "SELECT n FROM hello_counts WHERE event_type = "
	                                "'Microsoft.Communication.DtmfReceived'"),
	                 1);
	ck_assert_int_eq(harness_int(h, "SELECT n FROM hello_counts WHERE event_type = "
	                                "'Microsoft.Communication.CallConnected'"),
	                 1);
	/* the newest by event time (Terminated), though it arrived first */
	last = harness_text(h, "SELECT last_time FROM hello_counts WHERE event_type = '" CALL_TYPE
	                       "'");
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(last, "2021-05-05T20:13:46.154181Z");
	free(last);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM hello_events e JOIN events j "
	                                "ON j.id = e.event_id AND j.event_type = e.event_type"),
	                 5);
}

static void exercise(const char *module)
{
	const char *opts[] = {"greeting=hi", NULL};
	struct ch_harness *h = harness_new(module, opts);

	post_events(h);
	ck_assert_int_eq(harness_run(h), 5);
	assert_counts(h);
	/* a replay delivers every event again: nothing is counted twice */
	ck_assert_int_eq(harness_replay(h), 5);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'"), 5);
	assert_counts(h);
	harness_free(h);
}

START_TEST(compiles_against_header_only)
{
	char cmd[2048], module[128];

	make_dir();
	snprintf(module, sizeof(module), "%s/hello.so", dir);
	snprintf(cmd, sizeof(cmd),
	         "%s -std=c11 -Wall -Wextra -Werror -pedantic -shared -fPIC -I'%s' %s "
	         "-o '%s' '%s/hello.c' -lsqlite3",
	         EXAMPLE_CC, ABI_INCLUDE_DIR, EXAMPLE_CFLAGS, module, EXAMPLES_DIR);
	run_build(cmd);
	exercise(module);
	remove_dir();
}
END_TEST

/* examples/Makefile with pkg-config, from a copy (the source tree may be
 * read-only); the build tree's callhookd.pc points at the install prefix,
 * so includedir is redirected to the source tree's include/. */
START_TEST(makefile_with_pkg_config)
{
	char cmd[4096], module[128];

	make_dir();
	snprintf(module, sizeof(module), "%s/hello.so", dir);
	snprintf(cmd, sizeof(cmd),
	         "cp '%s/hello.c' '%s/Makefile' '%s/' && cd '%s' && "
	         "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL PKG_CONFIG_PATH='%s' make "
	         "CC='%s' CFLAGS='-O1 -Wall -Wextra -Werror' "
	         "PKG_CONFIG=\"pkg-config --define-variable=includedir='%s'\"",
	         EXAMPLES_DIR, EXAMPLES_DIR, dir, dir, PC_DIR, EXAMPLE_CC, ABI_INCLUDE_DIR);
	run_build(cmd);
	ck_assert_int_eq(access(module, R_OK), 0);
	exercise(module);
	remove_dir();
}
END_TEST

/* An option the module does not declare is refused before init, by name. */
START_TEST(refuses_unknown_option)
{
	char cmd[2048], module[128];
	const char *opts[] = {"greting=hi", NULL};

	make_dir();
	snprintf(module, sizeof(module), "%s/hello.so", dir);
	snprintf(cmd, sizeof(cmd),
	         "%s -std=c11 -shared -fPIC -I'%s' %s -o '%s' '%s/hello.c' -lsqlite3", EXAMPLE_CC,
	         ABI_INCLUDE_DIR, EXAMPLE_CFLAGS, module, EXAMPLES_DIR);
	run_build(cmd);
	harness_assert_init_fails(module, opts, "greting", NULL);
	remove_dir();
}
END_TEST

static Suite *example_suite(void)
{
	Suite *s = suite_create("example");
	TCase *tc = tcase_create("example");

	tcase_set_timeout(tc, 120); /* compiles */
	tcase_add_test(tc, compiles_against_header_only);
	tcase_add_test(tc, makefile_with_pkg_config);
	tcase_add_test(tc, refuses_unknown_option);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(example_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
