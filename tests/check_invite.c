/* check_invite.c - the invite handler module (handlers/invite.c) through the real host.
 *
 * Each test journals bodies with the daemon's intake path, runs the
 * dispatcher and reads invites / invite_participants back with SQL.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MODULE   BUILD_HANDLERS "/invite.so"
#define CALL     "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"
#define ACS_USER "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-de04-ee58-740a-113a0d00330d"

/* The invites row of one sender event id (harness_rows). */
#define INVITE_ROW(id)                                                                             \
	"SELECT i.call_id, i.operation_context, i.action, i.outcome, i.status, i.result_code,"     \
	" i.result_subcode, i.result_message, i.invitation_id"                                     \
	" FROM invites i JOIN events e ON e.id = i.event_id WHERE e.event_id = '" id "'"

/* Its participants, key order (harness_rows). */
#define PARTICIPANTS(id)                                                                           \
	"SELECT p.participant_key, p.kind, p.raw_id, p.user_id, p.phone_number, p.teams_user_id"   \
	" FROM invite_participants p JOIN events e ON e.id = p.event_id"                           \
	" WHERE e.event_id = '" id "' ORDER BY p.participant_key"

static void post_file(struct ch_harness *h, const char *path)
{
	ck_assert_int_eq(harness_post_file(h, path), 1);
}

/* A GA participant event of CALL; data_extra goes inside data (may be ""). */
static void post_ga(struct ch_harness *h, const char *id, const char *type, const char *time,
                    const char *data_extra)
{
	ck_assert_int_eq(harness_post_ga(h, id, type, CALL, time, data_extra), 1);
}

/* A 2021 preview InviteParticipantResult with the given id and data members. */
static void post_preview(struct ch_harness *h, const char *id, const char *time, const char *data)
{
	ck_assert_int_eq(
	    harness_postf(h,
	                  "{\"id\":\"%s\",\"topic\":null,\"subject\":\"callLeg/" CALL
	                  "/inviteParticipantResult\",\"data\":{%s,\"CallLegId\":\"" CALL "\"},"
	                  "\"eventType\":\"Microsoft.Communication.InviteParticipantResult\","
	                  "\"eventTime\":\"%s\",\"metadataVersion\":null,\"dataVersion\":null}",
	                  id, data, time),
	    1);
}

/* ResultInfo null, Participants[] of bare identifiers with explicit nulls. */
START_TEST(seed_invite)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/seed/inviteparticipantresult.json");
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_rows(
	    h, INVITE_ROW("52154ee2-b2ba-420f-b42f-a69c6101c516"),
	    "421f6d00-18fc-4d11-bde6-e5e371494753|5dbcbdd4-febf-4091-a5be-543f09b2692c|"
	    "invite|succeeded|Completed|-|-|-|-");
	harness_assert_rows(h, PARTICIPANTS("52154ee2-b2ba-420f-b42f-a69c6101c516"),
	                    ACS_USER "|communicationUser|" ACS_USER "|" ACS_USER "|-|-");
	harness_assert_text(
	    h, "SELECT event_type || '|' || event_time FROM invites",
	    "Microsoft.Communication.InviteParticipantResult|2021-05-05T21:49:52.813839Z");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invite_participants p JOIN invites i"
	                                " ON i.event_id = p.event_id AND i.call_id = p.call_id"
	                                " AND i.event_time_us = p.event_time_us"),
	                 1);
	harness_free(h);
}
END_TEST

START_TEST(preview_failures)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_preview(h, "pf1", "2021-05-05T21:00:00Z",
	             "\"ResultInfo\":null,\"OperationContext\":\"a\",\"Status\":\"Failed\","
	             "\"Participants\":[{\"RawId\":null,\"CommunicationUser\":null,"
	             "\"PhoneNumber\":{\"Value\":\"+14255550100\"},\"MicrosoftTeamsUser\":null}]");
	post_preview(h, "pf2", "2021-05-05T21:00:01Z",
	             "\"ResultInfo\":{\"Code\":403,\"Subcode\":10003,\"Message\":\"Forbidden\"},"
	             "\"OperationContext\":\"b\",\"Status\":\"Completed\",\"Participants\":[]");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(h, INVITE_ROW("pf1"), CALL "|a|invite|failed|Failed|-|-|-|-");
	harness_assert_rows(h, PARTICIPANTS("pf1"),
	                    "4:+14255550100|phoneNumber|-|-|+14255550100|-");
	harness_assert_rows(h, INVITE_ROW("pf2"),
	                    CALL "|b|invite|failed|Completed|403|10003|Forbidden|-");
	harness_assert_rows(h, PARTICIPANTS("pf2"), NULL);
	harness_free(h);
}
END_TEST

