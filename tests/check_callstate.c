/* check_callstate.c - the callstate handler module (handlers/callstate.c)
 * through the real host.
 *
 * Each test journals bodies with the daemon's intake path, runs the
 * dispatcher and reads calls / call_states back with SQL.  Orders are
 * compared through a "signature": the calls row with its journal ids
 * replaced by the event times they point at (journal ids depend on arrival
 * order by design; the row must not otherwise).
 */
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <callhookd/handler.h>

#include "harness.h"

#define MODULE    BUILD_HANDLERS "/callstate.so"
#define SEED_CALL "531f3600-481f-41c8-8a75-3e8b2e8e6200"
#define SEED_CONV                                                                                  \
	"aHR0cHM6Ly9jb252LXVzc2MtMDIuY29udi5za3lwZS5jb20vY29udi92RFNacTFyTEIwdVotM0dQdjBabUpnP2k9" \
	"OCZl"                                                                                     \
	"PTYzNzU1NzQzNzg4NTgzMTgxMQ"
#define GA_CALL "421f0b00-7a1c-4e2b-9d3f-5c6e8a0b1d24"
#define GA_SERVER_CALL                                                                             \
	"aHR0cHM6Ly9hcGkuZmxpZ2h0cHJveHkuc2t5cGUuY29tL2FwaS92Mi9jcC9jb252LWV1bm8tMDIuY29udi5za3lw" \
	"ZS5j"                                                                                     \
	"b20vY29udi9IaXN0b3J5Q2FsbD9pPTQmZT02Mzg4NTY1NDIzNTQ3MzIxOTk="
#define OLD_CALL "401f7100-6b2c-4d8e-a1f3-7c9e0b2d4f68"

/* The seed's lifecycle of one call, in event-time order. */
static const char *const lifecycle[5] = {
    FIXTURES "/seed/calllegstate-establishing.json",
    FIXTURES "/seed/calllegstate-established.json",
    FIXTURES "/seed/calllegstate-terminating.json",
    FIXTURES "/seed/calllegstate-terminated.json",
    NULL,
};

/* The calls row of call_id (harness_rows), journal ids replaced by their
 * events' times, updated_at left out (wall clock). */
#define SIGNATURE_SQL                                                                              \
	"SELECT c.call_id, c.first_seen_at, c.first_seen_us, c.established_at, c.established_us, " \
	"c.ended_at, c.ended_us, c.state, c.state_time_us, c.conversation_id, c.server_call_id, "  \
	"c.correlation_id, f.event_time, l.event_time FROM calls c "                               \
	"JOIN events f ON f.id = c.first_event_id JOIN events l ON l.id = c.last_event_id "        \
	"WHERE c.call_id = "

static char *signature(struct ch_harness *h, const char *call_id)
{
	char sql[1024];
	char *sig;

	snprintf(sql, sizeof(sql), "%s'%s'", SIGNATURE_SQL, call_id);
	sig = harness_rows(h, sql);
	ck_assert_msg(sig != NULL, "no calls row for %s", call_id);
	return sig;
}

/* Post the lifecycle files in the given order, running the handler after
 * each one (so each event is handled on its own, in that arrival order);
 * returns the resulting signature. */
static char *run_order(const int order[4])
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *sig;

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(harness_post_file(h, lifecycle[order[i]]), 1);
		ck_assert_int_eq(harness_run(h), 1);
	}
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states"), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM calls"), 1);
	sig = signature(h, SEED_CALL);
	harness_free(h);
	return sig;
}

/* A preview CallLegStateChanged for call with state at time. */
static void post_leg_state(struct ch_harness *h, const char *call, const char *state,
                           const char *time)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":null,\"topic\":null,\"subject\":\"callLeg/%s/callState\","
	                  "\"data\":{\"ConversationId\":null,\"CallLegId\":\"%s\","
	                  "\"CallState\":\"%s\"},"
	                  "\"eventType\":\"Microsoft.Communication.CallLegStateChanged\","
	                  "\"eventTime\":\"%s\",\"metadataVersion\":null,\"dataVersion\":null}",
	                  call, call, state, time),
	    1);
}

