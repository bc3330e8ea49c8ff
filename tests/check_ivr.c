/* check_ivr.c - the ivr handler module (handlers/ivr.c) through the real host.
 *
 * Each test journals a call's events with the daemon's intake path, runs the
 * dispatcher and reads back ivr_calls, ivr_tones, the ivr_choices view and
 * the actions the handler queued in the host's outbox (table actions):
 * which request, for which journal row, with which body.
 */
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callhookd/handler.h>

#include "actions.h"
#include "harness.h"

#define MODULE  BUILD_HANDLERS "/ivr.so"
#define CALL    "531f3600-481f-41c8-8a75-3e8b2e8e6200"
#define PROMPT  "https://media.example/prompt.wav"
#define CONFIRM "https://media.example/confirm.wav"

static const char *const opts[] = {"prompt_uri=" PROMPT, "confirm_uri=" CONFIRM, NULL};

/* The actions of the ivr, one row each: journal row's event type, ordinal,
 * kind, call, and the body's audioFileUri / loop / operationContext. */
#define ACTIONS                                                                                    \
	"SELECT e.event_type, a.ordinal, a.kind, a.call_id,"                                       \
	" json_extract(a.body, '$.audioFileUri'), json_extract(a.body, '$.loop'),"                 \
	" json_extract(a.body, '$.operationContext') FROM actions a JOIN events e"                 \
	" ON e.id = a.event_id WHERE a.handler = 'ivr' ORDER BY a.id"

#define PLAY_PROMPT(type)       type "|1|play_audio|" CALL "|" PROMPT "|0|ivr:prompt"
#define CANCEL(type, ord)       type "|" #ord "|cancel_media|" CALL "|-|-|ivr:cancel"
#define PLAY_CONFIRM(type, ord) type "|" #ord "|play_audio|" CALL "|" CONFIRM "|0|ivr:confirm"
#define HANGUP(type)            type "|1|hangup|" CALL "|-|-|-"

#define PV "Microsoft.Communication."

static struct ch_harness *ivr_new(const char *const *options)
{
	struct ch_harness *h = harness_new(MODULE, options != NULL ? options : opts);

	ch_actions_set_enabled(true); /* as an [actions] section does */
	return h;
}

/* --- the preview shapes (one object per POST, PascalCase data) --- */

static void pv_state(struct ch_harness *h, const char *state, const char *time)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":null,\"topic\":null,\"subject\":\"callLeg/%s/callState\","
	                  "\"data\":{\"ConversationId\":\"conv\",\"CallLegId\":\"%s\","
	                  "\"CallState\":\"%s\"},\"eventType\":\"" PV "CallLegStateChanged\","
	                  "\"eventTime\":\"%s\",\"metadataVersion\":null,\"dataVersion\":null}",
	                  CALL, CALL, state, time),
	    1);
}

static void pv_tone(struct ch_harness *h, int seq, const char *tone, const char *time)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":null,\"topic\":null,\"subject\":\"callLeg/%s/dtmf\","
	                  "\"data\":{\"ToneInfo\":{\"SequenceId\":%d,\"Tone\":\"%s\"},"
	                  "\"CallLegId\":\"%s\"},\"eventType\":\"" PV "DtmfReceived\","
	                  "\"eventTime\":\"%s\",\"metadataVersion\":null,\"dataVersion\":null}",
	                  CALL, seq, tone, CALL, time),
	    1);
}

static void pv_play(struct ch_harness *h, const char *ctx, int code, int sub, const char *status,
                    const char *time)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":null,\"topic\":null,\"subject\":\"callLeg/%s/playAudio\","
	                  "\"data\":{\"ResultInfo\":{\"Code\":%d,\"Subcode\":%d,\"Message\":\"m\"},"
	                  "\"OperationContext\":\"%s\",\"Status\":\"%s\",\"CallLegId\":\"%s\"},"
	                  "\"eventType\":\"" PV "PlayAudioResult\",\"eventTime\":\"%s\","
	                  "\"metadataVersion\":null,\"dataVersion\":null}",
	                  CALL, code, sub, ctx, status, CALL, time),
	    1);
}

