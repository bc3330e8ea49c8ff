/* check_media.c - the media handler module (handlers/media.c) through the real host.
 *
 * Each test journals bodies with the daemon's intake path, runs the
 * dispatcher and reads media_events / media_operations back with SQL.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODULE       BUILD_HANDLERS "/media.so"
#define CALL         "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"
#define PREVIEW_CALL "471f3600-4e1f-4cd4-9eec-4a484e4cbf00"

/* Operation rows (harness_rows) with their first/last/deciding events named
 * by their sender ids, so that two journals with different row ids compare
 * equal. */
#define OP_ROW                                                                                     \
	"SELECT o.call_id, o.operation_context, o.kind, o.started_at_us, o.ended_at_us, "          \
	"o.outcome,"                                                                               \
	" o.result_code, o.result_subcode, o.result_message, o.event_type, f.event_id, l.event_id" \
	" FROM media_operations o"                                                                 \
	" JOIN events f ON f.id = o.first_event_id JOIN events l ON l.id = o.last_event_id"

static void post_file(struct ch_harness *h, const char *path)
{
	ck_assert_int_eq(harness_post_file(h, path), 1);
}

/* A 2021 preview PlayAudioResult; result is the ResultInfo JSON ("null"). */
static void post_preview_play(struct ch_harness *h, const char *context, const char *status,
                              const char *result, const char *time)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":null,\"topic\":null,\"subject\":\"callLeg/" PREVIEW_CALL
	                  "/playAudio\",\"data\":{\"ResultInfo\":%s,\"OperationContext\":\"%s\","
	                  "\"Status\":\"%s\",\"CallLegId\":\"" PREVIEW_CALL "\"},"
	                  "\"eventType\":\"Microsoft.Communication.PlayAudioResult\","
	                  "\"eventTime\":\"%s\",\"metadataVersion\":null,\"dataVersion\":null}",
	                  result, context, status, time),
	    1);
}

/* A GA media event of CALL; data_extra goes inside data (may be ""). */
static void post_ga(struct ch_harness *h, const char *id, const char *type, const char *time,
                    const char *data_extra)
{
	ck_assert_int_eq(harness_post_ga(h, id, type, CALL, time, data_extra), 1);
}

START_TEST(seed_completed)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/seed/playaudioresult-completed.json");
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_events"), 1);
	harness_assert_text(
	    h,
	    "SELECT call_id || '|' || operation_context || '|' || kind || '|' || event_type"
	    " || '|' || outcome || '|' || status || '|' || result_code || '|' || result_subcode"
	    " || '|' || result_message || '|' || event_time FROM media_events",
	    "511f3600-401f-4296-b6d0-b8da6f343b00|6c6cbbc7-66b2-47a8-a29c-5e5f73aee86d|play|"
	    "Microsoft.Communication.PlayAudioResult|completed|Completed|200|0|"
	    "Action completed successfully.|2021-05-05T20:38:22.047666Z");
	ck_assert_int_eq(harness_int(h,
	                             "SELECT count(*) FROM media_events m JOIN events e"
	                             " ON e.id = m.event_id AND e.event_time_us = m.event_time_us"),
	                 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 1);
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || result_code || '|' || result_subcode || '|' || kind"
	    " || '|' || operation_context FROM media_operations",
	    "completed|200|0|play|6c6cbbc7-66b2-47a8-a29c-5e5f73aee86d");
	ck_assert_int_eq(harness_int(h,
	                             "SELECT count(*) FROM media_operations o JOIN media_events m"
	                             " ON m.event_id = o.first_event_id"
	                             " AND m.event_id = o.last_event_id"
	                             " AND o.started_at_us = m.event_time_us"
	                             " AND o.ended_at_us = m.event_time_us"),
	                 1);
	harness_free(h);
}
END_TEST

