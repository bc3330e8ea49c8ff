/* check_envelope.c - envelope detection, validation, normalisation, and
 * RFC 3339 times, against the fixtures in tests/fixtures (FIXTURES is their
 * absolute path, given by the build). */
#include "envelope.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#ifndef FIXTURES
#error "build with -DFIXTURES='\"/abs/path/tests/fixtures\"'"
#endif

#define TOPIC                                                                                      \
	"/subscriptions/4a6e1f3c-9d2b-4c8e-a1f0-7b3d5e9c2a18/resourceGroups/rg-contoso-voice/"     \
	"providers/Microsoft.Communication/communicationServices/acs-contoso-prod"
#define CC1 "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"
#define CC2 "421f0b00-9c8e-4f7d-a6b5-c4d3e2f1a0b9"

/* ---- helpers --------------------------------------------------------------- */

/* The fixture's bytes (NUL-terminated for convenience, len excludes it);
 * the caller frees. */
static char *load(const char *rel, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", FIXTURES, rel);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int parse_ct(const char *body, size_t len, const char *ct, struct ch_batch *b,
                    struct ch_error *err)
{
	const struct ch_envelope_input in = {ct, NULL, 0};

	return ch_envelope_parse(body, len, &in, NULL, b, err);
}

static int parse_str(const char *body, struct ch_batch *b, struct ch_error *err)
{
	return parse_ct(body, strlen(body), "application/json", b, err);
}

/* The body without surrounding JSON whitespace. */
static void trimmed(const char *body, size_t len, const char **start, size_t *n)
{
	size_t a = 0, z = len;

	while (a < z && strchr(" \t\r\n", body[a]) != NULL)
		a++;
	while (z > a && strchr(" \t\r\n", body[z - 1]) != NULL)
		z--;
	*start = body + a;
	*n = z - a;
}

static bool is_zeroed(const struct ch_batch *b)
{
	return b->events == NULL && b->n == 0 && b->doc == NULL && b->synth == NULL;
}

/* Expect failure with status, code and a message containing needle. */
static void expect_fail(const char *body, size_t len, const char *ct, int status, const char *code,
                        const char *needle)
{
	struct ch_batch b;
	struct ch_error err;

	memset(&b, 0xA5, sizeof(b)); /* must be zeroed even on failure */
	ck_assert_int_eq(parse_ct(body, len, ct, &b, &err), -1);
	ck_assert_msg(is_zeroed(&b), "batch not zeroed after failure");
	ck_assert_int_eq(err.status, status);
	ck_assert_str_eq(err.code, code);
	if (needle != NULL)
		ck_assert_msg(strstr(err.message, needle) != NULL, "message \"%s\" lacks \"%s\"",
		              err.message, needle);
	ch_batch_free(&b);
}

static void expect_fail_str(const char *body, int status, const char *code, const char *needle)
{
	expect_fail(body, strlen(body), "application/json", status, code, needle);
}

static const char *json_str(const struct ch_json *obj, const char *path)
{
	return ch_json_string(ch_json_path(obj, path));
}

static const char *json_num(const struct ch_json *obj, const char *path)
{
	const struct ch_json *v = ch_json_path(obj, path);

	ck_assert_msg(v != NULL && v->type == CH_JSON_NUMBER, "%s is not a number", path);
	return v->u.str.ptr;
}

/* ---- RFC 3339 ----------------------------------------------------------------- */

static const struct {
	const char *text;
	int64_t us;
	const char *norm;
} good_times[] = {
    {"2021-05-05T20:08:39.0157964Z", INT64_C(1620245319015796), "2021-05-05T20:08:39.015796Z"},
    /* GA recordings: "\u002B00:00" arrives here already decoded */
    {"2025-06-16T20:52:32.9896642+00:00", INT64_C(1750107152989664), "2025-06-16T20:52:32.989664Z"},
    {"1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00.000000Z"},
    {"1970-01-01T00:00:00.000001Z", 1, "1970-01-01T00:00:00.000001Z"},
    {"1969-12-31T23:59:59.999999Z", -1, "1969-12-31T23:59:59.999999Z"},
    {"1969-12-31T23:59:59.9999999Z", -1, "1969-12-31T23:59:59.999999Z"},
    {"1969-07-20T20:17:40Z", INT64_C(-14182940000000), "1969-07-20T20:17:40.000000Z"},
    {"1900-03-01T00:00:00Z", INT64_C(-2203891200000000), "1900-03-01T00:00:00.000000Z"},
    {"1601-01-01T00:00:00Z", INT64_C(-11644473600000000), "1601-01-01T00:00:00.000000Z"},
    {"0001-01-01T00:00:00Z", INT64_C(-62135596800000000), "0001-01-01T00:00:00.000000Z"},
    {"9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z"},
    {"2038-01-19T03:14:08Z", INT64_C(2147483648000000), "2038-01-19T03:14:08.000000Z"},
    /* leap days */
    {"2024-02-29T12:00:00Z", INT64_C(1709208000000000), "2024-02-29T12:00:00.000000Z"},
    {"2000-02-29T00:00:00Z", INT64_C(951782400000000), "2000-02-29T00:00:00.000000Z"},
    /* no offset: taken as UTC (sloppy .NET senders) */
    {"2021-05-05T20:08:39.0157964", INT64_C(1620245319015796), "2021-05-05T20:08:39.015796Z"},
    {"2021-05-05T20:08:39", INT64_C(1620245319000000), "2021-05-05T20:08:39.000000Z"},
    /* lower-case t and z */
    {"2021-05-05t20:08:39.5z", INT64_C(1620245319500000), "2021-05-05T20:08:39.500000Z"},
    /* offsets crossing midnight and a year */
    {"2021-05-05T23:30:00-02:00", INT64_C(1620264600000000), "2021-05-06T01:30:00.000000Z"},
    {"2021-05-06T01:30:00+05:30", INT64_C(1620244800000000), "2021-05-05T20:00:00.000000Z"},
    {"2021-01-01T00:30:00+01:00", INT64_C(1609457400000000), "2020-12-31T23:30:00.000000Z"},
    {"2021-05-05T20:08:39-00:00", INT64_C(1620245319000000), "2021-05-05T20:08:39.000000Z"},
    {"2021-05-05T20:08:39+23:59",
     INT64_C(1620245319000000) - (23 * 3600 + 59 * 60) * INT64_C(1000000),
     "2021-05-04T20:09:39.000000Z"},
    /* leap second folds into the next second */
    {"2016-12-31T23:59:60Z", INT64_C(1483228800000000), "2017-01-01T00:00:00.000000Z"},
    {"2016-12-31T23:59:60.5Z", INT64_C(1483228800500000), "2017-01-01T00:00:00.500000Z"},
    /* fraction lengths: 1, 9, 12 digits */
    {"2021-05-05T20:08:39.1Z", INT64_C(1620245319100000), "2021-05-05T20:08:39.100000Z"},
    {"2021-05-05T20:08:39.123456789Z", INT64_C(1620245319123456), "2021-05-05T20:08:39.123456Z"},
    {"2021-05-05T20:08:39.123456789012+00:00", INT64_C(1620245319123456),
     "2021-05-05T20:08:39.123456Z"},
};

START_TEST(test_time_valid)
{
	for (size_t i = 0; i < sizeof(good_times) / sizeof(good_times[0]); i++) {
		int64_t us = 42;
		char buf[28];

		ck_assert_msg(ch_time_parse(good_times[i].text, strlen(good_times[i].text), &us) ==
		                  0,
		              "rejected %s", good_times[i].text);
		ck_assert_msg(us == good_times[i].us, "%s: %lld != %lld", good_times[i].text,
		              (long long)us, (long long)good_times[i].us);
		ch_time_format(us, buf);
		ck_assert_str_eq(buf, good_times[i].norm);
		/* the normalised text parses back to the same instant */
		ck_assert_int_eq(ch_time_parse(buf, strlen(buf), &us), 0);
		ck_assert(us == good_times[i].us);
	}
}
END_TEST

static const char *const bad_times[] = {
    "",
    "2021-05-05",
    "2021-05-05T20:08",
    "2021-05-05T20:08:3",
    "2021-13-05T20:08:39Z",
    "2021-00-05T20:08:39Z",
    "2021-05-00T20:08:39Z",
    "2021-02-29T00:00:00Z", /* not a leap year */
    "1900-02-29T00:00:00Z", /* century, not a leap year */
    "2021-04-31T00:00:00Z",
    "2021-05-05T24:00:00Z",
    "2021-05-05T23:60:00Z",
    "2021-05-05T23:59:61Z",
    "0000-01-01T00:00:00Z",
    "2021-05-05 20:08:39Z",
    "2021-05-05T20:08:39.Z",
    "2021-05-05T20:08:39.",
    "2021-05-05T20:08:39,5Z",
    "2021-05-05T20:08:39+0100",
    "2021-05-05T20:08:39+01",
    "2021-05-05T20:08:39+01:0",
    "2021-05-05T20:08:39+24:00",
    "2021-05-05T20:08:39+01:60",
    "2021-05-05T20:08:39ZZ",
    "2021-05-05T20:08:39Z ",
    " 2021-05-05T20:08:39Z",
    "21-05-05T20:08:39Z",
    "2021-5-05T20:08:39Z",
    "+2021-05-05T20:08:39Z",
    "2021-05-05T20:08:39.123abc",
    "2021-05-05T-1:08:39Z",
    "2021-05-05T20:08:39 +00:00",
    "2021/05/05T20:08:39Z",
    "yesterday at noon",
    "0001-01-01T00:00:00+01:00", /* before 0001-01-01T00:00:00Z */
    "9999-12-31T23:59:59-01:00", /* after 9999-12-31 in UTC */
    "9999-12-31T23:59:60Z",
    "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x91-05-05T20:08:39Z", /* full-width digits */
};