/* --- the GA CloudEvents shapes --- */

static void ga(struct ch_harness *h, const char *id, const char *type, const char *time,
               const char *members)
{
	ck_assert_int_eq(harness_post_ga(h, id, type, CALL, time, members), 1);
}

static void ga_tone(struct ch_harness *h, const char *id, int seq, const char *tone,
                    const char *time)
{
	char members[128];

	snprintf(members, sizeof(members), "\"toneInfo\":{\"sequenceId\":%d,\"tone\":\"%s\"}", seq,
	         tone);
	ga(h, id, "ContinuousDtmfRecognitionToneReceived", time, members);
}

static void ga_play(struct ch_harness *h, const char *id, const char *type, const char *ctx,
                    int code, int sub, const char *time)
{
	char members[256];

	snprintf(members, sizeof(members),
	         "\"operationContext\":\"%s\",\"resultInformation\":{\"code\":%d,\"subCode\":%d,"
	         "\"message\":\"\"}",
	         ctx, code, sub);
	ga(h, id, type, time, members);
}

/* --- whole calls --- */

START_TEST(preview_whole_call)
{
	struct ch_harness *h = ivr_new(NULL);

	pv_state(h, "Establishing", "2021-05-05T20:08:39.01Z");
	pv_state(h, "Established", "2021-05-05T20:08:59.57Z");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(h, ACTIONS, PLAY_PROMPT(PV "CallLegStateChanged"));
	harness_assert_rows(h, "SELECT path FROM actions", "/calling/calls/" CALL "/PlayAudio");

	pv_tone(h, 1, "Tone1", "2021-05-05T20:09:01.00Z");
	pv_tone(h, 2, "Tone2", "2021-05-05T20:09:02.00Z");
	ck_assert_int_eq(harness_run(h), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM actions"), 1);
	harness_assert_text(h, "SELECT digits FROM ivr_calls", NULL);
	pv_tone(h, 3, "TonePound", "2021-05-05T20:09:03.00Z");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(h, ACTIONS,
	                    PLAY_PROMPT(PV "CallLegStateChanged") ";" CANCEL(
	                        PV "DtmfReceived", 1) ";" PLAY_CONFIRM(PV "DtmfReceived", 2));
	harness_assert_rows(h, "SELECT path FROM actions WHERE kind = 'cancel_media'",
	                    "/calling/calls/" CALL "/CancelMediaProcessing");

	/* The cancelled prompt, then the confirmation: the hangup. */
	pv_play(h, "ivr:prompt", 400, 8508, "Completed", "2021-05-05T20:09:03.50Z");
	pv_play(h, "ivr:confirm", 200, 0, "Completed", "2021-05-05T20:09:06.00Z");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(
	    h, ACTIONS,
	    PLAY_PROMPT(PV "CallLegStateChanged") ";" CANCEL(PV "DtmfReceived", 1) ";" PLAY_CONFIRM(
	        PV "DtmfReceived", 2) ";" HANGUP(PV "PlayAudioResult"));
	harness_assert_rows(h, "SELECT path FROM actions WHERE kind = 'hangup'",
	                    "/calling/calls/" CALL "/Hangup");
	pv_state(h, "Terminating", "2021-05-05T20:09:07.00Z");
	pv_state(h, "Terminated", "2021-05-05T20:09:07.50Z");
	ck_assert_int_eq(harness_run(h), 2);

	/* Every step with the journal row that took it. */
	harness_assert_rows(
	    h,
	    "SELECT c.call_id, p.event_type, json_extract(p.raw, '$.data.CallState'), "
	    "c.prompt_outcome,"
	    " c.digits, c.completed_by, c.completed_at, json_extract(t.raw, "
	    "'$.data.ToneInfo.Tone'),"
	    " c.prompt_cancel_queued, c.confirm_queued, c.confirm_outcome,"
	    " json_extract(g.raw, '$.data.OperationContext'), c.hangup_event_id ="
	    " c.confirm_result_event_id, c.ended_at, json_extract(x.raw, '$.data.CallState')"
	    " FROM ivr_calls c JOIN events p ON p.id = c.prompt_event_id"
	    " JOIN events t ON t.id = c.completed_event_id"
	    " JOIN events g ON g.id = c.confirm_result_event_id"
	    " JOIN events x ON x.id = c.ended_event_id",
	    CALL "|" PV "CallLegStateChanged|Established|cancelled|12|terminator|"
	         "2021-05-05T20:09:03.000000Z|TonePound|1|1|completed|ivr:confirm|1|"
	         "2021-05-05T20:09:07.000000Z|Terminating");
	harness_assert_rows(h,
	                    "SELECT t.sequence_id, t.tone, e.event_type FROM ivr_tones t"
	                    " JOIN events e ON e.id = t.event_id ORDER BY t.sequence_id",
	                    "1|1|" PV "DtmfReceived;2|2|" PV "DtmfReceived;3|#|" PV "DtmfReceived");
	harness_assert_rows(
	    h,
	    "SELECT call_id, digits, completed_by, completed_at, confirm_outcome,"
	    " hung_up, event_id = (SELECT id FROM events WHERE raw LIKE '%TonePound%')"
	    " FROM ivr_choices",
	    CALL "|12|terminator|2021-05-05T20:09:03.000000Z|completed|1|1");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state != 'done'"),
	                 0);

	/* A replay of every delivery queues nothing and changes nothing. */
	{
		char *calls = harness_rows(h, "SELECT * FROM ivr_calls");
		char *actions = harness_rows(h, "SELECT * FROM actions");

		ck_assert_int_eq(harness_replay(h), 9);
		harness_assert_rows(h, "SELECT * FROM ivr_calls", calls);
		harness_assert_rows(h, "SELECT * FROM actions", actions);
		ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM ivr_tones"), 3);
		free(calls);
		free(actions);
	}
	harness_free(h);
}
END_TEST