START_TEST(add_succeeded_and_failed)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/cloudevents/addparticipantsucceeded.json");
	post_file(h, FIXTURES "/media/addparticipantfailed.json");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(h, INVITE_ROW("4a7c1e9b-2d5f-4b8a-9c3e-6f0d2a4c8e13"),
	                    CALL "|add-supervisor|add|succeeded|-|200|0||-");
	harness_assert_rows(
	    h, PARTICIPANTS("4a7c1e9b-2d5f-4b8a-9c3e-6f0d2a4c8e13"),
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-7f3c-9b10-f40f-343a0d00c3d4|"
	    "communicationUser|"
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-7f3c-9b10-f40f-343a0d00c3d4|"
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-7f3c-9b10-f40f-343a0d00c3d4|-|-");
	harness_assert_rows(
	    h, INVITE_ROW("7a3c5e1b-4d9f-4b26-8a7e-5c2f9d1b6e83"),
	    CALL "|add-pstn|add|failed|-|408|10004|Call timed out. DiagCode: 408#10004.@|"
	         "c2e4a6b8-1d3f-4a5c-9e7b-0f2d4c6a8e13");
	harness_assert_rows(h, PARTICIPANTS("7a3c5e1b-4d9f-4b26-8a7e-5c2f9d1b6e83"),
	                    "4:+14255550199|phoneNumber|4:+14255550199|-|+14255550199|-");
	harness_free(h);
}
END_TEST

START_TEST(remove_succeeded_and_failed)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/media/removeparticipantsucceeded.json");
	post_file(h, FIXTURES "/media/removeparticipantfailed.json");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(h, INVITE_ROW("5b8c2e4f-3a9d-4b71-8f6e-1d4a7c9b2e30"),
	                    CALL "|remove-agent|remove|succeeded|-|200|0||-");
	harness_assert_rows(h, PARTICIPANTS("5b8c2e4f-3a9d-4b71-8f6e-1d4a7c9b2e30"),
	                    "4:+14255550123|phoneNumber|4:+14255550123|-|+14255550123|-");
	harness_assert_rows(h, INVITE_ROW("1f6a9d3c-8b2e-4c57-a3f1-9e5d2b7c4a18"),
	                    CALL "|remove-ghost|remove|failed|-|404|8522|Participant not found.|-");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invite_participants"), 2);
	harness_free(h);
}
END_TEST

/* A Succeeded type with a non-200 code: outcome from the type, codes kept. */
START_TEST(cancel_add_codes)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_file(h, FIXTURES "/media/canceladdparticipantsucceeded.json");
	post_ga(h, "caf", "CancelAddParticipantFailed", "2025-06-16T20:55:00Z",
	        "\"invitationId\":\"i-9\",\"resultInformation\":{\"code\":200,\"subCode\":0}");
	ck_assert_int_eq(harness_run(h), 2);
	harness_assert_rows(
	    h, INVITE_ROW("0e9b7d5c-3f1a-4e82-b6d4-8a2c0e9f7b15"),
	    CALL "|cancel-add-pstn|cancel_add|succeeded|-|487|5234|addParticipants failed for "
	         "participant 4:+14255550199. Underlying reason: Request terminated.|"
	         "c2e4a6b8-1d3f-4a5c-9e7b-0f2d4c6a8e13");
	harness_assert_rows(h, PARTICIPANTS("0e9b7d5c-3f1a-4e82-b6d4-8a2c0e9f7b15"), NULL);
	harness_assert_rows(h, INVITE_ROW("caf"), CALL "|-|cancel_add|failed|-|200|0|-|i-9");
	harness_free(h);
}
END_TEST

