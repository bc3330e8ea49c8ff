/* check_actions.c - unit tests for the handler actions: the request
 * builders (actions_body.c), and the host's action functions
 * (host_actions.c) run through the real host with th_probe's action option:
 * what is queued, once per (handler, journal row, ordinal), and the errors.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "actions_body.h"
#include "harness.h"
#include "plugin.h"

#define PROBE TEST_HANDLERS "/th_probe.so"
#define EST   FIXTURES "/seed/calllegstate-established.json"
#define CALL  "531f3600-481f-41c8-8a75-3e8b2e8e6200"

/* ---- the builders --------------------------------------------------------- */

static void expect(int rc, const struct ch_action_req *r, const char *kind, const char *method,
                   const char *path, const char *body)
{
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(r->kind, kind);
	ck_assert_str_eq(r->method, method);
	ck_assert_str_eq(r->path, path);
	if (body == NULL) {
		ck_assert_ptr_null(r->body);
	} else {
		ck_assert_ptr_nonnull(r->body);
		ck_assert_str_eq(r->body, body);
		ck_assert_uint_eq(r->body_len, strlen(body));
	}
}

START_TEST(test_bodies)
{
	struct ch_action_req r;
	struct ch_error err = {0};

	expect(ch_action_play_audio("c-1", "https://x.test/a.wav", true, "ctx 1", &r, &err), &r,
	       "play_audio", "POST", "/calling/calls/c-1/PlayAudio",
	       "{\"audioFileUri\":\"https://x.test/a.wav\",\"loop\":true,"
	       "\"operationContext\":\"ctx 1\"}");
	ch_action_req_free(&r);
	expect(ch_action_play_audio("c-1", "https://x.test/a.wav", false, NULL, &r, &err), &r,
	       "play_audio", "POST", "/calling/calls/c-1/PlayAudio",
	       "{\"audioFileUri\":\"https://x.test/a.wav\",\"loop\":false}");
	ch_action_req_free(&r);
	expect(ch_action_cancel_media("c-1", "stop", &r, &err), &r, "cancel_media", "POST",
	       "/calling/calls/c-1/CancelMediaProcessing", "{\"operationContext\":\"stop\"}");
	ch_action_req_free(&r);
	expect(ch_action_cancel_media("c-1", NULL, &r, &err), &r, "cancel_media", "POST",
	       "/calling/calls/c-1/CancelMediaProcessing", "{}");
	ch_action_req_free(&r);
	expect(ch_action_hangup("c-1", &r, &err), &r, "hangup", "POST", "/calling/calls/c-1/Hangup",
	       NULL);
	ch_action_req_free(&r);
	expect(ch_action_invite("c-1", "8:acs:abc_def", NULL, "inv", &r, &err), &r, "invite",
	       "POST", "/calling/calls/c-1/participants",
	       "{\"participants\":[{\"communicationUser\":{\"id\":\"8:acs:abc_def\"}}],"
	       "\"operationContext\":\"inv\"}");
	ch_action_req_free(&r);
	expect(ch_action_invite("c-1", "4:+15551234567", "+15550001111", NULL, &r, &err), &r,
	       "invite", "POST", "/calling/calls/c-1/participants",
	       "{\"participants\":[{\"phoneNumber\":{\"value\":\"+15551234567\"}}],"
	       "\"alternateCallerId\":{\"value\":\"+15550001111\"}}");
	ch_action_req_free(&r);
	expect(ch_action_remove_participant("c-1", "8:acs:abc", &r, &err), &r, "remove_participant",
	       "DELETE", "/calling/calls/c-1/participants/8:acs:abc", NULL);
	ch_action_req_free(&r);
	/* quotes, backslashes and control characters are escaped, not pasted */
	expect(ch_action_cancel_media("c-1", "a\"b\\c\n}", &r, &err), &r, "cancel_media", "POST",
	       "/calling/calls/c-1/CancelMediaProcessing",
	       "{\"operationContext\":\"a\\\"b\\\\c\\n}\"}");
	ch_action_req_free(&r);
	/* an id can neither add a path segment nor start the query */
	expect(ch_action_hangup("a/../b?x=1#f %", &r, &err), &r, "hangup", "POST",
	       "/calling/calls/a%2F..%2Fb%3Fx%3D1%23f%20%25/Hangup", NULL);
	ch_action_req_free(&r);
}
END_TEST

static void expect_error(int rc, const struct ch_error *err, const char *fragment)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(err->status, 400);
	if (strstr(err->message, fragment) == NULL)
		ck_abort_msg("\"%s\" lacks \"%s\"", err->message, fragment);
}

START_TEST(test_body_errors)
{
	struct ch_action_req r;
	struct ch_error err = {0};
	char *long_id = malloc(CH_ACTION_ID_MAX + 2);

	memset(long_id, 'a', CH_ACTION_ID_MAX + 1);
	long_id[CH_ACTION_ID_MAX + 1] = '\0';
	expect_error(ch_action_hangup(NULL, &r, &err), &err, "call_id is missing");
	expect_error(ch_action_hangup("", &r, &err), &err, "call_id is empty");
	expect_error(ch_action_hangup(long_id, &r, &err), &err, "call_id is longer than 256");
	long_id[CH_ACTION_ID_MAX] = '\0'; /* exactly the limit is fine */
	ck_assert_int_eq(ch_action_hangup(long_id, &r, &err), 0);
	free(long_id);
	expect_error(ch_action_play_audio("c", NULL, false, NULL, &r, &err), &err,
	             "audio_file_uri is missing");
	expect_error(ch_action_play_audio("c", "https://x/\xff.wav", false, NULL, &r, &err), &err,
	             "not valid UTF-8");
	ck_assert_ptr_null(r.body);
	expect_error(ch_action_cancel_media("c", "\xc3\x28", &r, &err), &err, "not valid UTF-8");
	expect_error(ch_action_invite("c", "alice", NULL, NULL, &r, &err), &err,
	             "participant: not a raw id");
	expect_error(ch_action_invite("c", "8:", NULL, NULL, &r, &err), &err,
	             "participant: not a raw id");
	expect_error(ch_action_invite("c", "4:5551234", NULL, NULL, &r, &err), &err,
	             "phone number is written 4:+");
	expect_error(ch_action_invite("c", "4:+1234567890123456", NULL, NULL, &r, &err), &err,
	             "phone number is written 4:+");
	expect_error(ch_action_invite("c", "4:+15551234567", "555", NULL, &r, &err), &err,
	             "alternate_caller_id");
	expect_error(ch_action_remove_participant("c", NULL, &r, &err), &err,
	             "participant_id is missing");
}
END_TEST