START_TEST(cloudevents_whole_call)
{
	struct ch_harness *h = ivr_new(NULL);

	ga(h, "e1", "CallConnected", "2025-06-16T20:52:32.10+00:00", "\"serverCallId\":\"s\"");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(h, ACTIONS, PLAY_PROMPT(PV "CallConnected"));
	ga(h, "e2", "PlayStarted", "2025-06-16T20:52:32.20+00:00", "\"operationContext\":\"x\"");
	ga_tone(h, "e3", 1, "nine", "2025-06-16T20:52:33.00+00:00");
	ga_tone(h, "e4", 2, "asterisk", "2025-06-16T20:52:34.00+00:00");
	ga_tone(h, "e5", 3, "pound", "2025-06-16T20:52:35.00+00:00");
	ck_assert_int_eq(harness_run(h), 3); /* PlayStarted is not subscribed */
	ga_play(h, "e6", "PlayCanceled", "ivr:prompt", 400, 8508, "2025-06-16T20:52:35.10+00:00");
	ga_play(h, "e7", "PlayCompleted", "ivr:confirm", 200, 0, "2025-06-16T20:52:37.00+00:00");
	ga(h, "e8", "CallDisconnected", "2025-06-16T20:52:38.00+00:00", "");
	ck_assert_int_eq(harness_run(h), 3);
	harness_assert_rows(h, ACTIONS,
	                    PLAY_PROMPT(PV "CallConnected") ";" CANCEL(
	                        PV "ContinuousDtmfRecognitionToneReceived",
	                        1) ";" PLAY_CONFIRM(PV "ContinuousDtmfRecognitionToneReceived",
	                                            2) ";" HANGUP(PV "PlayCompleted"));
	harness_assert_rows(
	    h, "SELECT digits, completed_by, confirm_outcome, hung_up FROM ivr_choices",
	    "9*|terminator|completed|1");
	harness_assert_rows(h, "SELECT prompt_outcome, ended_at IS NOT NULL FROM ivr_calls",
	                    "cancelled|1");
	harness_free(h);
}
END_TEST