START_TEST(test_time_invalid)
{
	for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		int64_t us = 42;

		ck_assert_msg(ch_time_parse(bad_times[i], strlen(bad_times[i]), &us) == -1,
		              "accepted \"%s\"", bad_times[i]);
		ck_assert(us == 42);
	}
	/* the length is respected: no reliance on a NUL terminator */
	{
		int64_t us;
		const char nul[] = "2021-05-05T20:08:39\0Z";

		ck_assert_int_eq(ch_time_parse(nul, sizeof(nul) - 1, &us), -1);
		ck_assert_int_eq(ch_time_parse("2021-05-05T20:08:39.5Z", 20, &us), -1);
		ck_assert_int_eq(ch_time_parse("2021-05-05T20:08:39.5Z", 19, &us), 0);
		ck_assert(us == INT64_C(1620245319000000));
		ck_assert_int_eq(ch_time_parse(NULL, 0, &us), -1);
	}
}
END_TEST

/* Every day from 1601 to 2400 against glibc's timegm, and format/parse round
 * trips over the whole range. */
START_TEST(test_time_arithmetic)
{
	char buf[28], text[64];
	int64_t us;
	uint64_t x = 88172645463325252u; /* xorshift64 state; wraps by design */

	for (int y = 1601; y <= 2400; y++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= 31; d++) {
				struct tm tm = {0};
				time_t t;
				int rc;

				snprintf(text, sizeof(text), "%04d-%02d-%02dT12:34:56Z", y, m, d);
				rc = ch_time_parse(text, strlen(text), &us);
				tm.tm_year = y - 1900;
				tm.tm_mon = m - 1;
				tm.tm_mday = d;
				tm.tm_hour = 12;
				tm.tm_min = 34;
				tm.tm_sec = 56;
				t = timegm(&tm);
				/* plain ifs: a passing ck_assert costs an allocation in
				 * CK_FORK=no mode, which makes valgrind runs crawl */
				if (tm.tm_mday != d) { /* timegm normalised: no such day */
					if (rc != -1)
						ck_abort_msg("accepted %s", text);
					continue;
				}
				if (rc != 0 || us != (int64_t)t * 1000000)
					ck_abort_msg("%s: rc %d, %lld", text, rc, (long long)us);
			}
		}
	}
	for (int i = 0; i < 200000; i++) {
		int64_t v, back;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = INT64_C(-62135596800000000) +
		    (int64_t)(x %
		              (uint64_t)(INT64_C(253402300800000000) + INT64_C(62135596800000000)));
		ch_time_format(v, buf);
		if (strlen(buf) != 27 || ch_time_parse(buf, 27, &back) != 0 || back != v)
			ck_abort_msg("%lld -> %s", (long long)v, buf);
	}
	/* out-of-range values are clamped, never overflow the buffer */
	ch_time_format(INT64_MIN, buf);
	ck_assert_str_eq(buf, "0001-01-01T00:00:00.000000Z");
	ch_time_format(INT64_MAX, buf);
	ck_assert_str_eq(buf, "9999-12-31T23:59:59.999999Z");
}
END_TEST

/* ---- the seed: 2021 preview ---------------------------------------------------------- */

static const struct {
	const char *file, *type, *call_id, *time, *subject, *id;
	int64_t us;
} seed[] = {
    {"seed/calllegstate-establishing.json", "Microsoft.Communication.CallLegStateChanged",
     "531f3600-481f-41c8-8a75-3e8b2e8e6200", "2021-05-05T20:08:39.015796Z",
     "callLeg/531f3600-481f-41c8-8a75-3e8b2e8e6200/callState", NULL, INT64_C(1620245319015796)},
    {"seed/calllegstate-established.json", "Microsoft.Communication.CallLegStateChanged",
     "531f3600-481f-41c8-8a75-3e8b2e8e6200", "2021-05-05T20:08:59.578398Z",
     "callLeg/531f3600-481f-41c8-8a75-3e8b2e8e6200/callState", NULL, INT64_C(1620245339578398)},
    {"seed/calllegstate-terminating.json", "Microsoft.Communication.CallLegStateChanged",
     "531f3600-481f-41c8-8a75-3e8b2e8e6200", "2021-05-05T20:13:45.739870Z",
     "callLeg/531f3600-481f-41c8-8a75-3e8b2e8e6200/callState", NULL, INT64_C(1620245625739870)},
    {"seed/calllegstate-terminated.json", "Microsoft.Communication.CallLegStateChanged",
     "531f3600-481f-41c8-8a75-3e8b2e8e6200", "2021-05-05T20:13:46.154181Z",
     "callLeg/531f3600-481f-41c8-8a75-3e8b2e8e6200/callState", NULL, INT64_C(1620245626154181)},
    {"seed/dtmfreceived.json", "Microsoft.Communication.DtmfReceived",
     "471f3600-4e1f-4cd4-9eec-4a484e4cbf00", "2021-05-05T20:31:00.481881Z",
     "callLeg/471f3600-4e1f-4cd4-9eec-4a484e4cbf00/dtmf", NULL, INT64_C(1620246660481881)},
    {"seed/playaudioresult-completed.json", "Microsoft.Communication.PlayAudioResult",
     "511f3600-401f-4296-b6d0-b8da6f343b00", "2021-05-05T20:38:22.047666Z",
     "callLeg/511f3600-401f-4296-b6d0-b8da6f343b00/playAudio", NULL, INT64_C(1620247102047666)},
    {"seed/playaudioresult-cancelled.json", "Microsoft.Communication.PlayAudioResult",
     "471f3600-4e1f-4cd4-9eec-4a484e4cbf00", "2021-05-05T20:31:01.278907Z",
     "callLeg/471f3600-4e1f-4cd4-9eec-4a484e4cbf00/playAudio", NULL, INT64_C(1620246661278907)},
    {"seed/inviteparticipantresult.json", "Microsoft.Communication.InviteParticipantResult",
     "421f6d00-18fc-4d11-bde6-e5e371494753", "2021-05-05T21:49:52.813839Z",
     "callLeg/421f6d00-18fc-4d11-bde6-e5e371494753/inviteParticipantResult",
     "52154ee2-b2ba-420f-b42f-a69c6101c516", INT64_C(1620251392813839)},
    {"seed/participantsupdated.json", "Microsoft.Communication.ParticipantsUpdated",
     "411f6d00-088a-4ee4-a7bf-c064ac10afeb", "2021-04-16T06:26:37.912154Z",
     "callLeg/411f6d00-088a-4ee4-a7bf-c064ac10afeb/participantsUpdated", NULL,
     INT64_C(1618554397912154)},
};

START_TEST(test_seed)
{
	size_t len, raw_len;
	char *body = load(seed[_i].file, &len);
	const char *raw;
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;

	/* the preview sent no Content-Type we know of: NULL means JSON */
	ck_assert_msg(parse_ct(body, len, NULL, &b, &err) == 0, "%s: %s", seed[_i].file,
	              err.message);
	ck_assert_int_eq(err.status, 0);
	ck_assert_uint_eq(b.n, 1);
	ck_assert_ptr_null(b.synth);
	ev = &b.events[0];
	ck_assert_int_eq(ev->format, CH_FORMAT_PREVIEW);
	ck_assert_str_eq(ch_format_name(ev->format), "preview");
	ck_assert_str_eq(ev->type, seed[_i].type);
	ck_assert_str_eq(ev->call_id, seed[_i].call_id);
	ck_assert_str_eq(ev->time, seed[_i].time);
	ck_assert(ev->time_us == seed[_i].us);
	ck_assert_str_eq(ev->subject, seed[_i].subject);
	ck_assert_ptr_null(ev->source); /* "topic": null */
	if (seed[_i].id != NULL)
		ck_assert_str_eq(ev->id, seed[_i].id);
	else
		ck_assert_ptr_null(ev->id);
	trimmed(body, len, &raw, &raw_len);
	ck_assert_ptr_eq(ev->raw, raw); /* a span of the body, not a copy */
	ck_assert_uint_eq(ev->raw_len, raw_len);
	ck_assert_ptr_eq(ev->json, ch_json_root(b.doc));
	ck_assert_ptr_eq(ev->data, ch_json_get(ev->json, "data"));
	ck_assert_int_eq(ev->data->type, CH_JSON_OBJECT);
	ck_assert(!ev->is_validation);
	ck_assert_ptr_null(ev->validation_code);
	ch_batch_free(&b);
	ck_assert(is_zeroed(&b));
	free(body);
}
END_TEST