/* A GA CloudEvent of type (CallConnected / CallDisconnected) with its own id. */
static void post_ga(struct ch_harness *h, const char *id, const char *type, const char *call,
                    const char *time)
{
	ck_assert_int_eq(harness_postf(h,
	                               "[{\"id\":\"%s\",\"source\":\"calling/callConnections/%s\","
	                               "\"type\":\"Microsoft.Communication.%s\",\"specversion\":"
	                               "\"1.0\",\"time\":\"%s\",\"data\":{\"callConnectionId\":"
	                               "\"%s\",\"correlationId\":\"corr-%s\"}}]",
	                               id, call, type, time, call, id),
	                 1);
}

/* Each seed state alone: one history row and a calls row saying just that. */
START_TEST(seed_each_state)
{
	static const struct {
		const char *state, *time, *established, *ended, *conversation;
	} want[4] = {
	    {"Establishing", "2021-05-05T20:08:39.015796Z", NULL, NULL, NULL},
	    {"Established", "2021-05-05T20:08:59.578398Z", "2021-05-05T20:08:59.578398Z", NULL,
	     SEED_CONV},
	    {"Terminating", "2021-05-05T20:13:45.739870Z", NULL, NULL, SEED_CONV},
	    {"Terminated", "2021-05-05T20:13:46.154181Z", NULL, "2021-05-05T20:13:46.154181Z",
	     SEED_CONV},
	};
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, lifecycle[_i]), 1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states"), 1);
	harness_assert_text(h, "SELECT call_id FROM call_states", SEED_CALL);
	harness_assert_text(h, "SELECT state FROM call_states", want[_i].state);
	harness_assert_text(h, "SELECT event_time FROM call_states", want[_i].time);
	ck_assert_int_eq(harness_int(h,
	                             "SELECT count(*) FROM call_states s JOIN events e "
	                             "ON e.id = s.event_id AND e.event_time_us = s.event_time_us"),
	                 1);
	harness_assert_text(h, "SELECT conversation_id FROM call_states", want[_i].conversation);
	harness_assert_text(h, "SELECT state FROM calls WHERE call_id = '" SEED_CALL "'",
	                    want[_i].state);
	harness_assert_text(h, "SELECT first_seen_at FROM calls", want[_i].time);
	harness_assert_text(h, "SELECT established_at FROM calls", want[_i].established);
	harness_assert_text(h, "SELECT ended_at FROM calls", want[_i].ended);
	harness_assert_text(h, "SELECT conversation_id FROM calls", want[_i].conversation);
	harness_assert_text(h, "SELECT server_call_id FROM calls", NULL);
	ck_assert_int_eq(harness_int(h, "SELECT first_event_id = last_event_id AND "
	                                "first_event_id = (SELECT id FROM events) FROM calls"),
	                 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

/* The seed lifecycle in order: the exact calls row. */
START_TEST(lifecycle_in_order)
{
	static const int order[4] = {0, 1, 2, 3};
	char *sig = run_order(order);

	ck_assert_str_eq(sig, SEED_CALL "|2021-05-05T20:08:39.015796Z|1620245319015796"
	                                "|2021-05-05T20:08:59.578398Z|1620245339578398"
	                                "|2021-05-05T20:13:46.154181Z|1620245626154181"
	                                "|Terminated|1620245626154181|" SEED_CONV "|-|-"
	                                "|2021-05-05T20:08:39.015796Z|2021-05-05T20:13:46.154181Z");
	free(sig);
}
END_TEST

/* Reverse and shuffled arrival: the same row as in order. */
START_TEST(lifecycle_any_order)
{
	static const int orders[][4] = {
	    {3, 2, 1, 0}, {3, 0, 2, 1}, {1, 3, 0, 2}, {2, 0, 3, 1}, {0, 3, 1, 2},
	};
	static const int in_order[4] = {0, 1, 2, 3};
	char *want = run_order(in_order);

	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		char *got = run_order(orders[i]);

		ck_assert_msg(strcmp(got, want) == 0, "order %zu: %s != %s", i, got, want);
		free(got);
	}
	free(want);
}
END_TEST

/* Terminated before Established, then a late Establishing: still Terminated,
 * with every time right after each step. */