/* --- duplicates and disorder --- */

/* The service sent Established twice (new bytes, so a new journal row). */
START_TEST(duplicate_established)
{
	struct ch_harness *h = ivr_new(NULL);

	pv_state(h, "Established", "2021-05-05T20:08:59.57Z");
	pv_state(h, "Established", "2021-05-05T20:08:59.58Z");
	ga(h, "e1", "CallConnected", "2021-05-05T20:08:59.59Z", "");
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM actions"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM ivr_calls"), 1);
	ck_assert_int_eq(harness_int(h, "SELECT prompt_event_id = (SELECT min(id) FROM events)"
	                                " FROM ivr_calls"),
	                 1);
	harness_free(h);
}
END_TEST

/* Tones 1 2 # arrive # 2 1: the choice waits for the gap to close, then is
 * decided by the tone that closed it. */
START_TEST(tones_out_of_order)
{
	struct ch_harness *h = ivr_new(NULL);

	pv_state(h, "Established", "2021-05-05T20:08:59.57Z");
	pv_tone(h, 3, "TonePound", "2021-05-05T20:09:03.00Z");
	pv_tone(h, 2, "Tone2", "2021-05-05T20:09:02.00Z");
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM ivr_choices"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM actions"), 1);
	pv_tone(h, 1, "Tone1", "2021-05-05T20:09:01.00Z");
	pv_tone(h, 2, "Tone2", "2021-05-05T20:09:02.01Z"); /* redelivered: same sequence id */
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(h,
	                    "SELECT digits, json_extract(e.raw, '$.data.ToneInfo.SequenceId')"
	                    " FROM ivr_choices c JOIN events e ON e.id = c.event_id",
	                    "12|1");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM ivr_tones"), 3);
	harness_assert_rows(h,
	                    "SELECT ordinal, kind FROM actions WHERE event_id ="
	                    " (SELECT event_id FROM ivr_choices)",
	                    "1|cancel_media;2|play_audio");
	harness_free(h);
}
END_TEST

/* Tones before the Established (delivered late): the choice needs no prompt,
 * and the late Established plays none. */
START_TEST(established_after_choice)
{
	struct ch_harness *h = ivr_new(NULL);

	ga_tone(h, "t1", 1, "one", "2025-06-16T20:52:33.00+00:00");
	ga_tone(h, "t2", 2, "pound", "2025-06-16T20:52:34.00+00:00");
	ga(h, "c1", "CallConnected", "2025-06-16T20:52:32.00+00:00", "");
	ck_assert_int_eq(harness_run(h), 3);
	harness_assert_rows(h, "SELECT kind, json_extract(body, '$.operationContext') FROM actions",
	                    "play_audio|ivr:confirm");
	harness_assert_rows(
	    h, "SELECT digits, prompt_event_id, prompt_cancel_queued FROM ivr_calls", "1|-|0");
	harness_free(h);
}
END_TEST

/* The prompt had finished: no cancel; the confirmation's result twice: one
 * hangup; max_digits completes a choice without the terminator. */
START_TEST(max_digits_no_cancel_one_hangup)
{
	static const char *const o[] = {"prompt_uri=" PROMPT, "confirm_uri=" CONFIRM,
	                                "max_digits=2", "terminator=*", NULL};
	struct ch_harness *h = ivr_new(o);

	ga(h, "c1", "CallConnected", "2025-06-16T20:52:32.00+00:00", "");
	ga_play(h, "p1", "PlayCompleted", "ivr:prompt", 200, 0, "2025-06-16T20:52:33.00+00:00");
	ga_tone(h, "t1", 1, "seven", "2025-06-16T20:52:34.00+00:00");
	ga_tone(h, "t2", 2, "pound", "2025-06-16T20:52:35.00+00:00");
	ga_tone(h, "t3", 3, "three", "2025-06-16T20:52:36.00+00:00");
	ga_play(h, "p2", "PlayFailed", "ivr:confirm", 500, 8500, "2025-06-16T20:52:37.00+00:00");
	ga_play(h, "p3", "PlayCompleted", "ivr:confirm", 200, 0, "2025-06-16T20:52:37.10+00:00");
	ga_play(h, "p4", "PlayCompleted", "other-app", 200, 0, "2025-06-16T20:52:37.20+00:00");
	ck_assert_int_eq(harness_run(h), 8);
	harness_assert_rows(h, "SELECT kind, json_extract(body, '$.operationContext') FROM actions",
	                    "play_audio|ivr:prompt;play_audio|ivr:confirm;hangup|-");
	harness_assert_rows(h, "SELECT digits, completed_by, confirm_outcome FROM ivr_choices",
	                    "7#|max_digits|failed");
	harness_assert_rows(h, "SELECT prompt_outcome, prompt_cancel_queued FROM ivr_calls",
	                    "completed|0");
	harness_free(h);
}
END_TEST

