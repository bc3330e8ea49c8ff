/* check_dtmf.c - the dtmf handler module (handlers/dtmf.c) through the real host.
 *
 * Each test journals bodies with the daemon's intake path, runs the
 * dispatcher and reads dtmf_tones back with SQL, the way a report would.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define MODULE BUILD_HANDLERS "/dtmf.so"
#define CALL   "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"

/* A GA ToneReceived for call, as the service posts it (array of one). */
static void post_tone(struct ch_harness *h, const char *id, const char *call, int seq,
                      const char *tone, const char *time)
{
	ck_assert_int_eq(
	    harness_postf(
	        h,
	        "[{\"id\":\"%s\",\"source\":\"calling/callConnections/%s\","
	        "\"type\":\"Microsoft.Communication.ToneReceived\",\"specversion\":\"1.0\","
	        "\"time\":\"%s\",\"data\":{\"callConnectionId\":\"%s\","
	        "\"toneInfo\":{\"sequenceId\":%d,\"tone\":\"%s\"}}}]",
	        id, call, time, call, seq, tone),
	    1);
}

START_TEST(seed_dtmfreceived)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones"), 1);
	harness_assert_text(h, "SELECT call_id FROM dtmf_tones",
	                    "471f3600-4e1f-4cd4-9eec-4a484e4cbf00");
	ck_assert_int_eq(harness_int(h, "SELECT sequence_id FROM dtmf_tones"), 1);
	harness_assert_text(h, "SELECT tone FROM dtmf_tones", "1");
	harness_assert_text(h, "SELECT tone_raw FROM dtmf_tones", "Tone1");
	harness_assert_text(h, "SELECT participant_id FROM dtmf_tones", NULL);
	harness_assert_text(h, "SELECT event_type FROM dtmf_tones",
	                    "Microsoft.Communication.DtmfReceived");
	ck_assert_int_eq(harness_int(h,
	                             "SELECT count(*) FROM dtmf_tones t JOIN events e"
	                             " ON e.id = t.event_id AND e.event_time_us = t.event_time_us"
	                             " AND e.event_time = t.event_time"),
	                 1);
	harness_assert_text(h, "SELECT event_time FROM dtmf_tones", "2021-05-05T20:31:00.481881Z");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

START_TEST(ga_tonereceived)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/tonereceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT call_id FROM dtmf_tones", CALL);
	ck_assert_int_eq(harness_int(h, "SELECT sequence_id FROM dtmf_tones"), 3);
	harness_assert_text(h, "SELECT tone FROM dtmf_tones", "#");
	harness_assert_text(h, "SELECT tone_raw FROM dtmf_tones", "pound");
	harness_assert_text(h, "SELECT participant_id FROM dtmf_tones",
	                    "d5e6f7a8-1b2c-4d3e-9f0a-6b7c8d9e0f12");
	harness_assert_text(h, "SELECT event_type FROM dtmf_tones",
	                    "Microsoft.Communication.ToneReceived");
	harness_assert_text(h, "SELECT event_time FROM dtmf_tones", "2025-06-16T20:52:50.100000Z");
	harness_free(h);
}
END_TEST

/* The SDK sample shape: no time in the envelope, data.time instead. */
START_TEST(continuous_time_in_data)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/continuousdtmf-tonereceived.json"),
	                 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT tone FROM dtmf_tones", "8");
	harness_assert_text(h, "SELECT tone_raw FROM dtmf_tones", "eight");
	ck_assert_int_eq(harness_int(h, "SELECT sequence_id FROM dtmf_tones"), 1);
	harness_assert_text(h, "SELECT participant_id FROM dtmf_tones",
	                    "267e33a9-c28e-4ecf-a33e-b3abd9526e32");
	harness_assert_text(h, "SELECT event_type FROM dtmf_tones",
	                    "Microsoft.Communication.ContinuousDtmfRecognitionToneReceived");
	harness_assert_text(h, "SELECT event_time FROM dtmf_tones", "2022-08-12T03:13:25.025276Z");
	ck_assert_int_eq(harness_int(h, "SELECT event_time_us FROM dtmf_tones"),
	                 1660274005025276LL);
	harness_free(h);
}
END_TEST

/* Failed/Stopped carry no tone: acknowledged, no row. */
START_TEST(continuous_stopped_no_row)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/continuousdtmf-stopped.json"), 1);
	ck_assert_int_eq(
	    harness_post(h,
	                 "[{\"id\":\"f1\",\"source\":\"calling/callConnections/" CALL "\","
	                 "\"type\":\"Microsoft.Communication.ContinuousDtmfRecognitionToneFailed\","
	                 "\"specversion\":\"1.0\",\"time\":\"2025-06-16T20:52:50Z\","
	                 "\"data\":{\"callConnectionId\":\"" CALL "\",\"resultInformation\":"
	                 "{\"code\":400,\"subCode\":12323,\"message\":\"x\"}}}]"),
	    1);
	ck_assert_int_eq(harness_run(h), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 2);
	harness_free(h);
}
END_TEST

