/* check_participants.c - the participants handler module
 * (handlers/participants.c) through the real host.
 *
 * Each test journals ParticipantsUpdated bodies with the daemon's intake
 * path, runs the dispatcher and reads the snapshot, history and current-set
 * tables back with SQL.  Arrival orders are compared through text dumps of
 * participant_events and participants in which journal ids are replaced by
 * the event times they point at (journal ids follow arrival by design).
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define MODULE    BUILD_HANDLERS "/participants.so"
#define SEED_CALL "411f6d00-088a-4ee4-a7bf-c064ac10afeb"
#define SEED_A    "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-7904-f8c2-51b9-a43a0d0010d9"
#define SEED_B    "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-547e-c56e-71bf-a43a0d002dc1"
#define CALL      "421f0b00-1b2c-4d3e-8f4a-5b6c7d8e9f01"
#define USER_A    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-aaaa-0001-0000-000000000001"
#define PHONE_B   "4:+15551230002"

/* Members of a generated snapshot. */
#define A_UNMUTED                                                                                  \
	"{\"identifier\":{\"rawId\":\"" USER_A "\",\"kind\":\"communicationUser\","                \
	"\"communicationUser\":{\"id\":\"" USER_A "\"}},\"isMuted\":false}"
#define A_MUTED                                                                                    \
	"{\"identifier\":{\"rawId\":\"" USER_A "\",\"kind\":\"communicationUser\","                \
	"\"communicationUser\":{\"id\":\"" USER_A "\"}},\"isMuted\":true}"
#define B_UNMUTED                                                                                  \
	"{\"identifier\":{\"rawId\":\"" PHONE_B "\",\"kind\":\"phoneNumber\","                     \
	"\"phoneNumber\":{\"value\":\"\\u002B15551230002\"}},\"isMuted\":false}"

/* join A -> join B -> A muted -> B leaves -> A unmuted. */
static const struct snapshot {
	const char *id, *time, *members;
	int seq;
} story[5] = {
    {"s1", "2025-06-17T10:00:01.0000001+00:00", A_UNMUTED, 1},
    {"s2", "2025-06-17T10:00:02.0000002+00:00", A_UNMUTED "," B_UNMUTED, 2},
    {"s3", "2025-06-17T10:00:03.0000003+00:00", A_MUTED "," B_UNMUTED, 3},
    {"s4", "2025-06-17T10:00:04.0000004+00:00", A_MUTED, 4},
    {"s5", "2025-06-17T10:00:05.0000005+00:00", A_UNMUTED, 5},
};

#define STORY_EVENTS                                                                               \
	"2025-06-17T10:00:01.000000Z " USER_A " join;"                                             \
	"2025-06-17T10:00:02.000000Z " PHONE_B " join;"                                            \
	"2025-06-17T10:00:03.000000Z " USER_A " mute;"                                             \
	"2025-06-17T10:00:04.000000Z " PHONE_B " leave;"                                           \
	"2025-06-17T10:00:05.000000Z " USER_A " unmute"

/* participant_events with the revealing snapshot's time for its journal id. */
#define EVENTS_SQL                                                                                 \
	"SELECT group_concat(line, ';') FROM (SELECT p.event_time || ' ' || p.participant_key || " \
	"' ' || p.action AS line FROM participant_events p JOIN events e ON e.id = p.event_id "    \
	"AND e.event_time_us = p.event_time_us WHERE p.call_id = '" CALL "' "                      \
	"ORDER BY p.event_time_us, p.participant_key, p.action)"

#define PARTICIPANTS_SQL                                                                           \
	"SELECT group_concat(line, ';') FROM (SELECT p.participant_key || ' ' || p.kind || ' ' "   \
	"|| "                                                                                      \
	"ifnull(p.user_id, '-') || ' ' || ifnull(p.phone_number, '-') || ' ' || "                  \
	"ifnull(p.is_muted, '-') || ' ' || p.joined_at || ' ' || p.joined_at_us || ' ' || "        \
	"ifnull(p.left_at, '-') || ' ' || ifnull(p.left_at_us, '-') || ' ' || p.present || ' ' "   \
	"|| "                                                                                      \
	"e.event_time AS line FROM participants p JOIN events e ON e.id = p.event_id "             \
	"WHERE p.call_id = '" CALL "' ORDER BY p.participant_key)"