START_TEST(test_seed_payloads)
{
	size_t len;
	char *body = load("seed/playaudioresult-cancelled.json", &len);
	struct ch_batch b;
	struct ch_error err;
	const struct ch_json *d;

	ck_assert_int_eq(parse_ct(body, len, "application/json", &b, &err), 0);
	d = b.events[0].data;
	/* data members are looked up case-insensitively: PascalCase arrives */
	ck_assert_str_eq(json_num(d, "ResultInfo.Code"), "400");
	ck_assert_str_eq(json_num(d, "resultInfo.subcode"), "8508");
	ck_assert_str_eq(json_str(d, "ResultInfo.Message"),
	                 "Action falied, the operation was cancelled.");
	ck_assert_str_eq(json_str(d, "Status"), "Completed");
	ck_assert_str_eq(json_str(d, "OperationContext"), "d8aeabf7-47a0-4803-b0cc-6059a708440d");
	ch_batch_free(&b);
	free(body);

	body = load("seed/participantsupdated.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	d = b.events[0].data;
	ck_assert_str_eq(json_str(d, "Participants.1.Identifier.RawId"),
	                 "8:acs:016a7064-0581-40b9-be73-6dde64d69d72_00000009-547e-c56e-71bf-"
	                 "a43a0d002dc1");
	ck_assert_int_eq(ch_json_path(d, "Participants.0.IsMuted")->type, CH_JSON_BOOL);
	ch_batch_free(&b);
	free(body);

	body = load("seed/dtmfreceived.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ck_assert_str_eq(json_num(b.events[0].data, "ToneInfo.SequenceId"), "1");
	ck_assert_str_eq(json_str(b.events[0].data, "ToneInfo.Tone"), "Tone1");
	ch_batch_free(&b);
	free(body);

	/* ConversationId null while Establishing does not disturb anything */
	body = load("seed/calllegstate-establishing.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ck_assert_int_eq(ch_json_get_ci(b.events[0].data, "conversationid")->type, CH_JSON_NULL);
	ch_batch_free(&b);
	free(body);
}
END_TEST

/* ---- Event Grid ---------------------------------------------------------------------- */

START_TEST(test_eventgrid_incomingcall)
{
	size_t len;
	char *body = load("eventgrid/incomingcall.json", &len);
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;

	ck_assert_int_eq(parse_ct(body, len, "application/json; charset=utf-8", &b, &err), 0);
	ck_assert_uint_eq(b.n, 1);
	ev = &b.events[0];
	ck_assert_int_eq(ev->format, CH_FORMAT_EVENTGRID);
	ck_assert_str_eq(ch_format_name(ev->format), "eventgrid");
	ck_assert_str_eq(ev->type, "Microsoft.Communication.IncomingCall");
	ck_assert_str_eq(ev->id, "6f1e2a3b-8c4d-4e5f-9a0b-1c2d3e4f5a6b");
	ck_assert_str_eq(ev->source, TOPIC);
	ck_assert_str_eq(
	    ev->subject,
	    "/caller/4:+15551234567/recipient/"
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-7f3c-86a4-c5c6-9c3a0d00a1b2");
	ck_assert_str_eq(ev->time, "2024-03-14T09:26:53.123456Z");
	ck_assert(ev->time_us == INT64_C(1710408413123456));
	ck_assert_ptr_null(ev->call_id); /* an IncomingCall has no connection yet */
	/* the element inside "[...]", exactly */
	ck_assert_ptr_eq(ev->raw, body + 1);
	ck_assert_uint_eq(ev->raw_len, len - 2);
	ck_assert_str_eq(json_str(ev->data, "from.phoneNumber.value"), "+15551234567");
	ck_assert_str_eq(json_str(ev->data, "callerDisplayName"), "");
	ck_assert(!ev->is_validation);
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_eventgrid_batch)
{
	static const char *const types[] = {"Microsoft.Communication.CallStarted",
	                                    "Microsoft.Communication.CallParticipantAdded",
	                                    "Microsoft.Communication.CallEnded"};
	static const char *const ids[] = {"0c5a8e2f-1b3d-4f6a-8c9e-2d4f6a8c0e1b",
	                                  "a4d7c1e9-5f2b-4a8d-b3c6-7e9f1a2b4c5d",
	                                  "e9b3f6a1-2c4d-4e8f-a7b9-3d5e7f9a1c2e"};
	static const char *const times[] = {"2024-03-14T09:27:01.456789Z",
	                                    "2024-03-14T09:27:02.010101Z",
	                                    "2024-03-14T09:27:50.560000Z"};
	size_t len;
	char *body = load("eventgrid/call-batch.json", &len);
	struct ch_batch b;
	struct ch_error err;
	char needle[64];

	ck_assert_int_eq(parse_ct(body, len, "application/json", &b, &err), 0);
	ck_assert_uint_eq(b.n, 3);
	for (size_t i = 0; i < 3; i++) {
		const struct ch_parsed_event *ev = &b.events[i];

		ck_assert_int_eq(ev->format, CH_FORMAT_EVENTGRID);
		ck_assert_str_eq(ev->type, types[i]);
		ck_assert_str_eq(ev->id, ids[i]);
		ck_assert_str_eq(ev->time, times[i]);
		ck_assert_str_eq(ev->source, TOPIC);
		ck_assert_ptr_null(ev->call_id);
		/* raw is the element's own object, within the body */
		ck_assert(ev->raw > body && ev->raw + ev->raw_len < body + len);
		ck_assert_int_eq(ev->raw[0], '{');
		ck_assert_int_eq(ev->raw[ev->raw_len - 1], '}');
		snprintf(needle, sizeof(needle), "\"id\": \"%s\"", ids[i]);
		ck_assert_ptr_nonnull(memmem(ev->raw, ev->raw_len, needle, strlen(needle)));
		for (size_t k = 0; k < i; k++) {
			ck_assert(b.events[k].raw + b.events[k].raw_len < ev->raw);
			ck_assert(memcmp(b.events[k].dedupe_key, ev->dedupe_key, 32) != 0);
		}
	}
	ck_assert_str_eq(json_num(b.events[2].data, "callDurationInSeconds"), "49.1038");
	ck_assert_str_eq(json_str(b.events[1].data, "user.role"), "Attendee");
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_eventgrid_validation)
{
	size_t len;
	char *body = load("eventgrid/subscription-validation.json", &len);
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;

	ck_assert_int_eq(parse_ct(body, len, "application/json", &b, &err), 0);
	ck_assert_uint_eq(b.n, 1);
	ev = &b.events[0];
	ck_assert_int_eq(ev->format, CH_FORMAT_EVENTGRID);
	ck_assert_str_eq(ev->type, "Microsoft.EventGrid.SubscriptionValidationEvent");
	ck_assert(ev->is_validation);
	ck_assert_str_eq(ev->validation_code, "512d38b6-c7b8-40c8-89fe-f46f9e9622b6");
	ck_assert_str_eq(ev->subject, ""); /* empty, not absent */
	ck_assert_str_eq(ev->time, "2024-03-14T09:20:11.001234Z");
	ck_assert_ptr_nonnull(strstr(json_str(ev->data, "validationUrl"), ":553/"));
	ch_batch_free(&b);
	free(body);

	/* a validation event without its code cannot be answered */
	expect_fail_str(
	    "[{\"id\":\"1\",\"topic\":\"t\",\"subject\":\"\",\"data\":{\"validationUrl\":"
	    "\"https://x\"},\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
	    "\"eventTime\":\"2024-03-14T09:20:11Z\",\"metadataVersion\":\"1\","
	    "\"dataVersion\":\"1\"}]",
	    400, "InvalidEvent", "event 0: field \"data.validationCode\": missing");
	expect_fail_str(
	    "[{\"id\":\"1\",\"topic\":\"t\",\"subject\":\"\",\"data\":{\"validationCode\":"
	    "\"\"},\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
	    "\"eventTime\":\"2024-03-14T09:20:11Z\",\"metadataVersion\":\"1\"}]",
	    400, "InvalidEvent", "event 0: field \"data.validationCode\": empty");
}
END_TEST

START_TEST(test_eventgrid_dataversion_empty)
{
	size_t len;
	char *body = load("eventgrid/recording-dataversion-empty.json", &len);
	struct ch_batch b;
	struct ch_error err;

	ck_assert_msg(parse_ct(body, len, "application/json", &b, &err) == 0, "%s", err.message);
	ck_assert_int_eq(b.events[0].format, CH_FORMAT_EVENTGRID);
	ck_assert_str_eq(b.events[0].type, "Microsoft.Communication.RecordingFileStatusUpdated");
	ck_assert_str_eq(json_str(b.events[0].json, "dataVersion"), "");
	ck_assert_str_eq(json_num(b.events[0].data, "recordingDurationMs"), "44851");
	ch_batch_free(&b);
	free(body);
}
END_TEST

/* FORMATS.md step 4: topic null/absent and (callLeg/ subject or no metadataVersion). */
START_TEST(test_detection)
{
	static const struct {
		const char *json;
		enum ch_format format;
	} cases[] = {
	    {"{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{}}",
	     CH_FORMAT_PREVIEW},
	    {"{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{},"
	     "\"topic\":null,\"metadataVersion\":\"1\",\"subject\":\"callLeg/x/dtmf\"}",
	     CH_FORMAT_PREVIEW},
	    {"{\"id\":\"i\",\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{},"
	     "\"topic\":null,\"metadataVersion\":\"1\",\"subject\":\"call/x\"}",
	     CH_FORMAT_EVENTGRID},
	    {"{\"id\":\"i\",\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{},"
	     "\"topic\":\"/t\",\"subject\":\"callLeg/x/dtmf\"}",
	     CH_FORMAT_EVENTGRID},
	    {"{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\",\"eventType\":"
	     "\"X\"}",
	     CH_FORMAT_CLOUDEVENTS},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ch_batch b;
		struct ch_error err;

		ck_assert_msg(parse_str(cases[i].json, &b, &err) == 0, "%zu: %s", i, err.message);
		ck_assert_msg(b.events[0].format == cases[i].format, "case %zu", i);
		ch_batch_free(&b);
	}
	/* Event Grid requires an id; the preview does not */
	expect_fail_str("{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{},"
	                "\"topic\":\"/t\"}",
	                400, "InvalidEvent", "event 0: field \"id\": missing");
	expect_fail_str("{\"id\":\"\",\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\","
	                "\"data\":{}}",
	                400, "InvalidEvent", "event 0: field \"id\": empty");
	expect_fail_str("{\"type\":\"T\",\"id\":\"i\",\"source\":\"s\"}", 400, "InvalidEvent",
	                "event 0: missing \"specversion\"");
	expect_fail_str(
	    "[{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\"},"
	    "{\"EventType\":\"T\"}]",
	    400, "InvalidEvent",
	    "event 1: no \"eventType\" (Event Grid/preview) or \"type\"+\"specversion\" "
	    "(CloudEvents) member");
	expect_fail_str(
	    "[{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\"},"
	    "{\"specversion\":\"1.0\",\"id\":\"j\",\"source\":\"s\",\"type\":\"T\"},42]",
	    400, "InvalidEvent", "event 2: not a JSON object");
	expect_fail_str("[[]]", 400, "InvalidEvent", "event 0: not a JSON object");
}
END_TEST

/* ---- CloudEvents ----------------------------------------------------------------------- */

static const struct {
	const char *file, *type, *call_id, *time, *id;
	int64_t us;
} ce_files[] = {
    {"cloudevents/callconnected.json", "Microsoft.Communication.CallConnected", CC1,
     "2025-06-16T20:52:32.989664Z", "7d0c5f2a-1e4b-4a9c-8f3d-6b2e9a1c4d70",
     INT64_C(1750107152989664)},
    {"cloudevents/calldisconnected.json", "Microsoft.Communication.CallDisconnected", CC1,
     "2025-06-16T20:53:42.569117Z", "f3a8b2c1-6d4e-4f9a-b7c0-2e5d8a1f3b64",
     INT64_C(1750107222569117)},
    {"cloudevents/participantsupdated.json", "Microsoft.Communication.ParticipantsUpdated", CC1,
     "2025-06-16T20:52:35.102141Z", "9b6e3d1f-8a2c-4e7b-a5d9-1c3f6e8b0a24",
     INT64_C(1750107155102141)},
    {"cloudevents/playcompleted.json", "Microsoft.Communication.PlayCompleted", CC1,
     "2025-06-16T20:52:41.707070Z", "c5d2a9e7-3f1b-4c8d-9e6a-7b4c1d8e5f30",
     INT64_C(1750107161707070)},
    {"cloudevents/playfailed.json", "Microsoft.Communication.PlayFailed", CC1,
     "2025-06-16T20:52:44.200000Z", "1e8f5c3a-9b7d-4a2e-8c6f-3d1b9e7a5c42",
     INT64_C(1750107164200000)},
    {"cloudevents/addparticipantsucceeded.json", "Microsoft.Communication.AddParticipantSucceeded",
     CC1, "2025-06-16T20:52:38.330000Z", "4a7c1e9b-2d5f-4b8a-9c3e-6f0d2a4c8e13",
     INT64_C(1750107158330000)},
    {"cloudevents/unknown-type.json", "Microsoft.Communication.HoldAudioStarted", CC1,
     "2025-06-16T20:52:50.505050Z", "3e7b1d5a-9c2f-4e8b-a4d6-1f5c9e3b7a28",
     INT64_C(1750107170505050)},
    {"cloudevents/callconnected-2022.json", "Microsoft.Communication.CallConnected",
     "401f7100-3a5d-4b7e-9c1f-2d8e6a4b0c97", "2022-08-23T17:43:12.421158Z",
     "5f2c8a6e-3b9d-4f1a-8e7c-4d6b2a9f1c53", INT64_C(1661276592421158)},
};

START_TEST(test_cloudevents_files)
{
	size_t len;
	char *body = load(ce_files[_i].file, &len);
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;
	char source[128];

	ck_assert_msg(parse_ct(body, len, "application/json; charset=utf-8", &b, &err) == 0,
	              "%s: %s", ce_files[_i].file, err.message);
	ck_assert_uint_eq(b.n, 1);
	ev = &b.events[0];
	ck_assert_int_eq(ev->format, CH_FORMAT_CLOUDEVENTS);
	ck_assert_str_eq(ch_format_name(ev->format), "cloudevents");
	ck_assert_str_eq(ev->type, ce_files[_i].type);
	ck_assert_str_eq(ev->id, ce_files[_i].id);
	ck_assert_str_eq(ev->call_id, ce_files[_i].call_id);
	ck_assert_str_eq(ev->time, ce_files[_i].time);
	ck_assert(ev->time_us == ce_files[_i].us);
	snprintf(source, sizeof(source), "calling/callConnections/%s", ce_files[_i].call_id);
	ck_assert_str_eq(ev->source, source);
	ck_assert_ptr_eq(ev->subject, json_str(ev->json, "subject"));
	ck_assert_int_eq(strncmp(ev->subject, source, strlen(source)), 0);
	/* the service posts "[{...}]": raw is the object inside */
	ck_assert_ptr_eq(ev->raw, body + 1);
	ck_assert_uint_eq(ev->raw_len, len - 2);
	ck_assert_ptr_eq(ev->data, ch_json_get(ev->json, "data"));
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_cloudevents_payloads)
{
	size_t len;
	char *body;
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;

	body = load("cloudevents/callconnected.json", &len);
	/* the file really carries the .NET escape; the JSON layer decodes it */
	ck_assert_ptr_nonnull(strstr(body, "\"time\":\"2025-06-16T20:52:32.9896642\\u002B00:00\""));
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ev = &b.events[0];
	ck_assert_str_eq(json_str(ev->json, "time"), "2025-06-16T20:52:32.9896642+00:00");
	ck_assert_str_eq(ev->subject, "calling/callConnections/" CC1);
	ck_assert_str_eq(json_str(ev->data, "publicEventType"),
	                 "Microsoft.Communication.CallConnected");
	ck_assert_str_eq(json_str(ev->data, "version"), "2025-06-15");
	ck_assert_str_eq(json_str(ev->json, "datacontenttype"), "application/json");
	ch_batch_free(&b);
	free(body);

	body = load("cloudevents/playfailed.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ev = &b.events[0];
	ck_assert_str_eq(json_num(ev->data, "resultInformation.code"), "400");
	ck_assert_str_eq(json_num(ev->data, "resultInformation.subCode"), "8535");
	ck_assert_str_eq(json_str(ev->data, "resultInformation.message"),
	                 "Action failed, file format is invalid. DiagCode: 0#8535.@");
	ck_assert_str_eq(json_str(ev->data, "operationContext"), "hold-music");
	ch_batch_free(&b);
	free(body);

	body = load("cloudevents/participantsupdated.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ev = &b.events[0];
	ck_assert_str_eq(json_num(ev->data, "sequenceNumber"), "3");
	ck_assert_str_eq(
	    json_str(ev->data, "participants.1.identifier.rawId"),
	    "8:acs:b6aada1f-0b1d-47ac-866f-91aae00a1d01_00000021-7f3c-9b10-f40f-343a0d00c3d4");
	ck_assert_str_eq(json_str(ev->data, "participants.0.identifier.kind"), "communicationUser");
	ck_assert_int_eq(ch_json_path(ev->data, "participants.0.isMuted")->type, CH_JSON_BOOL);
	ck_assert(!ch_json_path(ev->data, "participants.0.isMuted")->u.boolean);
	ch_batch_free(&b);
	free(body);

	body = load("cloudevents/callconnected-2022.json", &len);
	ck_assert_int_eq(parse_ct(body, len, NULL, &b, &err), 0);
	ck_assert_str_eq(b.events[0].subject,
	                 "calling/callConnections/401f7100-3a5d-4b7e-9c1f-2d8e6a4b0c97/callState");
	ck_assert_str_eq(json_str(b.events[0].data, "type"), "callConnected");
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_cloudevents_structured_and_batch)
{
	size_t len, raw_len;
	char *body = load("cloudevents/structured-single.json", &len);
	const char *raw;
	struct ch_batch b;
	struct ch_error err;

	ck_assert_int_eq(
	    parse_ct(body, len, "application/cloudevents+json; charset=UTF-8", &b, &err), 0);
	ck_assert_uint_eq(b.n, 1);
	ck_assert_int_eq(b.events[0].format, CH_FORMAT_CLOUDEVENTS);
	ck_assert_str_eq(b.events[0].id, "6c3f9a1d-4e7b-4d2a-8f5c-0b9e2d7a4c61");
	ck_assert_str_eq(b.events[0].call_id, CC2);
	ck_assert_str_eq(b.events[0].time, "2025-06-16T21:04:10.123456Z");
	trimmed(body, len, &raw, &raw_len);
	ck_assert_ptr_eq(b.events[0].raw, raw);
	ck_assert_uint_eq(b.events[0].raw_len, raw_len);
	ch_batch_free(&b);
	free(body);

	body = load("cloudevents/batch.json", &len);
	ck_assert_int_eq(parse_ct(body, len, "application/cloudevents-batch+json", &b, &err), 0);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_str_eq(b.events[0].type, "Microsoft.Communication.CallConnected");
	ck_assert_str_eq(b.events[1].type, "Microsoft.Communication.ParticipantsUpdated");
	ck_assert_str_eq(b.events[2].type, "Microsoft.Communication.CallDisconnected");
	ck_assert_str_eq(b.events[2].time, "2025-06-16T21:05:00.999999Z");
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(b.events[i].call_id, CC2);
		ck_assert_int_eq(b.events[i].raw[0], '{');
		ck_assert_int_eq(b.events[i].raw[b.events[i].raw_len - 1], '}');
	}
	/* each element sits on its own line in this file */
	ck_assert_ptr_eq(b.events[0].raw, body + 2);
	ck_assert_int_eq(b.events[0].raw[b.events[0].raw_len], ',');
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_cloudevents_rules)
{
	struct ch_batch b;
	struct ch_error err;

	/* minimal: no time, no subject, no data */
	ck_assert_int_eq(parse_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
	                           "\"type\":\"T\",\"subject\":null}",
	                           &b, &err),
	                 0);
	ck_assert_ptr_null(b.events[0].time);
	ck_assert(b.events[0].time_us == 0);
	ck_assert_ptr_null(b.events[0].subject);
	ck_assert_ptr_null(b.events[0].data);
	ck_assert_ptr_null(b.events[0].call_id);
	ch_batch_free(&b);

	/* data may be any JSON value; a null data is absent */
	ck_assert_int_eq(parse_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
	                           "\"type\":\"T\",\"data\":\"plain\"}",
	                           &b, &err),
	                 0);
	ck_assert_int_eq(b.events[0].data->type, CH_JSON_STRING);
	ch_batch_free(&b);
	ck_assert_int_eq(parse_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\","
	                           "\"type\":\"T\",\"data\":null,\"data_base64\":\"aGk=\"}",
	                           &b, &err),
	                 0);
	ck_assert_ptr_null(b.events[0].data);
	ch_batch_free(&b);

	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	                "\"data\":{},\"data_base64\":\"aGk=\"}",
	                400, "InvalidEvent",
	                "event 0: fields \"data\" and \"data_base64\" are exclusive");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	                "\"data_base64\":7}",
	                400, "InvalidEvent",
	                "event 0: field \"data_base64\": must be a string, not a number");
	expect_fail_str("{\"specversion\":1.0,\"id\":\"i\",\"source\":\"s\",\"type\":\"T\"}", 400,
	                "InvalidEvent",
	                "event 0: field \"specversion\": must be the string \"1.0\", not a number");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"\",\"type\":\"T\"}",
	                400, "InvalidEvent", "event 0: field \"source\": empty");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":null,\"source\":\"s\",\"type\":\"T\"}",
	                400, "InvalidEvent", "event 0: field \"id\": missing");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"\"}",
	                400, "InvalidEvent", "event 0: field \"type\": empty");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"A B\"}",
	                400, "InvalidEvent", "event 0: field \"type\": contains a space (\"A B\")");
	expect_fail_str(
	    "{\"specversion\":\"1.0\",\"id\":\"i\\u0001\",\"source\":\"s\",\"type\":\"T\"}", 400,
	    "InvalidEvent", "event 0: field \"id\": contains a control character (\"i?\")");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	                "\"subject\":5}",
	                400, "InvalidEvent",
	                "event 0: field \"subject\": must be a string, not a number");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	                "\"time\":\"2025-06-16\"}",
	                400, "InvalidEvent",
	                "event 0: field \"time\": not an RFC 3339 date-time (\"2025-06-16\")");
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	                "\"datacontenttype\":[]}",
	                400, "InvalidEvent",
	                "event 0: field \"datacontenttype\": must be a string, not an array");
	/* a repeated envelope member would make the dedupe key ambiguous */
	expect_fail_str("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\",\"type\":\"T\","
	                "\"id\":\"b\"}",
	                400, "InvalidEvent", "event 0: member \"id\" appears more than once");
	/* ... but data members may repeat (the JSON layer keeps the first) */
	ck_assert_int_eq(parse_str("{\"specversion\":\"1.0\",\"id\":\"a\",\"source\":\"s\","
	                           "\"type\":\"T\",\"data\":{\"x\":1,\"x\":2}}",
	                           &b, &err),
	                 0);
	ch_batch_free(&b);
	/* a key with an embedded NUL is not "id" */
	expect_fail_str(
	    "{\"specversion\":\"1.0\",\"id\\u0000x\":\"a\",\"source\":\"s\",\"type\":\"T\"}", 400,
	    "InvalidEvent", "event 0: field \"id\": missing");
}
END_TEST