/* The caller hung up first: the choice is kept, nothing is sent after. */
START_TEST(no_action_after_end)
{
	struct ch_harness *h = ivr_new(NULL);

	pv_state(h, "Established", "2021-05-05T20:08:59.57Z");
	pv_state(h, "Terminated", "2021-05-05T20:09:00.00Z");
	pv_tone(h, 1, "Tone4", "2021-05-05T20:08:59.80Z");
	pv_tone(h, 2, "TonePound", "2021-05-05T20:08:59.90Z");
	pv_state(h, "Established", "2021-05-05T20:09:01.00Z");
	ck_assert_int_eq(harness_run(h), 5);
	harness_assert_rows(h, "SELECT kind FROM actions", "play_audio");
	harness_assert_rows(h,
	                    "SELECT c.digits, k.confirm_queued, c.hung_up FROM ivr_choices c"
	                    " JOIN ivr_calls k USING (call_id)",
	                    "4|0|0");
	harness_free(h);
}
END_TEST

/* A call id longer than the action functions take (256 bytes) is ignored
 * up front: queuing its prompt would fail the delivery on every attempt. */
START_TEST(call_id_too_long)
{
	struct ch_harness *h = ivr_new(NULL);
	char call[300];

	memset(call, 'c', sizeof(call) - 1);
	call[sizeof(call) - 1] = '\0';
	ck_assert_int_eq(
	    harness_post_ga(h, "long-1", "CallConnected", call, "2021-05-05T20:08:59.57Z", ""), 1);
	call[256] = '\0'; /* the longest usable one is taken */
	ck_assert_int_eq(
	    harness_post_ga(h, "long-2", "CallConnected", call, "2021-05-05T20:08:59.58Z", ""), 1);
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(
	    h, "SELECT state FROM deliveries WHERE handler = 'ivr' ORDER BY event_id", "done;done");
	harness_assert_rows(h, "SELECT kind, length(call_id) FROM actions", "play_audio|256");
	harness_free(h);
}
END_TEST

/* --- configuration and ABI --- */

START_TEST(bad_options)
{
	static const char *const no_prompt[] = {"confirm_uri=" CONFIRM, NULL};
	static const char *const not_http[] = {"prompt_uri=file:///etc/passwd",
	                                       "confirm_uri=" CONFIRM, NULL};
	static const char *const bad_term[] = {"prompt_uri=" PROMPT, "confirm_uri=" CONFIRM,
	                                       "terminator=x", NULL};
	static const char *const bad_max[] = {"prompt_uri=" PROMPT, "confirm_uri=" CONFIRM,
	                                      "max_digits=0", NULL};
	static const char *const loop[] = {"prompt_uri=" PROMPT, "confirm_uri=" CONFIRM,
	                                   "prompt_loop=yes", "terminator=pound", NULL};

	harness_assert_init_fails(MODULE, no_prompt, "prompt_uri", NULL);
	harness_assert_init_fails(MODULE, not_http, "prompt_uri", "http", NULL);
	harness_assert_init_fails(MODULE, bad_term, "terminator", "\"x\"", NULL);
	harness_assert_init_fails(MODULE, bad_max, "max_digits", "1 to 32", NULL);

	struct ch_harness *h = ivr_new(loop);

	ga(h, "c1", "CallConnected", "2025-06-16T20:52:32.00+00:00", "");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(h, "SELECT json_extract(body, '$.loop') FROM actions", "1");
	harness_free(h);
}
END_TEST