/* Status "Completed" with 400/8508 is a cancellation (message misspelt). */
START_TEST(seed_cancelled)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/seed/playaudioresult-cancelled.json");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || status || '|' || result_code || '|' || result_subcode"
	    " FROM media_events",
	    "cancelled|Completed|400|8508");
	harness_assert_text(h, "SELECT result_message FROM media_events",
	                    "Action falied, the operation was cancelled.");
	harness_assert_text(h,
	                    "SELECT outcome || '|' || operation_context || '|' || call_id"
	                    " FROM media_operations",
	                    "cancelled|d8aeabf7-47a0-4803-b0cc-6059a708440d|" PREVIEW_CALL);
	harness_free(h);
}
END_TEST

/* Preview Status and a null ResultInfo. */
START_TEST(preview_status)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_preview_play(h, "ctx-null", "Completed", "null", "2021-05-05T20:00:00Z");
	post_preview_play(h, "ctx-failed", "Failed", "null", "2021-05-05T20:00:01Z");
	post_preview_play(h, "ctx-code", "Completed",
	                  "{\"Code\":500,\"Subcode\":8500,\"Message\":\"x\"}",
	                  "2021-05-05T20:00:02Z");
	post_preview_play(h, "ctx-running", "Running", "null", "2021-05-05T20:00:03Z");
	ck_assert_int_eq(harness_run(h), 4);
	harness_assert_text(h,
	                    "SELECT outcome || '|' || ifnull(result_code, '-') || '|'"
	                    " || ifnull(result_subcode, '-') || '|' || ifnull(result_message, '-')"
	                    " FROM media_operations WHERE operation_context = 'ctx-null'",
	                    "completed|-|-|-");
	harness_assert_text(
	    h, "SELECT outcome FROM media_operations WHERE operation_context = 'ctx-failed'",
	    "failed");
	harness_assert_text(h,
	                    "SELECT outcome || '|' || result_code || '|' || result_subcode"
	                    " FROM media_operations WHERE operation_context = 'ctx-code'",
	                    "failed|500|8500");
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || ifnull(ended_at_us, '-') FROM media_operations"
	    " WHERE operation_context = 'ctx-running'",
	    "started|-");
	harness_free(h);
}
END_TEST

START_TEST(ga_forms)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/cloudevents/playcompleted.json");
	post_file(h, FIXTURES "/cloudevents/playfailed.json");
	post_file(h, FIXTURES "/media/playcanceled.json");
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 3);
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || result_code || '|' || result_subcode || '|' || call_id"
	    " || '|' || ifnull(status, '-') FROM media_events"
	    " WHERE operation_context = 'welcome-prompt'",
	    "completed|200|0|" CALL "|-");
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || result_code || '|' || result_subcode || '|' || event_type"
	    " FROM media_operations WHERE operation_context = 'hold-music'",
	    "failed|400|8535|Microsoft.Communication.PlayFailed");
	harness_assert_text(
	    h,
	    "SELECT outcome || '|' || result_code || '|' || result_subcode || '|' || event_type"
	    " FROM media_operations WHERE operation_context = 'goodbye-prompt'",
	    "cancelled|400|8508|Microsoft.Communication.PlayCanceled");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_events"), 3);
	harness_free(h);
}
END_TEST

/* A cancelled play reported with code 400/8508 under a Completed type. */
START_TEST(ga_cancel_codes)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "c1", "PlayCompleted", "2025-06-16T20:00:00Z",
	        "\"operationContext\":\"x\",\"resultInformation\":{\"code\":400,\"subCode\":8508,"
	        "\"message\":\"Action falied, the operation was cancelled.\"}");
	post_ga(h, "c2", "PlayCanceled", "2025-06-16T20:00:01Z", "\"operationContext\":\"y\"");
	post_ga(h, "c3", "RecognizeCanceled", "2025-06-16T20:00:02Z", "\"operationContext\":\"z\"");
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"
	                                " WHERE outcome = 'cancelled'"),
	                 3);
	harness_assert_text(h, "SELECT kind FROM media_operations WHERE operation_context = 'z'",
	                    "recognize");
	harness_assert_text(h,
	                    "SELECT ifnull(result_code, '-') FROM media_operations"
	                    " WHERE operation_context = 'y'",
	                    "-");
	harness_free(h);
}
END_TEST