START_TEST(test_field_limits)
{
	struct ch_envelope_limits lim = {0, 0, 8, 4};
	const struct ch_envelope_input in = {"application/json", NULL, 0};
	struct ch_batch b;
	struct ch_error err;
	const char *ok =
	    "{\"specversion\":\"1.0\",\"id\":\"12345678\",\"source\":\"s\",\"type\":\"ABCD\","
	    "\"data\":{\"callConnectionId\":\"12345678\"}}";
	const char *long_type =
	    "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"ABCDE\"}";
	const char *long_call =
	    "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	    "\"data\":{\"CALLCONNECTIONID\":\"123456789\"}}";
	const char *long_subject =
	    "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"s\",\"type\":\"T\","
	    "\"subject\":\"123456789\"}";

	ck_assert_int_eq(ch_envelope_parse(ok, strlen(ok), &in, &lim, &b, &err), 0);
	ck_assert_str_eq(b.events[0].call_id, "12345678");
	ch_batch_free(&b);
	ck_assert_int_eq(ch_envelope_parse(long_type, strlen(long_type), &in, &lim, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: field \"type\": longer than 4 bytes (\"ABCDE\")");
	ck_assert_int_eq(ch_envelope_parse(long_call, strlen(long_call), &in, &lim, &b, &err), -1);
	ck_assert_str_eq(
	    err.message,
	    "event 0: field \"data.callConnectionId\": longer than 8 bytes (\"123456789\")");
	ck_assert_int_eq(ch_envelope_parse(long_subject, strlen(long_subject), &in, &lim, &b, &err),
	                 -1);
	ck_assert_str_eq(err.message,
	                 "event 0: field \"subject\": longer than 8 bytes (\"123456789\")");
	ck_assert(is_zeroed(&b));

	/* CallLegId wins over callConnectionId; a non-string one is skipped */
	ck_assert_int_eq(parse_str("{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\","
	                           "\"data\":{\"callConnectionId\":\"b\",\"CallLegId\":\"a\"}}",
	                           &b, &err),
	                 0);
	ck_assert_str_eq(b.events[0].call_id, "a");
	ch_batch_free(&b);
	ck_assert_int_eq(parse_str("{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\","
	                           "\"data\":{\"callConnectionId\":\"b\",\"CallLegId\":null}}",
	                           &b, &err),
	                 0);
	ck_assert_str_eq(b.events[0].call_id, "b");
	ch_batch_free(&b);
	ck_assert_int_eq(parse_str("{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\","
	                           "\"data\":{\"callConnectionId\":\"\"}}",
	                           &b, &err),
	                 0);
	ck_assert_ptr_null(b.events[0].call_id);
	ch_batch_free(&b);
}
END_TEST

/* ---- CloudEvents binary mode ------------------------------------------------------------ */

static int parse_binary(const char *body, const char *ct, const struct ch_header *h, size_t n,
                        struct ch_batch *b, struct ch_error *err)
{
	const struct ch_envelope_input in = {ct, h, n};

	return ch_envelope_parse(body, strlen(body), &in, NULL, b, err);
}

START_TEST(test_binary_json)
{
	const struct ch_header h[] = {
	    {"Host", "hooks.example.com"},
	    {"CE-SpecVersion", "1.0"},
	    {"ce-id", "9f2e4c1a-7b3d-4e8f-a6c2-1d5b9e3f7a08"},
	    {"ce-source", "calling/callConnections/" CC1},
	    {"ce-type", "Microsoft.Communication.CallConnected"},
	    {"ce-time", "2025-06-16T20:52:32.9896642+00:00"},
	    {"ce-subject", "calling/callConnections/" CC1},
	    {"ce-TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	    {"Content-Length", "64"},
	};
	const char *body = " {\"callConnectionId\":\"" CC1 "\",\"n\":[1,2]}\n";
	struct ch_batch b;
	struct ch_error err;
	const struct ch_parsed_event *ev;

	ck_assert_msg(parse_binary(body, "application/json; charset=utf-8", h, 9, &b, &err) == 0,
	              "%s", err.message);
	ck_assert_uint_eq(b.n, 1);
	ck_assert_ptr_nonnull(b.synth);
	ck_assert_str_eq(
	    b.synth, "{\"specversion\":\"1.0\",\"id\":\"9f2e4c1a-7b3d-4e8f-a6c2-1d5b9e3f7a08\","
	             "\"source\":\"calling/callConnections/" CC1 "\","
	             "\"type\":\"Microsoft.Communication.CallConnected\","
	             "\"subject\":\"calling/callConnections/" CC1 "\","
	             "\"time\":\"2025-06-16T20:52:32.9896642+00:00\","
	             "\"datacontenttype\":\"application/json; charset=utf-8\","
	             "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\","
	             "\"data\": {\"callConnectionId\":\"" CC1 "\",\"n\":[1,2]}\n}");
	ev = &b.events[0];
	ck_assert_int_eq(ev->format, CH_FORMAT_CLOUDEVENTS);
	ck_assert_ptr_eq(ev->raw, b.synth);
	ck_assert_uint_eq(ev->raw_len, strlen(b.synth));
	ck_assert_str_eq(ev->id, "9f2e4c1a-7b3d-4e8f-a6c2-1d5b9e3f7a08");
	ck_assert_str_eq(ev->source, "calling/callConnections/" CC1);
	ck_assert_str_eq(ev->type, "Microsoft.Communication.CallConnected");
	ck_assert_str_eq(ev->time, "2025-06-16T20:52:32.989664Z");
	ck_assert_str_eq(ev->call_id, CC1);
	ck_assert_ptr_nonnull(ev->json);
	ck_assert_int_eq(ev->data->type, CH_JSON_OBJECT);
	ck_assert_str_eq(json_num(ev->data, "n.1"), "2");
	ck_assert_str_eq(json_str(ev->json, "traceparent"),
	                 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
	ch_batch_free(&b);
	ck_assert(is_zeroed(&b));
}
END_TEST

START_TEST(test_binary_text_and_empty)
{
	const struct ch_header h[] = {
	    {"ce-specversion", "1.0"},
	    {"ce-id", "a1"},
	    {"ce-source", "/sensors/7"},
	    {"ce-type", "com.example.reading"},
	};
	struct ch_batch b;
	struct ch_error err;

	ck_assert_int_eq(parse_binary("hello, world", "text/plain; charset=latin1", h, 4, &b, &err),
	                 0);
	ck_assert_str_eq(b.synth,
	                 "{\"specversion\":\"1.0\",\"id\":\"a1\",\"source\":\"/sensors/7\","
	                 "\"type\":\"com.example.reading\","
	                 "\"datacontenttype\":\"text/plain; charset=latin1\","
	                 "\"data_base64\":\"aGVsbG8sIHdvcmxk\"}");
	ck_assert_ptr_null(b.events[0].data); /* not JSON data */
	ck_assert_str_eq(json_str(b.events[0].json, "data_base64"), "aGVsbG8sIHdvcmxk");
	ck_assert_ptr_null(b.events[0].time);
	ch_batch_free(&b);

	/* an empty body means no data, and then no datacontenttype either */
	ck_assert_int_eq(parse_binary("", "application/json", h, 4, &b, &err), 0);
	ck_assert_str_eq(b.synth,
	                 "{\"specversion\":\"1.0\",\"id\":\"a1\",\"source\":\"/sensors/7\","
	                 "\"type\":\"com.example.reading\"}");
	ck_assert_ptr_null(b.events[0].data);
	ch_batch_free(&b);

	/* no Content-Type: the body is taken as JSON */
	ck_assert_int_eq(parse_binary("[1,2]", NULL, h, 4, &b, &err), 0);
	ck_assert_str_eq(b.synth,
	                 "{\"specversion\":\"1.0\",\"id\":\"a1\",\"source\":\"/sensors/7\","
	                 "\"type\":\"com.example.reading\",\"data\":[1,2]}");
	ck_assert_int_eq(b.events[0].data->type, CH_JSON_ARRAY);
	ch_batch_free(&b);
}
END_TEST

START_TEST(test_binary_decoding)
{
	struct ch_header h[] = {
	    {"ce-specversion", " 1.0 "},
	    {"ce-id", "\"quoted \\\"id\\\"\""},
	    {"ce-source", "/a%2Fb%zz%4"},
	    {"ce-type", "T"},
	    {"ce-subject", "Euro%20%E2%82%AC%20%f0%9f%98%80"},
	};
	struct ch_batch b;
	struct ch_error err;

	ck_assert_msg(parse_binary("", NULL, h, 5, &b, &err) == 0, "%s", err.message);
	ck_assert_str_eq(b.events[0].id, "quoted \"id\"");
	ck_assert_str_eq(b.events[0].source, "/a/b%zz%4"); /* stray '%' kept literally */
	ck_assert_str_eq(b.events[0].subject, "Euro \xe2\x82\xac \xf0\x9f\x98\x80");
	ch_batch_free(&b);

	h[4].value = "%C0%A0"; /* overlong U+0020: binding 3.1.3.2 says reject */
	ck_assert_int_eq(parse_binary("", NULL, h, 5, &b, &err), -1);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.message, "event 0: header \"ce-subject\": not valid UTF-8 once "
	                              "percent-decoded");
	h[4].value = "a%0Ab";
	ck_assert_int_eq(parse_binary("", NULL, h, 5, &b, &err), -1);
	ck_assert_str_eq(err.message,
	                 "event 0: header \"ce-subject\": contains a control character");
	ck_assert(is_zeroed(&b));
}
END_TEST

START_TEST(test_binary_errors)
{
	struct ch_header h[] = {
	    {"ce-specversion", "1.0"}, {"ce-id", "a1"},  {"ce-source", "/s"},
	    {"ce-type", "T"},          {"x-other", "1"}, {"x-other2", "2"},
	};
	struct ch_batch b;
	struct ch_error err;

	/* missing ce-id: drop it by overwriting with a non-ce header */
	h[1].name = "x-id";
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.code, "InvalidEvent");
	ck_assert_str_eq(err.message, "event 0: header \"ce-id\": missing");
	ck_assert(is_zeroed(&b));
	h[1].name = "ce-id";

	h[0].value = "0.3";
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(
	    err.message,
	    "event 0: header \"ce-specversion\": unsupported value \"0.3\" (only \"1.0\")");
	h[0].value = "1.0";

	h[4] = (struct ch_header){"ce-time", "2025-06-31T00:00:00Z"};
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: header \"ce-time\": not an RFC 3339 date-time "
	                              "(\"2025-06-31T00:00:00Z\")");

	h[4] = (struct ch_header){"ce-my-extension", "x"};
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: header \"ce-my-extension\": not a CloudEvents "
	                              "attribute name (only a-z and 0-9)");

	h[4] = (struct ch_header){"CE-ID", "a2"};
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: header \"CE-ID\": repeated");

	h[4] = (struct ch_header){"ce-datacontenttype", "application/json"};
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: header \"ce-datacontenttype\": not allowed in "
	                              "binary mode");

	h[4] = (struct ch_header){"x-other", "1"};
	ck_assert_int_eq(parse_binary("{\"a\":", "application/json", h, 6, &b, &err), -1);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.code, "InvalidJson");

	ck_assert_int_eq(parse_binary("{}", "application/json; charset=latin1", h, 6, &b, &err),
	                 -1);
	ck_assert_int_eq(err.status, 415);
	ck_assert_str_eq(err.code, "UnsupportedMediaType");

	h[3].value = "has space";
	ck_assert_int_eq(parse_binary("{}", "application/json", h, 6, &b, &err), -1);
	ck_assert_str_eq(err.message, "event 0: field \"type\": contains a space (\"has space\")");
	ck_assert(is_zeroed(&b));
}
END_TEST