START_TEST(terminated_first)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, lifecycle[3]), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM calls", "Terminated");
	harness_assert_text(h, "SELECT established_at FROM calls", NULL);

	ck_assert_int_eq(harness_post_file(h, lifecycle[1]), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM calls", "Terminated");
	harness_assert_text(h, "SELECT established_at FROM calls", "2021-05-05T20:08:59.578398Z");
	harness_assert_text(h, "SELECT ended_at FROM calls", "2021-05-05T20:13:46.154181Z");
	harness_assert_text(h, "SELECT first_seen_at FROM calls", "2021-05-05T20:08:59.578398Z");

	ck_assert_int_eq(harness_post_file(h, lifecycle[0]), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM calls", "Terminated");
	ck_assert_int_eq(harness_int(h, "SELECT state_time_us FROM calls"), 1620245626154181LL);
	harness_assert_text(h, "SELECT first_seen_at FROM calls", "2021-05-05T20:08:39.015796Z");
	/* The earliest event has no ConversationId: the first non-NULL one wins. */
	harness_assert_text(h, "SELECT conversation_id FROM calls", SEED_CONV);
	ck_assert_int_eq(harness_int(h, "SELECT first_event_id FROM calls"), 3);
	ck_assert_int_eq(harness_int(h, "SELECT last_event_id FROM calls"), 1);
	harness_free(h);
}
END_TEST

/* Two Terminated (or Established) events of one call: the summary keeps the
 * earliest by event time, whichever arrived last. */
START_TEST(repeated_states_earliest_wins)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "c-late", "CallConnected", "r-call", "2025-06-17T09:15:09Z");
	post_ga(h, "d-late", "CallDisconnected", "r-call", "2025-06-17T09:20:09Z");
	post_ga(h, "d-early", "CallDisconnected", "r-call", "2025-06-17T09:20:01Z");
	post_ga(h, "c-early", "CallConnected", "r-call", "2025-06-17T09:15:01Z");
	ck_assert_int_eq(harness_run(h), 4);
	harness_assert_text(h, "SELECT established_at FROM calls", "2025-06-17T09:15:01.000000Z");
	harness_assert_text(h, "SELECT ended_at FROM calls", "2025-06-17T09:20:01.000000Z");
	harness_assert_text(h, "SELECT correlation_id FROM calls", "corr-c-early");
	ck_assert_int_eq(harness_int(h, "SELECT last_event_id FROM calls"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT first_event_id FROM calls"), 4);
	harness_free(h);
}
END_TEST

/* GA CloudEvents: CallConnected means Established, CallDisconnected
 * Terminated; the \u002B-escaped offsets parse; ids are kept. */
START_TEST(ga_connected_disconnected)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/ga-callconnected.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM calls WHERE call_id = '" GA_CALL "'",
	                    "Established");
	harness_assert_text(h, "SELECT established_at FROM calls", "2025-06-17T09:15:02.123456Z");
	ck_assert_int_eq(harness_int(h, "SELECT established_us FROM calls"), 1750151702123456LL);
	harness_assert_text(h, "SELECT ended_at FROM calls", NULL);
	harness_assert_text(h, "SELECT server_call_id FROM calls", GA_SERVER_CALL);
	harness_assert_text(h, "SELECT correlation_id FROM calls",
	                    "c2f0e8d6-4b3a-4f7e-9d2c-1b0a9f8e7d6c");
	harness_assert_text(h, "SELECT conversation_id FROM calls", NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/ga-calldisconnected.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM calls", "Terminated");
	harness_assert_text(h, "SELECT ended_at FROM calls", "2025-06-17T09:20:45.765432Z");
	harness_assert_text(h, "SELECT established_at FROM calls", "2025-06-17T09:15:02.123456Z");
	harness_assert_text(h,
	                    "SELECT group_concat(state, ',') FROM "
	                    "(SELECT state FROM call_states ORDER BY event_time_us)",
	                    "Established,Terminated");
	harness_free(h);
}
END_TEST

/* The shared cloudevents fixtures: a batch, a bare structured event and the
 * 2022 shape (no serverCallId). */