/* A GA ParticipantsUpdated (array of one) for call; seq < 0: no
 * sequenceNumber. */
static int post_snapshot(struct ch_harness *h, const char *id, const char *call, const char *time,
                         int seq, const char *members)
{
	char seqtext[48] = "";

	if (seq >= 0)
		snprintf(seqtext, sizeof(seqtext), "\"sequenceNumber\":%d,", seq);
	return harness_postf(
	    h,
	    "[{\"id\":\"%s\",\"source\":\"calling/callConnections/%s\","
	    "\"type\":\"Microsoft.Communication.ParticipantsUpdated\",\"specversion\":\"1.0\","
	    "\"time\":\"%s\",\"data\":{\"participants\":[%s],%s"
	    "\"callConnectionId\":\"%s\"}}]",
	    id, call, time, members, seqtext, call);
}

static void post_story(struct ch_harness *h, const int order[5], bool run_each)
{
	for (int i = 0; i < 5; i++) {
		const struct snapshot *s = &story[order[i]];

		ck_assert_int_eq(post_snapshot(h, s->id, CALL, s->time, s->seq, s->members), 1);
		if (run_each)
			ck_assert_int_eq(harness_run(h), 1);
	}
	if (!run_each)
		ck_assert_int_eq(harness_run(h), 5);
}

/* The seed's preview ParticipantsUpdated: one snapshot of two, two joins. */
START_TEST(seed_participantsupdated)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/participantsupdated.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT call_id FROM participant_snapshots", SEED_CALL);
	harness_assert_text(h, "SELECT event_time FROM participant_snapshots",
	                    "2021-04-16T06:26:37.912154Z");
	ck_assert_int_eq(harness_int(h, "SELECT event_time_us FROM participant_snapshots"),
	                 1618554397912154LL);
	ck_assert_int_eq(harness_int(h, "SELECT participant_count FROM participant_snapshots"), 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_snapshots "
	                                "WHERE sequence_number IS NULL AND event_id = 1"),
	                 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_snapshot_members"), 2);
	harness_assert_text(h,
	                    "SELECT participant_id FROM participant_snapshot_members "
	                    "WHERE participant_key = '" SEED_A "'",
	                    "de7539f7-019e-4934-a4c9-9a770e5e07bb");
	harness_assert_text(
	    h,
	    "SELECT kind || ' ' || user_id || ' ' || raw_id || ' ' || is_muted || ' ' || "
	    "ifnull(phone_number, '-') || ifnull(teams_user_id, '-') || ifnull(is_on_hold, '-') "
	    "FROM participant_snapshot_members WHERE participant_key = '" SEED_B "'",
	    "communicationUser " SEED_B " " SEED_B " 0 ---");
	harness_assert_text(h,
	                    "SELECT group_concat(participant_key || ' ' || action, ';') FROM "
	                    "(SELECT * FROM participant_events ORDER BY participant_key)",
	                    SEED_B " join;" SEED_A " join");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events "
	                                "WHERE event_id = 1 AND call_id = '" SEED_CALL "'"),
	                 2);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participants WHERE present = 1 AND "
	                                "left_at_us IS NULL AND joined_at_us = 1618554397912154"),
	                 2);
	harness_free(h);
}
END_TEST