/* application/cloudevents* is structured mode: ce-* headers are ignored. */
START_TEST(test_binary_headers_with_structured_type)
{
	const struct ch_header h[] = {
	    {"ce-specversion", "1.0"}, {"ce-id", "other"}, {"ce-source", "/s"}, {"ce-type", "T"}};
	size_t len;
	char *body = load("cloudevents/structured-single.json", &len);
	const struct ch_envelope_input in = {"application/cloudevents+json", h, 4};
	struct ch_batch b;
	struct ch_error err;

	ck_assert_int_eq(ch_envelope_parse(body, len, &in, NULL, &b, &err), 0);
	ck_assert_ptr_null(b.synth);
	ck_assert_str_eq(b.events[0].id, "6c3f9a1d-4e7b-4d2a-8f5c-0b9e2d7a4c61");
	ch_batch_free(&b);
	free(body);
}
END_TEST

/* ---- content types -------------------------------------------------------------------- */

START_TEST(test_content_types)
{
	static const char *const ok[] = {
	    "application/json",
	    "Application/JSON",
	    "application/json; charset=utf-8",
	    "application/json;charset=UTF-8",
	    "application/json; charset=\"utf-8\"",
	    "application/json ; foo=bar; charset=Utf-8",
	    "text/json",
	    "application/cloudevents+json",
	    "application/cloudevents-batch+json; charset=utf-8",
	    "application/vnd.contoso.events+json",
	};
	const char *body =
	    "{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{}}";

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct ch_batch b;
		struct ch_error err;

		ck_assert_msg(parse_ct(body, strlen(body), ok[i], &b, &err) == 0, "%s: %s", ok[i],
		              err.message);
		ch_batch_free(&b);
	}
	expect_fail(body, strlen(body), "text/plain", 415, "UnsupportedMediaType",
	            "content type \"text/plain\" is not supported");
	expect_fail(body, strlen(body), "application/json; charset=latin1", 415,
	            "UnsupportedMediaType", "charset \"latin1\" is not supported");
	expect_fail(body, strlen(body), "application/json; charset=\"utf-16\"", 415,
	            "UnsupportedMediaType", "charset \"utf-16\"");
	expect_fail(body, strlen(body), "application/cloudevents+avro", 415, "UnsupportedMediaType",
	            "application/cloudevents+avro");
	expect_fail(body, strlen(body), "application/x-www-form-urlencoded", 415,
	            "UnsupportedMediaType", NULL);
	expect_fail(body, strlen(body), "json", 415, "UnsupportedMediaType", "\"json\"");
	expect_fail(body, strlen(body), "", 415, "UnsupportedMediaType", NULL);
	expect_fail(body, strlen(body), "application/json; charset", 415, "UnsupportedMediaType",
	            NULL);
	/* the quoted type is bounded and made printable */
	expect_fail(body, strlen(body),
	            "text/\x01plain-and-a-very-long-subtype-name-that-goes-on-and-on-and-on", 415,
	            "UnsupportedMediaType", "\"text/?plain-and-a-very-long-subtype-name...\"");
}
END_TEST