static const struct {
	const char *raw, *tone;
} names[] = {
    {"zero", "0"},     {"one", "1"},      {"two", "2"},     {"three", "3"},    {"four", "4"},
    {"five", "5"},     {"six", "6"},      {"seven", "7"},   {"eight", "8"},    {"nine", "9"},
    {"pound", "#"},    {"asterisk", "*"}, {"Pound", "#"},   {"ASTERISK", "*"}, {"a", "A"},
    {"B", "B"},        {"c", "C"},        {"d", "D"},       {"Tone5", "5"},    {"TonePound", "#"},
    {"ToneStar", "*"}, {"#", "#"},        {"*", "*"},       {"7", "7"},        {"flash", NULL},
    {"", NULL},        {"Tone", NULL},    {"eleven", NULL},
};

START_TEST(tone_names)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	size_t n = sizeof(names) / sizeof(names[0]);
	char id[32], sql[128];

	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "tone-%zu", i);
		post_tone(h, id, CALL, (int)i + 1, names[i].raw, "2025-06-16T20:52:50Z");
	}
	ck_assert_int_eq(harness_run(h), (int)n);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones"), (int64_t)n);
	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "SELECT tone FROM dtmf_tones WHERE sequence_id = %zu",
		         i + 1);
		harness_assert_text(h, sql, names[i].tone);
		snprintf(sql, sizeof(sql),
		         "SELECT tone_raw FROM dtmf_tones WHERE sequence_id = %zu", i + 1);
		harness_assert_text(h, sql, names[i].raw);
	}
	harness_free(h);
}
END_TEST

/* The same sequence id again in another event of the call is a redelivery;
 * another call's sequence 1 is its own tone. */
START_TEST(repeated_sequence_ids)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_tone(h, "a1", CALL, 1, "one", "2025-06-16T20:52:50.000001Z");
	post_tone(h, "a1-again", CALL, 1, "one", "2025-06-16T20:52:50.000002Z");
	post_tone(h, "a2", CALL, 2, "two", "2025-06-16T20:52:51Z");
	post_tone(h, "b1", "other-call", 1, "nine", "2025-06-16T20:52:50Z");
	ck_assert_int_eq(harness_run(h), 4);
	ck_assert_int_eq(
	    harness_int(h, "SELECT count(*) FROM dtmf_tones WHERE call_id = '" CALL "'"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones WHERE sequence_id = 1"),
	                 2);
	ck_assert_int_eq(harness_int(h, "SELECT event_time_us % 1000000 FROM dtmf_tones"
	                                " WHERE call_id = '" CALL "' AND sequence_id = 1"),
	                 1);
	harness_assert_text(h, "SELECT tone FROM dtmf_tones WHERE call_id = 'other-call'", "9");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 4);
	/* The very same body again is refused by the journal. */
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/tonereceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/tonereceived.json"), 0);
	harness_free(h);
}
END_TEST

/* Tones journaled out of order read back in sequence order. */
START_TEST(out_of_order)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_tone(h, "t3", CALL, 3, "pound", "2025-06-16T20:52:53Z");
	post_tone(h, "t1", CALL, 1, "four", "2025-06-16T20:52:51Z");
	post_tone(h, "t2", CALL, 2, "two", "2025-06-16T20:52:52Z");
	ck_assert_int_eq(harness_run(h), 3);
	harness_assert_text(
	    h,
	    "SELECT group_concat(tone, '') FROM (SELECT tone FROM dtmf_tones WHERE call_id = '" CALL
	    "' ORDER BY sequence_id, event_time_us)",
	    "42#");
	harness_free(h);
}
END_TEST

/* A tone event without toneInfo is kept with NULLs, not failed. */
START_TEST(missing_tone_info)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(
	    harness_post(
	        h,
	        "[{\"id\":\"bare\",\"source\":\"calling/callConnections/" CALL "\","
	        "\"type\":\"Microsoft.Communication.ToneReceived\",\"specversion\":\"1.0\","
	        "\"time\":\"2025-06-16T20:52:50Z\",\"data\":{\"callConnectionId\":\"" CALL "\"}}]"),
	    1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(
	    harness_int(h, "SELECT count(*) FROM dtmf_tones WHERE sequence_id IS NULL"
	                   " AND tone IS NULL AND tone_raw IS NULL AND call_id = '" CALL "'"),
	    1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

START_TEST(replay_idempotent)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/media/tonereceived.json"), 1);
	post_tone(h, "seq3-again", CALL, 3, "one", "2025-06-16T20:52:59Z"); /* redelivery */
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones"), 2);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM dtmf_tones"), 2);
	harness_assert_text(
	    h, "SELECT group_concat(tone, '') FROM (SELECT tone FROM dtmf_tones ORDER BY id)",
	    "1#");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 3);
	harness_free(h);
}
END_TEST

static Suite *dtmf_suite(void)
{
	Suite *s = suite_create("dtmf");
	TCase *tc = tcase_create("tones");

	tcase_add_test(tc, seed_dtmfreceived);
	tcase_add_test(tc, ga_tonereceived);
	tcase_add_test(tc, continuous_time_in_data);
	tcase_add_test(tc, continuous_stopped_no_row);
	tcase_add_test(tc, tone_names);
	tcase_add_test(tc, repeated_sequence_ids);
	tcase_add_test(tc, out_of_order);
	tcase_add_test(tc, missing_tone_info);
	tcase_add_test(tc, replay_idempotent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dtmf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