/* Without an [actions] section the delivery is dead with the host's reason,
 * and no state is left behind for it. */
START_TEST(actions_not_configured)
{
	struct ch_harness *h = harness_new(MODULE, opts);

	ch_actions_set_enabled(false);
	pv_state(h, "Established", "2021-05-05T20:08:59.57Z");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(h,
	                    "SELECT state, last_error LIKE '%actions are not configured%'"
	                    " FROM deliveries WHERE handler = 'ivr'",
	                    "dead|1");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM ivr_calls"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM actions"), 0);

	/* Configured, then retried (what `callhookctl dead retry` does): the
	 * prompt is queued once, by that journal row. */
	ch_actions_set_enabled(true);
	ck_assert_int_eq(harness_replay(h), 1);
	harness_assert_rows(h, ACTIONS, PLAY_PROMPT(PV "CallLegStateChanged"));
	harness_assert_rows(h, "SELECT state FROM deliveries WHERE handler = 'ivr'", "done");
	harness_free(h);
}
END_TEST

/* Tones without a sequence id count in event-time order; a tone that is not
 * understood takes its place but adds no digit. */
START_TEST(tones_without_sequence_ids)
{
	struct ch_harness *h = ivr_new(NULL);

	ga(h, "c1", "CallConnected", "2025-06-16T20:52:32.00+00:00", "");
	ga(h, "t2", "ToneReceived", "2025-06-16T20:52:34.00+00:00",
	   "\"toneInfo\":{\"tone\":\"eight\"}");
	ga(h, "t1", "ToneReceived", "2025-06-16T20:52:33.00+00:00",
	   "\"toneInfo\":{\"tone\":\"three\"}");
	ga(h, "t3", "ToneReceived", "2025-06-16T20:52:35.00+00:00",
	   "\"toneInfo\":{\"tone\":\"whistle\"}");
	ga(h, "t4", "ToneReceived", "2025-06-16T20:52:36.00+00:00",
	   "\"toneInfo\":{\"tone\":\"pound\"}");
	ck_assert_int_eq(harness_run(h), 5);
	harness_assert_rows(h, "SELECT tone FROM ivr_tones ORDER BY event_time_us", "3;8;-;#");
	harness_assert_rows(h,
	                    "SELECT digits, e.event_id FROM ivr_choices c"
	                    " JOIN events e ON e.id = c.event_id",
	                    "38|t4");
	harness_free(h);
}
END_TEST

START_TEST(refuses_abi_1_0)
{
	void *so = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
	ch_handler_entry_fn entry;

	ck_assert_msg(so != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(so, CH_HANDLER_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	ck_assert_ptr_null(entry(1, 0));
	ck_assert_ptr_null(entry(2, 1));
	ck_assert_ptr_nonnull(entry(1, 1));
	ck_assert_str_eq(entry(1, 1)->name, "ivr");
	dlclose(so);
}
END_TEST

static Suite *ivr_suite(void)
{
	Suite *s = suite_create("ivr");
	TCase *tc = tcase_create("ivr");

	tcase_add_test(tc, preview_whole_call);
	tcase_add_test(tc, cloudevents_whole_call);
	tcase_add_test(tc, duplicate_established);
	tcase_add_test(tc, tones_out_of_order);
	tcase_add_test(tc, established_after_choice);
	tcase_add_test(tc, max_digits_no_cancel_one_hangup);
	tcase_add_test(tc, no_action_after_end);
	tcase_add_test(tc, call_id_too_long);
	tcase_add_test(tc, tones_without_sequence_ids);
	tcase_add_test(tc, bad_options);
	tcase_add_test(tc, actions_not_configured);
	tcase_add_test(tc, refuses_abi_1_0);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ivr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