/* ---- malformed fixtures ------------------------------------------------------------------ */

static const struct {
	const char *file;
	int status;
	const char *code, *message; /* message: a substring, or NULL */
} malformed[] = {
    {"malformed/truncated.json", 400, "InvalidJson", "invalid JSON at byte"},
    {"malformed/trailing-comma.json", 400, "InvalidJson", "invalid JSON at byte"},
    {"malformed/arrows.json", 400, "InvalidJson", "invalid JSON at byte"},
    {"malformed/eventtype-number.json", 400, "InvalidEvent",
     "event 0: field \"eventType\": must be a string, not a number"},
    {"malformed/data-string.json", 400, "InvalidEvent",
     "event 0: field \"data\": must be an object, not a string"},
    {"malformed/preview-data-null.json", 400, "InvalidEvent",
     "event 0: field \"data\": must be an object, not null"},
    {"malformed/missing-eventtime.json", 400, "InvalidEvent",
     "event 0: field \"eventTime\": missing"},
    {"malformed/bad-eventtime.json", 400, "InvalidEvent",
     "event 0: field \"eventTime\": not an RFC 3339 date-time (\"2021-13-05T20:08:39.0157964Z\")"},
    {"malformed/empty-array.json", 400, "EmptyBatch", "the event array is empty"},
    {"malformed/scalar.json", 400, "InvalidEnvelope",
     "body must be a JSON object or array of events, not a number"},
    {"malformed/string.json", 400, "InvalidEnvelope",
     "body must be a JSON object or array of events, not a string"},
    {"malformed/nested-200.json", 400, "TooDeep", "nested deeper than 64 levels"},
    {"malformed/invalid-utf8.json", 400, "InvalidUtf8", "invalid UTF-8"},
    {"malformed/empty.json", 400, "EmptyBody", NULL},
    {"malformed/specversion-0.3.json", 400, "InvalidEvent",
     "event 0: field \"specversion\": unsupported value \"0.3\" (only \"1.0\")"},
    {"malformed/cloudevent-no-source.json", 400, "InvalidEvent",
     "event 0: field \"source\": missing"},
    {"malformed/mixed-batch.json", 400, "InvalidEvent",
     "event 1: field \"time\": not an RFC 3339 date-time (\"yesterday at noon\")"},
    {"malformed/long-id.json", 400, "InvalidEvent",
     "event 0: field \"id\": longer than 1024 bytes "
     "(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\")"},
};