/* ---- through the host ------------------------------------------------------ */

static struct ch_harness *probe(const char *const *options)
{
	return harness_new(PROBE, options);
}

START_TEST(test_queued_once)
{
	struct ch_harness *h = probe((const char *const[]){"action=all", NULL});

	ch_actions_set_enabled(true);
	ck_assert_int_eq(harness_post_file(h, EST), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(
	    h,
	    "SELECT ordinal, call_id, kind, method, path, state, attempts FROM actions "
	    "ORDER BY id",
	    "1|" CALL "|play_audio|POST|/calling/calls/" CALL "/PlayAudio|pending|0;"
	    "2|" CALL "|cancel_media|POST|/calling/calls/" CALL "/CancelMediaProcessing|pending|0;"
	    "3|" CALL "|invite|POST|/calling/calls/" CALL "/participants|pending|0;"
	    "4|" CALL "|remove_participant|DELETE|/calling/calls/" CALL
	    "/participants/8:acs:probe-user|pending|0;"
	    "5|" CALL "|hangup|POST|/calling/calls/" CALL "/Hangup|pending|0");
	harness_assert_text(h, "SELECT body FROM actions WHERE kind = 'play_audio'",
	                    "{\"audioFileUri\":\"https://example.test/prompt.wav\",\"loop\":false,"
	                    "\"operationContext\":\"probe-1\"}");
	harness_assert_text(h, "SELECT body FROM actions WHERE kind = 'hangup'", NULL);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(DISTINCT event_id) FROM actions"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM actions WHERE handler = 'th_probe'"),
	                 5);
	/* a replay makes the same calls and queues nothing new */
	ck_assert_int_eq(harness_replay(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM actions"), 5);
	ck_assert_int_eq(harness_int(h, "SELECT MAX(id) FROM actions"), 5);
	harness_free(h);
}
END_TEST

START_TEST(test_retry_rolls_back)
{
	/* Two attempts queue the hangup and retry: both roll it back; the
	 * third succeeds and queues it, once. */
	struct ch_harness *h = probe((const char *const[]){"action=hangup", "retries=2", NULL});

	ch_actions_set_enabled(true);
	ck_assert_int_eq(harness_post_file(h, EST), 1);
	harness_run(h);
	ck_assert_int_eq(harness_int(h, "SELECT n FROM th_attempts"), 3);
	harness_assert_rows(h, "SELECT ordinal, kind FROM actions", "1|hangup");
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	harness_free(h);
}
END_TEST

START_TEST(test_not_configured)
{
	struct ch_harness *h = probe((const char *const[]){"action=play_audio", NULL});

	ch_actions_set_enabled(false);
	ck_assert_int_eq(harness_post_file(h, EST), 1);
	harness_run(h);
	harness_assert_text(h, "SELECT state FROM deliveries", "dead");
	harness_assert_text(h, "SELECT last_error FROM deliveries",
	                    "actions are not configured (no [actions] section)");
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM actions"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM th_seen"), 0);
	harness_free(h);
}
END_TEST

START_TEST(test_bad_argument)
{
	struct ch_harness *h =
	    probe((const char *const[]){"action=invite", "action_participant=bob", NULL});

	ch_actions_set_enabled(true);
	ck_assert_int_eq(harness_post_file(h, EST), 1);
	harness_run(h);
	harness_assert_text(h, "SELECT state FROM deliveries", "dead");
	harness_assert_text(h, "SELECT last_error FROM deliveries",
	                    "invite: participant: not a raw id of a communication user (8:...) "
	                    "or a phone number (4:+...)");
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM actions"), 0);
	harness_free(h);
}
END_TEST

START_TEST(test_outside_handle)
{
	struct ch_harness *h = probe(NULL);
	struct ch_plugin *p;

	ch_actions_set_enabled(true);
	p = harness_load_plugin(PROBE, "other", NULL, harness_db(h));
	ck_assert_int_eq(ch_host_table.hangup(&p->ctx, CALL), -1);
	ck_assert_str_eq(p->ctx.error, "actions may only be queued during handle()");
	ck_assert_int_eq(ch_host_table.play_audio(&p->ctx, CALL, "https://x/a.wav", false, NULL),
	                 -1);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM actions"), 0);
	ck_assert_uint_ge(ch_host_table.abi_minor, 1);
	ch_plugin_unload(p);
	harness_free(h);
}
END_TEST

static Suite *actions_suite(void)
{
	Suite *s = suite_create("actions");
	TCase *tc = tcase_create("bodies");

	tcase_add_test(tc, test_bodies);
	tcase_add_test(tc, test_body_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("host");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_queued_once);
	tcase_add_test(tc, test_retry_rolls_back);
	tcase_add_test(tc, test_not_configured);
	tcase_add_test(tc, test_bad_argument);
	tcase_add_test(tc, test_outside_handle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(actions_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