START_TEST(ga_shared_fixtures)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	/* batch.json: CallConnected, ParticipantsUpdated (not ours), CallDisconnected. */
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/batch.json"), 3);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/callconnected-2022.json"), 1);
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM calls"), 2);
	harness_assert_text(
	    h, "SELECT state FROM calls WHERE call_id = '421f0b00-9c8e-4f7d-a6b5-c4d3e2f1a0b9'",
	    "Terminated");
	harness_assert_text(
	    h, "SELECT ended_at FROM calls WHERE call_id = '421f0b00-9c8e-4f7d-a6b5-c4d3e2f1a0b9'",
	    "2025-06-16T21:05:00.999999Z");
	harness_assert_text(
	    h, "SELECT state FROM calls WHERE call_id = '401f7100-3a5d-4b7e-9c1f-2d8e6a4b0c97'",
	    "Established");
	harness_assert_text(h,
	                    "SELECT server_call_id FROM calls "
	                    "WHERE call_id = '401f7100-3a5d-4b7e-9c1f-2d8e6a4b0c97'",
	                    NULL);
	/* structured-single.json: the batch's CallConnected again, under a new id. */
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/structured-single.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states WHERE call_id = "
	                                "'421f0b00-9c8e-4f7d-a6b5-c4d3e2f1a0b9'"),
	                 3);
	harness_assert_text(
	    h, "SELECT state FROM calls WHERE call_id = '421f0b00-9c8e-4f7d-a6b5-c4d3e2f1a0b9'",
	    "Terminated");
	harness_free(h);
}
END_TEST

/* One body holding Disconnected before Connected (2022 shape): Terminated,
 * and the correlation id only the Connected carries. */
START_TEST(ga_batch_reversed)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/ga-call-batch-reversed.json"), 2);
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_text(h, "SELECT state FROM calls WHERE call_id = '" OLD_CALL "'",
	                    "Terminated");
	harness_assert_text(h, "SELECT first_seen_at FROM calls", "2022-08-23T17:43:12.421158Z");
	harness_assert_text(h, "SELECT established_at FROM calls", "2022-08-23T17:43:12.421158Z");
	harness_assert_text(h, "SELECT ended_at FROM calls", "2022-08-23T17:45:30.500000Z");
	harness_assert_text(h, "SELECT correlation_id FROM calls",
	                    "5e4d3c2b-1a0f-4e9d-8c7b-6a5f4e3d2c1b");
	harness_assert_text(h, "SELECT server_call_id FROM calls", NULL);
	ck_assert_int_eq(harness_int(h, "SELECT first_event_id FROM calls"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT last_event_id FROM calls"), 1);
	harness_free(h);
}
END_TEST

/* The same body twice is one journal row; the same logical event under a new
 * id is a second history row that changes nothing in calls. */
START_TEST(duplicates)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *before;

	ck_assert_int_eq(harness_post_file(h, lifecycle[1]), 1);
	ck_assert_int_eq(harness_post_file(h, lifecycle[1]), 0);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states"), 1);

	post_ga(h, "dup-1", "CallConnected", GA_CALL, "2025-06-17T09:15:02.5+00:00");
	post_ga(h, "dup-2", "CallDisconnected", GA_CALL, "2025-06-17T09:16:00Z");
	ck_assert_int_eq(harness_run(h), 2);
	before = signature(h, GA_CALL);
	post_ga(h, "dup-3", "CallConnected", GA_CALL, "2025-06-17T09:15:02.5+00:00");
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(
	    harness_int(h, "SELECT count(*) FROM call_states WHERE call_id = '" GA_CALL "'"), 3);
	harness_assert_text(h, "SELECT state FROM calls WHERE call_id = '" GA_CALL "'",
	                    "Terminated");
	/* The correlation id of the first-journaled twin stays. */
	harness_assert_text(h, "SELECT correlation_id FROM calls WHERE call_id = '" GA_CALL "'",
	                    "corr-dup-1");
	{
		char *after = signature(h, GA_CALL);

		ck_assert_str_eq(after, before);
		free(after);
	}
	free(before);
	harness_free(h);
}
END_TEST

/* Replaying every delivery adds no history and leaves calls as it was. */
START_TEST(replay_idempotent)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *before, *after;

	ck_assert_int_eq(harness_post_files(h, lifecycle), 4);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/ga-callconnected.json"), 1);
	ck_assert_int_eq(harness_run(h), 5);
	before = signature(h, SEED_CALL);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states"), 5);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM calls"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 5);
	after = signature(h, SEED_CALL);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	harness_free(h);
}
END_TEST

/* Two states stamped with the same time: the later lifecycle state wins,
 * whichever arrives first. */