START_TEST(test_malformed)
{
	size_t len;
	char *body = load(malformed[_i].file, &len);
	struct ch_batch b;
	struct ch_error err;

	memset(&b, 0x5A, sizeof(b));
	ck_assert_msg(parse_ct(body, len, "application/json", &b, &err) == -1, "%s accepted",
	              malformed[_i].file);
	ck_assert_msg(is_zeroed(&b), "%s: batch not zeroed", malformed[_i].file);
	ck_assert_msg(err.status == malformed[_i].status, "%s: status %d (%s)", malformed[_i].file,
	              err.status, err.message);
	ck_assert_msg(strcmp(err.code, malformed[_i].code) == 0, "%s: code %s (%s)",
	              malformed[_i].file, err.code, err.message);
	if (malformed[_i].message != NULL)
		ck_assert_msg(strstr(err.message, malformed[_i].message) != NULL,
		              "%s: message \"%s\"", malformed[_i].file, err.message);
	ch_batch_free(&b);
	free(body);
}
END_TEST

START_TEST(test_too_many_events)
{
	struct ch_envelope_limits lim = {64, 2, 1024, 256};
	const struct ch_envelope_input in = {"application/json", NULL, 0};
	size_t len;
	char *body = load("eventgrid/call-batch.json", &len);
	struct ch_batch b;
	struct ch_error err;

	ck_assert_int_eq(ch_envelope_parse(body, len, &in, &lim, &b, &err), -1);
	ck_assert_int_eq(err.status, 413);
	ck_assert_str_eq(err.code, "TooManyEvents");
	ck_assert_str_eq(err.message, "3 events in one body; the limit is 2");
	ck_assert(is_zeroed(&b));
	lim.max_events = 3;
	ck_assert_int_eq(ch_envelope_parse(body, len, &in, &lim, &b, &err), 0);
	ck_assert_uint_eq(b.n, 3);
	ch_batch_free(&b);

	/* the JSON depth limit comes from the envelope limits */
	lim.max_depth = 3;
	ck_assert_int_eq(ch_envelope_parse(body, len, &in, &lim, &b, &err), -1);
	ck_assert_str_eq(err.code, "TooDeep");
	free(body);
}
END_TEST

/* ---- dedupe keys -------------------------------------------------------------------------- */

static void key_of(const char *body, size_t len, size_t index, uint8_t key[32])
{
	struct ch_batch b;
	struct ch_error err;

	ck_assert_msg(parse_ct(body, len, NULL, &b, &err) == 0, "%s", err.message);
	ck_assert_uint_gt(b.n, index);
	memcpy(key, b.events[index].dedupe_key, 32);
	ch_batch_free(&b);
}