static char *started_completed(bool completed_first)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *row;

	if (completed_first) {
		post_file(h, FIXTURES "/cloudevents/playcompleted.json");
		ck_assert_int_eq(harness_run(h), 1);
		post_file(h, FIXTURES "/media/playstarted.json");
		ck_assert_int_eq(harness_run(h), 1);
	} else {
		post_file(h, FIXTURES "/media/playstarted.json");
		ck_assert_int_eq(harness_run(h), 1);
		harness_assert_text(
		    h, "SELECT outcome || '|' || ifnull(ended_at_us, '-') FROM media_operations",
		    "started|-");
		post_file(h, FIXTURES "/cloudevents/playcompleted.json");
		ck_assert_int_eq(harness_run(h), 1);
	}
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_events"), 2);
	row = harness_rows(h, OP_ROW);
	harness_free(h);
	return row;
}

START_TEST(started_completed_orders)
{
	static const char want[] =
	    CALL "|welcome-prompt|play|1750107160100000|1750107161707070|completed|200|0|"
	         "Action completed successfully.|Microsoft.Communication.PlayCompleted|"
	         "2b9d4f61-7e3a-4c85-b0f2-9a1e6d3c5b84|c5d2a9e7-3f1b-4c8d-9e6a-7b4c1d8e5f30";
	char *in_order = started_completed(false);
	char *reversed = started_completed(true);

	ck_assert_str_eq(in_order, want);
	ck_assert_str_eq(reversed, want);
	free(in_order);
	free(reversed);
}
END_TEST

/* A repeated Completed does not split the operation; a Started after the
 * terminal event (a reused context) begins a new run. */
START_TEST(reused_context)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "s1", "PlayStarted", "2025-06-16T20:00:00Z", "\"operationContext\":\"menu\"");
	post_ga(h, "c1", "PlayCompleted", "2025-06-16T20:00:05Z", "\"operationContext\":\"menu\"");
	post_ga(h, "c1-again", "PlayCompleted", "2025-06-16T20:00:05.017Z",
	        "\"operationContext\":\"menu\"");
	ck_assert_int_eq(harness_run(h), 3);
	harness_assert_text(
	    h,
	    "SELECT o.outcome || '|' || o.started_at_us || '|' || o.ended_at_us || '|'"
	    " || f.event_id || '|' || l.event_id FROM media_operations o"
	    " JOIN events f ON f.id = o.first_event_id JOIN events l ON l.id = o.last_event_id",
	    "completed|1750104000000000|1750104005017000|s1|c1-again");
	post_ga(h, "s2", "PlayStarted", "2025-06-16T20:01:00Z", "\"operationContext\":\"menu\"");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(
	    h,
	    "SELECT o.outcome || '|' || o.started_at_us || '|' || ifnull(o.ended_at_us, '-')"
	    " || '|' || o.event_type || '|' || f.event_id FROM media_operations o"
	    " JOIN events f ON f.id = o.first_event_id",
	    "started|1750104060000000|-|Microsoft.Communication.PlayStarted|s2");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 1);
	harness_free(h);
}
END_TEST