/* participant_key: rawId, else user id, else "4:"+phone, else Teams user. */
START_TEST(participant_keys)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "k-user", "AddParticipantSucceeded", "2025-06-16T20:56:00Z",
	        "\"participant\":{\"communicationUser\":{\"id\":\"8:acs:u1\"}}");
	post_ga(h, "k-phone", "AddParticipantSucceeded", "2025-06-16T20:56:01Z",
	        "\"participant\":{\"kind\":\"phoneNumber\",\"phoneNumber\":{\"value\":\"+1555\"}}");
	post_ga(
	    h, "k-teams", "AddParticipantSucceeded", "2025-06-16T20:56:02Z",
	    "\"participant\":{\"microsoftTeamsUser\":{\"userId\":\"t-42\",\"cloud\":\"public\"}}");
	post_ga(h, "k-none", "AddParticipantSucceeded", "2025-06-16T20:56:03Z",
	        "\"participant\":{\"kind\":\"unknown\"}");
	post_ga(h, "k-raw", "RemoveParticipantSucceeded", "2025-06-16T20:56:04Z",
	        "\"participant\":{\"rawId\":\"8:acs:r1\"}");
	ck_assert_int_eq(harness_run(h), 5);
	harness_assert_rows(h, PARTICIPANTS("k-user"), "8:acs:u1|communicationUser|-|8:acs:u1|-|-");
	harness_assert_rows(h, PARTICIPANTS("k-phone"), "4:+1555|phoneNumber|-|-|+1555|-");
	harness_assert_rows(h, PARTICIPANTS("k-teams"), "t-42|microsoftTeamsUser|-|-|-|t-42");
	harness_assert_rows(h, PARTICIPANTS("k-none"), NULL);
	harness_assert_rows(h, INVITE_ROW("k-none"), CALL "|-|add|succeeded|-|-|-|-|-");
	harness_assert_rows(h, PARTICIPANTS("k-raw"), "8:acs:r1|communicationUser|8:acs:r1|-|-|-");
	harness_free(h);
}
END_TEST

/* The same result under another journal row (a retry with a new id) is
 * kept once; the same body twice is refused by the journal itself. */
START_TEST(redelivery)
{
	struct ch_harness *h = harness_new(MODULE, NULL);
	static const char data[] =
	    "\"operationContext\":\"add-x\",\"participant\":{\"rawId\":\"8:x\"},"
	    "\"resultInformation\":{\"code\":200,\"subCode\":0}";

	post_ga(h, "first", "AddParticipantSucceeded", "2025-06-16T20:57:00Z", data);
	post_ga(h, "retry", "AddParticipantSucceeded", "2025-06-16T20:57:00Z", data);
	post_ga(h, "later", "AddParticipantSucceeded", "2025-06-16T20:58:00Z", data);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/addparticipantsucceeded.json"),
	                 1);
	ck_assert_int_eq(harness_post_file(h, FIXTURES "/cloudevents/addparticipantsucceeded.json"),
	                 0);
	ck_assert_int_eq(harness_run(h), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invites"), 3);
	harness_assert_rows(h, INVITE_ROW("retry"), NULL);
	harness_assert_rows(h, PARTICIPANTS("retry"), NULL);
	harness_assert_rows(h, PARTICIPANTS("first"), "8:x|unknown|8:x|-|-|-");
	harness_assert_rows(h, PARTICIPANTS("later"), "8:x|unknown|8:x|-|-|-");
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 4);
	harness_free(h);
}
END_TEST

START_TEST(replay_idempotent)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	static const char *const files[] = {
	    FIXTURES "/seed/inviteparticipantresult.json",
	    FIXTURES "/cloudevents/addparticipantsucceeded.json",
	    FIXTURES "/media/removeparticipantfailed.json",
	    FIXTURES "/media/canceladdparticipantsucceeded.json",
	    NULL,
	};

	ck_assert_int_eq(harness_post_files(h, files), 4);
	ck_assert_int_eq(harness_run(h), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invites"), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invite_participants"), 3);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_gt(harness_replay(h), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invites"), 4);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invite_participants"), 3);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 4);
	harness_free(h);
}
END_TEST

/* A type the prefix patterns match but the module does not know: no rows. */
START_TEST(unknown_type)
{
	struct ch_harness *h = harness_new(MODULE, NULL);

	post_ga(h, "u1", "AddParticipantRinging", "2025-06-16T20:59:00Z",
	        "\"participant\":{\"rawId\":\"8:x\"}");
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM invites"), 0);
	ck_assert_int_eq(harness_int(h, "SELECT count(*) FROM deliveries WHERE state = 'done'"), 1);
	harness_free(h);
}
END_TEST

static Suite *invite_suite(void)
{
	Suite *s = suite_create("invite");
	TCase *tc = tcase_create("results");

	tcase_add_test(tc, seed_invite);
	tcase_add_test(tc, preview_failures);
	tcase_add_test(tc, add_succeeded_and_failed);
	tcase_add_test(tc, remove_succeeded_and_failed);
	tcase_add_test(tc, cancel_add_codes);
	tcase_add_test(tc, participant_keys);
	tcase_add_test(tc, redelivery);
	tcase_add_test(tc, replay_idempotent);
	tcase_add_test(tc, unknown_type);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(invite_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