/* Replace the first occurrence of from with to; the caller frees. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *out;

	ck_assert_ptr_nonnull(at);
	out = malloc(n + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, s, (size_t)(at - s));
	strcpy(out + (at - s), to);
	strcat(out, at + strlen(from));
	return out;
}

static void sha256(const void *a, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	ck_assert_int_eq(EVP_Digest(a, n, out, &len, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(len, 32);
}

START_TEST(test_dedupe_keys)
{
	uint8_t k1[32], k2[32], want[32];
	size_t len;
	char *ce = load("cloudevents/callconnected.json", &len);
	char *ce_other_time = replace(ce, "20:52:32.9896642", "20:52:33.0000000");
	char *ce_other_id = replace(ce, "7d0c5f2a-1e4b", "7d0c5f2a-1e4c");
	char *seed_a = load("seed/calllegstate-establishing.json", &len);
	char *seed_b = load("seed/calllegstate-establishing.json", &len);
	char *seed_c = load("seed/calllegstate-established.json", &len);
	char *seed_ws = replace(seed_a, "\"id\": null", "\"id\":null");
	char *eg = load("eventgrid/incomingcall.json", &len);
	char *eg_other_bytes =
	    replace(eg, "\"callerDisplayName\":\"\"", "\"callerDisplayName\":\"x\"");
	char *two = malloc(2 * strlen(seed_a) + 4);
	static const char ce_want[] =
	    "ce\0calling/callConnections/" CC1 "\0007d0c5f2a-1e4b-4a9c-8f3d-6b2e9a1c4d70";
	static const char eg_want[] = "eg\0" TOPIC "\0006f1e2a3b-8c4d-4e5f-9a0b-1c2d3e4f5a6b";

	/* CloudEvents: source + id, whatever else differs */
	key_of(ce, strlen(ce), 0, k1);
	key_of(ce_other_time, strlen(ce_other_time), 0, k2);
	ck_assert_mem_eq(k1, k2, 32);
	sha256(ce_want, sizeof(ce_want) - 1, want);
	ck_assert_mem_eq(k1, want, 32);
	key_of(ce_other_id, strlen(ce_other_id), 0, k2);
	ck_assert(memcmp(k1, k2, 32) != 0);

	/* Event Grid: topic + id */
	key_of(eg, strlen(eg), 0, k1);
	key_of(eg_other_bytes, strlen(eg_other_bytes), 0, k2);
	ck_assert_mem_eq(k1, k2, 32);
	sha256(eg_want, sizeof(eg_want) - 1, want);
	ck_assert_mem_eq(k1, want, 32);

	/* preview without id: the raw bytes */
	key_of(seed_a, strlen(seed_a), 0, k1);
	key_of(seed_b, strlen(seed_b), 0, k2);
	ck_assert_mem_eq(k1, k2, 32);
	{
		const char *raw;
		size_t raw_len;
		uint8_t *buf;

		trimmed(seed_a, strlen(seed_a), &raw, &raw_len);
		buf = malloc(raw_len + 4);
		memcpy(buf, "raw", 4);
		memcpy(buf + 4, raw, raw_len);
		sha256(buf, raw_len + 4, want);
		ck_assert_mem_eq(k1, want, 32);
		free(buf);
	}
	key_of(seed_c, strlen(seed_c), 0, k2);
	ck_assert(memcmp(k1, k2, 32) != 0);
	key_of(seed_ws, strlen(seed_ws), 0, k2); /* same event, other bytes: not a redelivery */
	ck_assert(memcmp(k1, k2, 32) != 0);

	/* two byte-identical events in one array share a key */
	strcpy(two, "[");
	strcat(two, seed_a);
	strcat(two, ",");
	strcat(two, seed_a);
	strcat(two, "]");
	key_of(two, strlen(two), 0, k1);
	key_of(two, strlen(two), 1, k2);
	ck_assert_mem_eq(k1, k2, 32);

	/* same source and id in binary and structured mode: one event */
	{
		const struct ch_header h[] = {
		    {"ce-specversion", "1.0"},
		    {"ce-id", "7d0c5f2a-1e4b-4a9c-8f3d-6b2e9a1c4d70"},
		    {"ce-source", "calling/callConnections/" CC1},
		    {"ce-type", "Microsoft.Communication.CallConnected"},
		};
		struct ch_batch b;
		struct ch_error err;

		ck_assert_int_eq(parse_binary("{}", "application/json", h, 4, &b, &err), 0);
		key_of(ce, strlen(ce), 0, k1);
		ck_assert_mem_eq(b.events[0].dedupe_key, k1, 32);
		ch_batch_free(&b);
	}

	/* the namespaces keep a CloudEvent and an Event Grid event apart */
	{
		const char *c =
		    "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\",\"type\":\"T\"}";
		const char *e = "{\"id\":\"x\",\"topic\":\"s\",\"eventType\":\"T\","
		                "\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{}}";

		key_of(c, strlen(c), 0, k1);
		key_of(e, strlen(e), 0, k2);
	}
	ck_assert(memcmp(k1, k2, 32) != 0);

	free(ce);
	free(ce_other_time);
	free(ce_other_id);
	free(seed_a);
	free(seed_b);
	free(seed_c);
	free(seed_ws);
	free(eg);
	free(eg_other_bytes);
	free(two);
}
END_TEST

/* ---- odds and ends ----------------------------------------------------------------------- */

START_TEST(test_misc)
{
	struct ch_batch b = {0};
	struct ch_error err;

	ck_assert_str_eq(ch_format_name(CH_FORMAT_PREVIEW), "preview");
	ck_assert_str_eq(ch_format_name(CH_FORMAT_EVENTGRID), "eventgrid");
	ck_assert_str_eq(ch_format_name(CH_FORMAT_CLOUDEVENTS), "cloudevents");
	ch_batch_free(&b); /* zeroed: fine */
	ch_batch_free(&b); /* twice: fine */
	ch_batch_free(NULL);

	/* NULL input and NULL limits are the defaults */
	{
		const char *body =
		    "{\"eventType\":\"T\",\"eventTime\":\"2021-05-05T20:08:39Z\",\"data\":{}}";

		ck_assert_int_eq(ch_envelope_parse(body, strlen(body), NULL, NULL, &b, &err), 0);
	}
	ck_assert_uint_eq(b.n, 1);
	ck_assert_str_eq(err.code, "");
	ck_assert_int_eq(err.status, 0);
	ch_batch_free(&b);

	/* error messages stay printable: control characters become '?' */
	expect_fail_str("{\"eventType\":\"T\",\"eventTime\":\"\\u0007\\n2021\",\"data\":{}}", 400,
	                "InvalidEvent",
	                "event 0: field \"eventTime\": not an RFC 3339 date-time (\"??2021\")");
	/* and long UTF-8 input is cut on a character boundary */
	expect_fail_str(
	    "{\"eventType\":\"T\",\"eventTime\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\",\"data\":{}}",
	    400, "InvalidEvent",
	    "(\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac...\")");
	expect_fail_str("  7 ", 400, "InvalidEnvelope", "not a number");
	expect_fail_str("null", 400, "InvalidEnvelope", "not null");
}
END_TEST

static Suite *envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *t;

	t = tcase_create("time");
	tcase_add_test(t, test_time_valid);
	tcase_add_test(t, test_time_invalid);
	tcase_add_test(t, test_time_arithmetic);
	suite_add_tcase(s, t);

	t = tcase_create("preview");
	tcase_add_loop_test(t, test_seed, 0, (int)(sizeof(seed) / sizeof(seed[0])));
	tcase_add_test(t, test_seed_payloads);
	suite_add_tcase(s, t);

	t = tcase_create("eventgrid");
	tcase_add_test(t, test_eventgrid_incomingcall);
	tcase_add_test(t, test_eventgrid_batch);
	tcase_add_test(t, test_eventgrid_validation);
	tcase_add_test(t, test_eventgrid_dataversion_empty);
	tcase_add_test(t, test_detection);
	suite_add_tcase(s, t);

	t = tcase_create("cloudevents");
	tcase_add_loop_test(t, test_cloudevents_files, 0,
	                    (int)(sizeof(ce_files) / sizeof(ce_files[0])));
	tcase_add_test(t, test_cloudevents_payloads);
	tcase_add_test(t, test_cloudevents_structured_and_batch);
	tcase_add_test(t, test_cloudevents_rules);
	tcase_add_test(t, test_field_limits);
	suite_add_tcase(s, t);

	t = tcase_create("binary");
	tcase_add_test(t, test_binary_json);
	tcase_add_test(t, test_binary_text_and_empty);
	tcase_add_test(t, test_binary_decoding);
	tcase_add_test(t, test_binary_errors);
	tcase_add_test(t, test_binary_headers_with_structured_type);
	suite_add_tcase(s, t);

	t = tcase_create("rejects");
	tcase_add_test(t, test_content_types);
	tcase_add_loop_test(t, test_malformed, 0, (int)(sizeof(malformed) / sizeof(malformed[0])));
	tcase_add_test(t, test_too_many_events);
	suite_add_tcase(s, t);

	t = tcase_create("dedupe");
	tcase_add_test(t, test_dedupe_keys);
	tcase_add_test(t, test_misc);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(envelope_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