START_TEST(same_time_tie)
{
	for (int order = 0; order < 2; order++) {
		struct ch_harness *h = harness_new(MODULE, NULL);

		post_leg_state(h, "tie-call", order ? "Terminated" : "Established",
		               "2021-05-05T20:10:00.0000000Z");
		post_leg_state(h, "tie-call", order ? "Established" : "Terminated",
		               "2021-05-05T20:10:00.0000000Z");
		ck_assert_int_eq(harness_run(h), 2);
		harness_assert_text(h, "SELECT state FROM calls", "Terminated");
		harness_assert_text(h, "SELECT established_at FROM calls",
		                    "2021-05-05T20:10:00.000000Z");
		harness_assert_text(h, "SELECT ended_at FROM calls", "2021-05-05T20:10:00.000000Z");
		harness_free(h);
	}
}
END_TEST

/* A state event without a call id is acknowledged (logged, no row): the
 * journal keeps it, and neither a retry nor an operator could give it one, so
 * a dead delivery would only be noise.  A state event without CallState is
 * treated the same way; an unknown state is kept as sent; state names are
 * spelled canonically. */
START_TEST(missing_fields_tolerated)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/calllegstate-no-callid.json"), 1);
	ck_assert_int_eq(harness_post(h, "{\"id\":null,\"subject\":\"callLeg/x/callState\","
	                                 "\"data\":{\"CallLegId\":\"no-state-call\"},"
	                                 "\"eventType\":\"Microsoft.Communication."
	                                 "CallLegStateChanged\","
	                                 "\"eventTime\":\"2021-05-05T20:08:39Z\"}"),
	                 1);
	ck_assert_int_eq(harness_run(h), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM calls"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM call_states"), 0);

	post_leg_state(h, "odd-call", "OnHold", "2021-05-05T20:09:00Z");
	post_leg_state(h, "odd-call", "established", "2021-05-05T20:08:00Z");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_text(h, "SELECT state FROM calls WHERE call_id = 'odd-call'", "OnHold");
	harness_assert_text(h, "SELECT established_at FROM calls WHERE call_id = 'odd-call'",
	                    "2021-05-05T20:08:00.000000Z");
	harness_free(h);
}
END_TEST

/* Types outside the module's patterns are not delivered to it. */
START_TEST(other_types_not_subscribed)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/participantsupdated.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/unknown-type.json"), 1);
	ck_assert_int_eq(harness_run(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM calls"), 0);
	harness_free(h);
}
END_TEST

/* The entry refuses another ABI major and describes itself. */
START_TEST(entry_abi)
{
	void *dl = dlopen(MODULE, RTLD_NOW | RTLD_LOCAL);
	ch_handler_entry_fn entry;
	const struct ch_handler *d;

	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&entry = dlsym(dl, CH_HANDLER_ENTRY_SYMBOL);
	ck_assert_ptr_nonnull(entry);
	ck_assert_ptr_null(entry(CH_ABI_MAJOR + 1, 0));
	d = entry(CH_ABI_MAJOR, CH_ABI_MINOR);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->name, "callstate");
	ck_assert_str_eq(d->event_types[0], "Microsoft.Communication.CallLegStateChanged");
	ck_assert_str_eq(d->event_types[1], "Microsoft.Communication.CallConnected");
	ck_assert_str_eq(d->event_types[2], "Microsoft.Communication.CallDisconnected");
	ck_assert_ptr_null(d->event_types[3]);
	dlclose(dl);
}
END_TEST

static Suite *callstate_suite(void)
{
	Suite *s = suite_create("callstate");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, seed_each_state, 0, 4);
	tcase_add_test(tc, lifecycle_in_order);
	tcase_add_test(tc, lifecycle_any_order);
	tcase_add_test(tc, terminated_first);
	tcase_add_test(tc, repeated_states_earliest_wins);
	tcase_add_test(tc, ga_connected_disconnected);
	tcase_add_test(tc, ga_shared_fixtures);
	tcase_add_test(tc, ga_batch_reversed);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, replay_idempotent);
	tcase_add_test(tc, same_time_tie);
	tcase_add_test(tc, missing_fields_tolerated);
	tcase_add_test(tc, other_types_not_subscribed);
	tcase_add_test(tc, entry_abi);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(callstate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