/* The story in order: exactly the five expected events, and the current set. */
START_TEST(story_in_order)
{
	static const int order[5] = {0, 1, 2, 3, 4};
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_story(h, order, true);
	harness_assert_text(h, EVENTS_SQL, STORY_EVENTS);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events"), 5);
	harness_assert_text(h, PARTICIPANTS_SQL,
	                    PHONE_B
	                    " phoneNumber - +15551230002 0 2025-06-17T10:00:02.000000Z "
	                    "1750154402000000 2025-06-17T10:00:04.000000Z 1750154404000000 0 "
	                    "2025-06-17T10:00:03.000000Z;" USER_A " communicationUser " USER_A
	                    " - 0 2025-06-17T10:00:01.000000Z 1750154401000000 - - 1 "
	                    "2025-06-17T10:00:05.000000Z");
	ck_assert_int_eq(harness_int(h, "SELECT MAX(participant_count) FROM participant_snapshots "
	                                "WHERE call_id = '" CALL "'"),
	                 2);
	harness_assert_text(
	    h,
	    "SELECT group_concat(sequence_number || ':' || participant_count, ',') FROM "
	    "(SELECT * FROM participant_snapshots ORDER BY event_time_us)",
	    "1:1,2:2,3:2,4:1,5:1");
	harness_free(h);
}
END_TEST

/* Reverse and shuffled arrival, handled one by one or in batches: identical
 * history and current set. */
START_TEST(story_any_order)
{
	static const int orders[][5] = {
	    {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}, {1, 4, 0, 3, 2}, {3, 1, 2, 0, 4}, {0, 2, 1, 4, 3},
	};
	static const int in_order[5] = {0, 1, 2, 3, 4};
	struct ch_harness *ref = harness_new(MODULE, NULL);
	char *want_events, *want_participants;

	post_story(ref, in_order, true);
	want_events = harness_text(ref, EVENTS_SQL);
	want_participants = harness_text(ref, PARTICIPANTS_SQL);
	ck_assert_ptr_nonnull(want_participants);
	ck_assert_str_eq(want_events, STORY_EVENTS);
	harness_free(ref);

	for (size_t i = 0; i < 2 * sizeof(orders) / sizeof(orders[0]); i++) {
		struct ch_harness *h = harness_new(MODULE, NULL);

		post_story(h, orders[i / 2], i % 2 == 0);
		harness_assert_text(h, EVENTS_SQL, want_events);
		harness_assert_text(h, PARTICIPANTS_SQL, want_participants);
		ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events"), 5);
		ck_assert_int_eq(harness_int(h, "SELECT MAX(participant_count) "
		                                "FROM participant_snapshots"),
		                 2);
		harness_free(h);
	}
	free(want_events);
	free(want_participants);
}
END_TEST

/* Same event time: sequenceNumber orders the snapshots (posted reversed). */
START_TEST(sequence_breaks_time_ties)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(post_snapshot(h, "t8", CALL, "2025-06-17T10:00:01Z", 8, A_UNMUTED), 1);
	ck_assert_int_eq(
	    post_snapshot(h, "t7", CALL, "2025-06-17T10:00:01Z", 7, A_UNMUTED "," B_UNMUTED), 1);
	ck_assert_int_eq(harness_run(h), 2);
	/* seq 7 {A,B} then seq 8 {A}: both join at 7, B leaves at 8. */
	harness_assert_text(
	    h,
	    "SELECT group_concat(line, ';') FROM (SELECT s.sequence_number || ' ' || "
	    "p.participant_key || ' ' || p.action AS line FROM participant_events p "
	    "JOIN participant_snapshots s ON s.event_id = p.event_id "
	    "ORDER BY s.sequence_number, p.participant_key)",
	    "7 " PHONE_B " join;7 " USER_A " join;8 " PHONE_B " leave");
	ck_assert_int_eq(harness_int(h, "SELECT present FROM participants "
	                                "WHERE participant_key = '" PHONE_B "'"),
	                 0);
	harness_free(h);
}
END_TEST

/* Muted on arrival is a join, not a mute; leaving and coming back is a
 * second join, keeping the first join time and clearing left_at. */