START_TEST(recognize)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/media/recognizecompleted-dtmf.json");
	post_file(h, FIXTURES "/media/recognizecompleted-choice.json");
	post_file(h, FIXTURES "/media/recognizefailed.json");
	/* The SDK parser test's 2022 shape: collectTonesResult, unknown tone. */
	post_ga(h, "r4", "RecognizeCompleted", "2022-11-22T01:41:44Z",
	        "\"operationContext\":\"old\",\"recognitionType\":\"dtmf\","
	        "\"collectTonesResult\":{\"tones\":[\"five\",\"six\",\"flash\",\"pound\"]}");
	ck_assert_int_eq(harness_run(h), 4);
	harness_assert_text(
	    h,
	    "SELECT kind || '|' || outcome || '|' || recognition_type || '|' || tones || '|'"
	    " || result_subcode || '|' || ifnull(choice_label, '-') FROM media_events"
	    " WHERE operation_context = 'main-menu'",
	    "recognize|completed|dtmf|123#|8514|-");
	harness_assert_text(
	    h,
	    "SELECT recognition_type || '|' || choice_label || '|' || recognized_phrase || '|'"
	    " || ifnull(tones, '-') FROM media_events WHERE operation_context = 'choice-menu'",
	    "choices|Support|customer help|-");
	harness_assert_text(
	    h,
	    "SELECT kind || '|' || outcome || '|' || result_code || '|' || result_subcode"
	    " FROM media_operations WHERE operation_context = 'main-menu-retry'",
	    "recognize|failed|400|8510");
	harness_assert_text(h, "SELECT tones FROM media_events WHERE operation_context = 'old'",
	                    "56?#");
	harness_assert_text(
	    h, "SELECT outcome FROM media_operations WHERE operation_context = 'main-menu'",
	    "completed");
	harness_free(h);
}
END_TEST

/* No operationContext: each event is an operation of its own. */
START_TEST(missing_context)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/media/playcompleted-nocontext.json");
	post_ga(h, "n2", "PlayCompleted", "2025-06-16T20:53:41Z", "");
	post_ga(h, "n3", "PlayFailed", "2025-06-16T20:53:42Z", "\"operationContext\":\"\"");
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"
	                                " WHERE operation_context IS NULL"),
	                 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"
	                                " WHERE first_event_id = last_event_id"),
	                 3);
	/* The doc's "resultInfo" spelling is read too. */
	harness_assert_text(h,
	                    "SELECT o.outcome || '|' || o.result_code || '|' || o.result_message"
	                    " FROM media_operations o JOIN events e ON e.id = o.first_event_id"
	                    " WHERE e.event_id = '3d7f1b9e-2a6c-4e58-9b3d-7c1e5a8f2d63'",
	                    "completed|200|Action completed successfully.");
	harness_assert_text(
	    h,
	    "SELECT outcome FROM media_operations o JOIN events e ON e.id = o.first_event_id"
	    " WHERE e.event_id = 'n3'",
	    "failed");
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 3);
	harness_free(h);
}
END_TEST

/* Types the prefix patterns match but the module does not know: no rows. */
START_TEST(unknown_type)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "p1", "PlayPaused", "2025-06-16T20:00:00Z", "\"operationContext\":\"x\"");
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_events"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

START_TEST(replay_idempotent)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *before, *after;

	static const char *const files[] = {
	    FIXTURES "/seed/playaudioresult-completed.json",
	    FIXTURES "/seed/playaudioresult-cancelled.json",
	    FIXTURES "/media/playstarted.json",
	    FIXTURES "/cloudevents/playcompleted.json",
	    FIXTURES "/media/recognizecompleted-dtmf.json",
	    NULL,
	};

	ck_assert_int_eq(harness_post_files(h, files), 5);
	ck_assert_int_eq(harness_run(h), 5);
	before = harness_rows(h, OP_ROW " ORDER BY o.id");
	ck_assert_ptr_nonnull(before);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_events"), 5);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM media_operations"), 4);
	after = harness_rows(h, OP_ROW " ORDER BY o.id");
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 5);
	free(before);
	free(after);
	harness_free(h);
}
END_TEST

static Suite *media_suite(void)
{
	Suite *s = suite_create("media");
	TCase *tc = tcase_create("operations");

	tcase_add_test(tc, seed_completed);
	tcase_add_test(tc, seed_cancelled);
	tcase_add_test(tc, preview_status);
	tcase_add_test(tc, ga_forms);
	tcase_add_test(tc, ga_cancel_codes);
	tcase_add_test(tc, started_completed_orders);
	tcase_add_test(tc, reused_context);
	tcase_add_test(tc, recognize);
	tcase_add_test(tc, missing_context);
	tcase_add_test(tc, unknown_type);
	tcase_add_test(tc, replay_idempotent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(media_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