START_TEST(muted_join_and_rejoin)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(post_snapshot(h, "r1", CALL, "2025-06-17T10:00:01Z", 1, A_MUTED), 1);
	ck_assert_int_eq(post_snapshot(h, "r2", CALL, "2025-06-17T10:00:02Z", 2, B_UNMUTED), 1);
	ck_assert_int_eq(
	    post_snapshot(h, "r3", CALL, "2025-06-17T10:00:03Z", 3, A_UNMUTED "," B_UNMUTED), 1);
	ck_assert_int_eq(harness_run(h), 3);
	harness_assert_text(h, EVENTS_SQL,
	                    "2025-06-17T10:00:01.000000Z " USER_A " join;"
	                    "2025-06-17T10:00:02.000000Z " PHONE_B " join;"
	                    "2025-06-17T10:00:02.000000Z " USER_A " leave;"
	                    "2025-06-17T10:00:03.000000Z " USER_A " join");
	ck_assert_int_eq(harness_int(h, "SELECT is_muted FROM participant_snapshot_members "
	                                "WHERE participant_key = '" USER_A "' AND event_id = 1"),
	                 1);
	harness_assert_text(
	    h,
	    "SELECT joined_at || ' ' || ifnull(left_at, '-') || ' ' || present || ' ' || "
	    "is_muted FROM participants WHERE participant_key = '" USER_A "'",
	    "2025-06-17T10:00:01.000000Z - 1 0");
	harness_free(h);
}
END_TEST

/* GA 2022-11: bare identifiers, no isMuted, a \u002B-escaped phone number. */
START_TEST(ga_bare_identifiers)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/participants-ga-bare.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT participant_count FROM participant_snapshots"), 2);
	harness_assert_text(
	    h,
	    "SELECT group_concat(participant_key || ' ' || kind || ' ' || "
	    "ifnull(user_id, '-') || ' ' || ifnull(phone_number, '-') || ' ' || "
	    "ifnull(is_muted, '-') || ' ' || ifnull(participant_id, '-'), ';') FROM "
	    "(SELECT * FROM participant_snapshot_members ORDER BY participant_key)",
	    "4:+14255550123 phoneNumber - +14255550123 - -;"
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-8a4d-1c2e-3f40-5a3a0d00e1f2 "
	    "communicationUser "
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-8a4d-1c2e-3f40-5a3a0d00e1f2 "
	    "- - -");
	harness_assert_text(
	    h, "SELECT call_id FROM participants WHERE participant_key = '4:+14255550123'",
	    "421f0b00-5e6f-4a7b-8c9d-0e1f2a3b4c5d");
	/* A bare identifier's mute state is unknown: a later snapshot with the
	 * {identifier, isMuted} form makes no mute event out of NULL -> 1. */
	ck_assert_int_eq(post_snapshot(h, "bare-2", "421f0b00-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
	                               "2022-11-07T18:41:00Z", -1,
	                               "{\"identifier\":{\"rawId\":\"4:+14255550123\"},"
	                               "\"isMuted\":true}"),
	                 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(
	    h,
	    "SELECT group_concat(action, ',') FROM (SELECT action FROM participant_events "
	    "ORDER BY event_time_us, action)",
	    "join,join,leave");
	harness_free(h);
}
END_TEST

/* GA 2025: {identifier, isMuted, isOnHold} with rawId-only identifiers: the
 * kind and display ids come from the rawId prefix. */
START_TEST(ga_rawid_only)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/participants-ga-rawid-only.json"),
	                 1);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT sequence_number FROM participant_snapshots"), 5);
	ck_assert_int_eq(harness_int(h, "SELECT participant_count FROM participant_snapshots"), 3);
	harness_assert_text(
	    h,
	    "SELECT group_concat(participant_key || ' ' || kind || ' ' || "
	    "ifnull(user_id, '-') || ' ' || ifnull(phone_number, '-') || ' ' || "
	    "ifnull(teams_user_id, '-') || ' ' || raw_id || ' ' || is_muted || ' ' || "
	    "is_on_hold, ';') FROM "
	    "(SELECT * FROM participant_snapshot_members ORDER BY participant_key)",
	    "4:+14255550199 phoneNumber - +14255550199 - 4:+14255550199 0 1;"
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-9b5e-2d3f-4051-6b3a0d00f203 "
	    "communicationUser "
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-9b5e-2d3f-4051-6b3a0d00f203 - "
	    "- 8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-9b5e-2d3f-4051-6b3a0d00f203 "
	    "1 0;"
	    "8:orgid:3f2a1b0c-9d8e-4f7a-a6b5-c4d3e2f1a0b9 microsoftTeamsUser - - "
	    "3f2a1b0c-9d8e-4f7a-a6b5-c4d3e2f1a0b9 8:orgid:3f2a1b0c-9d8e-4f7a-a6b5-c4d3e2f1a0b9 0 "
	    "0");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events WHERE action = "
	                                "'join'"),
	                 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events"), 3);
	harness_free(h);
}
END_TEST

/* Preview identifiers without RawId: the phone and Teams keys are the rawIds
 * they would have had; with no identifier at all, the ParticipantId. */
START_TEST(preview_kinds_without_rawid)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/participants-preview-kinds.json"),
	                 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(
	    h,
	    "SELECT group_concat(participant_key || ' ' || kind || ' ' || "
	    "ifnull(phone_number, '-') || ' ' || ifnull(teams_user_id, '-') || ' ' || "
	    "ifnull(raw_id, '-') || ' ' || participant_id || ' ' || is_muted, ';') FROM "
	    "(SELECT * FROM participant_snapshot_members ORDER BY participant_key)",
	    "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a unknown - - - "
	    "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a 0;"
	    "4:+14255550100 phoneNumber +14255550100 - - "
	    "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e 1;"
	    "8:orgid:5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9 microsoftTeamsUser - "
	    "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9 - 1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f 0");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participants WHERE present = 1 AND "
	                                "call_id = '411f6d00-7c8d-4e9f-a0b1-c2d3e4f5a6b7'"),
	                 3);
	harness_free(h);
}
END_TEST

/* The same body twice is one journal row; the same snapshot under a new id
 * is a second snapshot that reveals nothing. */
START_TEST(duplicates)
{
	static const int order[5] = {0, 1, 2, 3, 4};
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/participantsupdated.json"), 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/participantsupdated.json"), 0);
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events"), 2);

	post_story(h, order, false);
	ck_assert_int_eq(
	    post_snapshot(h, "s2-again", CALL, story[1].time, story[1].seq, story[1].members), 1);
	ck_assert_int_eq(
	    post_snapshot(h, "s4-again", CALL, story[3].time, story[3].seq, story[3].members), 1);
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_text(h, EVENTS_SQL, STORY_EVENTS);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_snapshots "
	                                "WHERE call_id = '" CALL "'"),
	                 7);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participants"), 4);
	harness_free(h);
}
END_TEST

/* Replaying every delivery duplicates nothing and changes nothing. */
START_TEST(replay_idempotent)
{
	static const int order[5] = {3, 0, 4, 1, 2};
	struct ch_harness *h = harness_new(MODULE, NULL);
	char *participants;

	post_story(h, order, true);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/seed/participantsupdated.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	participants = harness_text(h, PARTICIPANTS_SQL);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_gt(harness_replay(h), 0);
	harness_assert_text(h, EVENTS_SQL, STORY_EVENTS);
	harness_assert_text(h, PARTICIPANTS_SQL, participants);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_snapshots"), 6);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_snapshot_members"), 9);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participant_events"), 7);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM participants"), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 6);
	free(participants);
	harness_free(h);
}
END_TEST

/* Peak size per call, as reports compute it, across calls and an empty list. */
START_TEST(peak_count)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post_file(h, FIXTURES "/history/participants-ga-rawid-only.json"),
	                 1);
	ck_assert_int_eq(post_snapshot(h, "p1", CALL, "2025-06-17T10:00:01Z", 1, A_UNMUTED), 1);
	ck_assert_int_eq(
	    post_snapshot(h, "p2", CALL, "2025-06-17T10:00:02Z", 2, A_UNMUTED "," B_UNMUTED), 1);
	ck_assert_int_eq(post_snapshot(h, "p3", CALL, "2025-06-17T10:00:03Z", 3, ""), 1);
	ck_assert_int_eq(harness_run(h), 4);
	harness_assert_text(
	    h,
	    "SELECT group_concat(call_id || '=' || peak, ',') FROM (SELECT call_id, "
	    "MAX(participant_count) AS peak FROM participant_snapshots GROUP BY call_id "
	    "ORDER BY call_id)",
	    "421f0b00-1b2c-4d3e-8f4a-5b6c7d8e9f01=2,421f0b00-2d3e-4f5a-8b6c-7d8e9f0a1b2c=3");
	/* The empty list: everyone left. */
	ck_assert_int_eq(
	    harness_int(h, "SELECT count(*) FROM participants WHERE call_id = '" CALL
	                   "' AND present = 0 AND left_at = '2025-06-17T10:00:03.000000Z'"),
	    2);
	harness_free(h);
}
END_TEST

/* Without a call id or a participants array there is nothing to store: the
 * event is acknowledged (logged), not failed - the journal keeps it and no
 * retry could supply what the sender left out.  Members without any identity
 * are skipped, the others kept. */
START_TEST(missing_fields_tolerated)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	ck_assert_int_eq(harness_post(h,
	                              "[{\"id\":\"m1\",\"source\":\"calling/callConnections/x\","
	                              "\"type\":\"Microsoft.Communication.ParticipantsUpdated\","
	                              "\"specversion\":\"1.0\",\"time\":\"2025-06-17T10:00:00Z\","
	                              "\"data\":{\"participants\":[]}}]"),
	                 1);
	ck_assert_int_eq(post_snapshot(h, "m2", CALL, "2025-06-17T10:00:00Z", -1, ""), 1);
	ck_assert_int_eq(harness_post(h,
	                              "[{\"id\":\"m3\",\"source\":\"calling/callConnections/y\","
	                              "\"type\":\"Microsoft.Communication.ParticipantsUpdated\","
	                              "\"specversion\":\"1.0\",\"time\":\"2025-06-17T10:00:00Z\","
	                              "\"data\":{\"callConnectionId\":\"no-list-call\"}}]"),
	                 1);
	ck_assert_int_eq(post_snapshot(h, "m4", "odd-call", "2025-06-17T10:00:00Z", -1,
	                               "{\"isMuted\":true}," A_UNMUTED ",{\"identifier\":{}}"),
	                 1);
	ck_assert_int_eq(harness_run(h), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 4);
	harness_assert_text(h,
	                    "SELECT group_concat(call_id || ':' || participant_count, ',') FROM "
	                    "(SELECT * FROM participant_snapshots ORDER BY event_id)",
	                    CALL ":0,odd-call:1");
	harness_assert_text(h, "SELECT participant_key FROM participants", USER_A);
	harness_free(h);
}
END_TEST

static Suite *participants_suite(void)
{
	Suite *s = suite_create("participants");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seed_participantsupdated);
	tcase_add_test(tc, story_in_order);
	tcase_add_test(tc, story_any_order);
	tcase_add_test(tc, sequence_breaks_time_ties);
	tcase_add_test(tc, muted_join_and_rejoin);
	tcase_add_test(tc, ga_bare_identifiers);
	tcase_add_test(tc, ga_rawid_only);
	tcase_add_test(tc, preview_kinds_without_rawid);
	tcase_add_test(tc, duplicates);
	tcase_add_test(tc, replay_idempotent);
	tcase_add_test(tc, peak_count);
	tcase_add_test(tc, missing_fields_tolerated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(participants_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
