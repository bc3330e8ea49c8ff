/* emu_events.c - see emu_events.h.
 *
 * One envelope writer per format around one data writer per kind.  The data
 * writers know both casings: PascalCase for the preview and the Event Grid
 * form of it (same types and data, the seed's), camelCase for CloudEvents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "clocks.h"
#include "emu_deliver.h"
#include "emu_events.h"
#include "emu_json.h"

#define NS "Microsoft.Communication."
#define TOPIC                                                                                      \
	"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/emulator/providers/"   \
	"Microsoft.Communication/communicationServices/callhookd-emulator"

typedef void (*data_fn)(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga);

void emu_uuid(char out[EMU_ID_LEN])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1) {
		/* Without randomness every id could repeat: better to stop. */
		fputs("callhookd-emulator: RAND_bytes failed\n", stderr);
		abort();
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, EMU_ID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	         r[15]);
}

/* "2021-05-05T20:08:39.0157964Z" (preview, Event Grid) or
 * "2025-06-16T20:52:32.9896642+00:00" (CloudEvents). */
static void event_time(int64_t us, bool ga, char *out, size_t size)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld0%s", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long long)(us % 1000000), ga ? "+00:00" : "Z");
}

/* The ids every GA event carries; after other members unless first. */
static void ga_common(struct evbuffer *b, struct emu_call *c, bool first)
{
	if (first)
		emu_json_key(b, "callConnectionId");
	else
		emu_json_member(b, "callConnectionId");
	emu_json_str(b, c->id);
	emu_json_member(b, "serverCallId");
	emu_json_str(b, c->conv->id);
	emu_json_member(b, "correlationId");
	emu_json_str(b, c->correlation_id);
}

/* GA events carry operationContext only when the request set one. */
static void ga_context(struct evbuffer *b, const char *context)
{
	if (context == NULL)
		return;
	emu_json_key(b, "operationContext");
	emu_json_str(b, context);
	emu_json_raw(b, ",");
}

static void result_info(struct evbuffer *b, bool ga, int code, int subcode, const char *message)
{
	emu_json_key(b, ga ? "resultInformation" : "ResultInfo");
	emu_json_raw(b, "{");
	emu_json_key(b, ga ? "code" : "Code");
	emu_json_int(b, code);
	emu_json_member(b, ga ? "subCode" : "Subcode");
	emu_json_int(b, subcode);
	emu_json_member(b, ga ? "message" : "Message");
	emu_json_str(b, message);
	emu_json_raw(b, "}");
}

static void identifier(struct evbuffer *b, const struct emu_ident *id, bool ga)
{
	static const char *const ga_kind[] = {"communicationUser", "phoneNumber",
	                                      "microsoftTeamsUser"};

	emu_json_raw(b, "{");
	if (ga) {
		emu_json_key(b, "rawId");
		emu_json_str(b, id->raw_id);
		emu_json_member(b, "kind");
		emu_json_str(b, ga_kind[id->kind]);
		emu_json_member(b, ga_kind[id->kind]);
		emu_json_raw(b, "{");
		emu_json_key(b, id->kind == EMU_USER    ? "id"
		                : id->kind == EMU_PHONE ? "value"
		                                        : "userId");
		emu_json_str(b, id->value);
		emu_json_raw(b, "}}");
		return;
	}
	emu_json_key(b, "RawId");
	emu_json_str(b, id->raw_id);
	emu_json_raw(b, ",\"CommunicationUser\":");
	if (id->kind == EMU_USER) {
		emu_json_raw(b, "{\"Id\":");
		emu_json_str(b, id->value);
		emu_json_raw(b, "}");
	} else {
		emu_json_raw(b, "null");
	}
	emu_json_raw(b, ",\"PhoneNumber\":");
	if (id->kind == EMU_PHONE) {
		emu_json_raw(b, "{\"Value\":");
		emu_json_str(b, id->value);
		emu_json_raw(b, "}");
	} else {
		emu_json_raw(b, "null");
	}
	emu_json_raw(b, ",\"MicrosoftTeamsUser\":");
	if (id->kind == EMU_TEAMS) {
		emu_json_raw(b, "{\"UserId\":");
		emu_json_str(b, id->value);
		emu_json_raw(b, "}");
	} else {
		emu_json_raw(b, "null");
	}
	emu_json_raw(b, "}");
}

/* Build one event around data(...) and queue it. */
static void emit(struct emu_call *c, const char *type, const char *suffix, bool preview_id,
                 data_fn data, const void *arg)
{
	enum emu_format f = c->emu->opt.format;
	bool ga = f == EMU_CLOUDEVENTS;
	struct evbuffer *b = evbuffer_new();
	char id[EMU_ID_LEN] = "", when[96], subject[128];
	int64_t us = ch_clock_us(CLOCK_REALTIME);

	if (b == NULL)
		return;
	if (f != EMU_PREVIEW || preview_id)
		emu_uuid(id);
	event_time(us, ga, when, sizeof(when));
	if (ga)
		snprintf(subject, sizeof(subject), "calling/callConnections/%s", c->id);
	else
		snprintf(subject, sizeof(subject), "callLeg/%s/%s", c->id, suffix);

	if (f != EMU_PREVIEW)
		emu_json_raw(b, "[");
	emu_json_raw(b, "{");
	emu_json_key(b, "id");
	emu_json_str(b, id[0] != '\0' ? id : NULL);
	emu_json_raw(b, ",");
	if (ga) {
		emu_json_key(b, "source");
		emu_json_str(b, subject);
		emu_json_raw(b, ",\"type\":\"" NS);
		emu_json_raw(b, type);
		emu_json_raw(b, "\",\"data\":{");
	} else {
		emu_json_key(b, "topic");
		emu_json_str(b, f == EMU_EVENTGRID ? TOPIC : NULL);
		emu_json_member(b, "subject");
		emu_json_str(b, subject);
		emu_json_raw(b, ",\"data\":{");
	}
	data(b, c, arg, ga);
	emu_json_raw(b, "},");
	if (ga) {
		emu_json_key(b, "time");
		emu_json_str(b, when);
		emu_json_raw(b,
		             ",\"specversion\":\"1.0\",\"datacontenttype\":\"application/json\",");
		emu_json_key(b, "subject");
		emu_json_str(b, subject);
	} else {
		emu_json_raw(b, "\"eventType\":\"" NS);
		emu_json_raw(b, type);
		emu_json_raw(b, "\",");
		emu_json_key(b, "eventTime");
		emu_json_str(b, when);
		emu_json_raw(b, f == EMU_EVENTGRID
		                    ? ",\"metadataVersion\":\"1\",\"dataVersion\":\"1.0\""
		                    : ",\"metadataVersion\":null,\"dataVersion\":null");
	}
	emu_json_raw(b, "}");
	if (f != EMU_PREVIEW)
		emu_json_raw(b, "]");

	{
		char full[72];

		snprintf(full, sizeof(full), NS "%s", type);
		emu_deliver_enqueue(c, full, id, b, us);
	}
	evbuffer_free(b);
}

/* --- call state ------------------------------------------------------------ */

static const char *state_name(enum emu_state s)
{
	static const char *const names[] = {"Establishing", "Established", "Terminating",
	                                    "Terminated"};
	return names[s];
}

static void state_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	(void)arg;
	if (ga) {
		ga_common(b, c, true);
		return;
	}
	emu_json_key(b, "ConversationId");
	emu_json_str(b, c->conv_announced ? c->conv->id : NULL);
	emu_json_member(b, "CallLegId");
	emu_json_str(b, c->id);
	emu_json_member(b, "CallState");
	emu_json_str(b, state_name(c->state));
}

void emu_event_state(struct emu_call *c)
{
	if (c->emu->opt.format != EMU_CLOUDEVENTS) {
		emit(c, "CallLegStateChanged", "callState", false, state_data, NULL);
		return;
	}
	if (c->state == EMU_ESTABLISHED)
		emit(c, "CallConnected", NULL, false, state_data, NULL);
	else if (c->state == EMU_TERMINATED)
		emit(c, "CallDisconnected", NULL, false, state_data, NULL);
}

/* --- participants ------------------------------------------------------- */

static void participants_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	const struct emu_conv *conv = c->conv;

	(void)arg;
	if (!ga) {
		emu_json_key(b, "CallLegId");
		emu_json_str(b, c->id);
		emu_json_raw(b, ",");
	}
	emu_json_key(b, ga ? "participants" : "Participants");
	emu_json_raw(b, "[");
	for (size_t i = 0; i < conv->n_parts; i++) {
		const struct emu_participant *p = &conv->parts[i];

		emu_json_raw(b, i > 0 ? ",{" : "{");
		emu_json_key(b, ga ? "identifier" : "Identifier");
		identifier(b, &p->id, ga);
		emu_json_raw(b, ",");
		if (!ga) {
			emu_json_key(b, "ParticipantId");
			emu_json_str(b, p->participant_id);
			emu_json_raw(b, ",");
		}
		emu_json_key(b, ga ? "isMuted" : "IsMuted");
		emu_json_bool(b, p->muted);
		if (ga)
			emu_json_raw(b, ",\"isOnHold\":false");
		emu_json_raw(b, "}");
	}
	emu_json_raw(b, "]");
	if (ga) {
		emu_json_member(b, "sequenceNumber");
		emu_json_int(b, c->participants_seq);
		ga_common(b, c, false);
	}
}

void emu_event_participants(struct emu_call *c)
{
	c->participants_seq++;
	emit(c, "ParticipantsUpdated", "participantsUpdated", false, participants_data, NULL);
}

/* --- DTMF --------------------------------------------------------------------- */

static const char *tone_name(char tone, bool ga)
{
	static const char *const preview_digits[] = {"Tone0", "Tone1", "Tone2", "Tone3", "Tone4",
	                                             "Tone5", "Tone6", "Tone7", "Tone8", "Tone9"};
	static const char *const ga_digits[] = {"zero", "one", "two",   "three", "four",
	                                        "five", "six", "seven", "eight", "nine"};
	static const char *const preview_abcd[] = {"A", "B", "C", "D"};
	static const char *const ga_abcd[] = {"a", "b", "c", "d"};

	if (tone >= '0' && tone <= '9')
		return ga ? ga_digits[tone - '0'] : preview_digits[tone - '0'];
	if (tone >= 'A' && tone <= 'D')
		return ga ? ga_abcd[tone - 'A'] : preview_abcd[tone - 'A'];
	if (tone == '*')
		return ga ? "asterisk" : "Star";
	return ga ? "pound" : "Pound";
}

static void dtmf_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	char tone = *(const char *)arg;

	emu_json_key(b, ga ? "toneInfo" : "ToneInfo");
	emu_json_raw(b, "{");
	emu_json_key(b, ga ? "sequenceId" : "SequenceId");
	emu_json_int(b, c->dtmf_seq);
	emu_json_member(b, ga ? "tone" : "Tone");
	emu_json_str(b, tone_name(tone, ga));
	emu_json_raw(b, "}");
	if (ga) {
		emu_json_raw(b, ",");
		result_info(b, true, 200, 0, "DTMF tone received successfully.");
		ga_common(b, c, false);
		return;
	}
	emu_json_member(b, "CallLegId");
	emu_json_str(b, c->id);
}

void emu_event_dtmf(struct emu_call *c, char tone)
{
	c->dtmf_seq++;
	emit(c,
	     c->emu->opt.format == EMU_CLOUDEVENTS ? "ContinuousDtmfRecognitionToneReceived"
	                                           : "DtmfReceived",
	     "dtmf", false, dtmf_data, &tone);
}

/* --- play ------------------------------------------------------------------- */

struct play_arg {
	const struct emu_play *p;
	bool cancelled;
};

static void play_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	const struct play_arg *a = arg;

	if (ga)
		ga_context(b, a->p->context);
	if (a->cancelled)
		/* The service's own spelling, typo included (seed, and a 2025 recording). */
		result_info(b, ga, 400, 8508, "Action falied, the operation was cancelled.");
	else
		result_info(b, ga, 200, 0, "Action completed successfully.");
	if (ga) {
		ga_common(b, c, false);
		return;
	}
	emu_json_member(b, "OperationContext");
	emu_json_str(b, a->p->context);
	emu_json_raw(b, ",\"Status\":\"Completed\",");
	emu_json_key(b, "CallLegId");
	emu_json_str(b, c->id);
}

void emu_event_play(struct emu_call *c, const struct emu_play *p, bool cancelled)
{
	struct play_arg a = {p, cancelled};
	const char *type = "PlayAudioResult";

	if (c->emu->opt.format == EMU_CLOUDEVENTS)
		type = cancelled ? "PlayCanceled" : "PlayCompleted";
	emit(c, type, "playAudio", false, play_data, &a);
}

/* --- invite and remove ------------------------------------------------------ */

struct invite_arg {
	const struct emu_ident *ids;
	size_t n;
	const char *context;
	bool failed;
};

static void invite_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	const struct invite_arg *a = arg;

	if (ga) {
		/* one participant per GA event */
		emu_json_key(b, "participant");
		identifier(b, &a->ids[0], true);
		emu_json_raw(b, ",");
		ga_context(b, a->context);
		if (a->failed)
			result_info(b, true, 400, 0, "Participant is already in the call.");
		else
			result_info(b, true, 200, 0, "Action completed successfully.");
		ga_common(b, c, false);
		return;
	}
	if (a->failed) {
		result_info(b, false, 400, 0, "Participant is already in the call.");
	} else {
		emu_json_raw(b, "\"ResultInfo\":null");
	}
	emu_json_member(b, "OperationContext");
	emu_json_str(b, a->context);
	emu_json_raw(b, a->failed ? ",\"Status\":\"Failed\"," : ",\"Status\":\"Completed\",");
	emu_json_key(b, "CallLegId");
	emu_json_str(b, c->id);
	emu_json_raw(b, ",\"Participants\":[");
	for (size_t i = 0; i < a->n; i++) {
		if (i > 0)
			emu_json_raw(b, ",");
		identifier(b, &a->ids[i], false);
	}
	emu_json_raw(b, "]");
}

void emu_event_invite(struct emu_call *c, const struct emu_ident *ids, size_t n,
                      const char *context, bool failed)
{
	if (c->emu->opt.format != EMU_CLOUDEVENTS) {
		struct invite_arg a = {ids, n, context, failed};

		emit(c, "InviteParticipantResult", "inviteParticipantResult", true, invite_data,
		     &a);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct invite_arg a = {&ids[i], 1, context, failed};

		emit(c, failed ? "AddParticipantFailed" : "AddParticipantSucceeded", NULL, false,
		     invite_data, &a);
	}
}

static void removed_data(struct evbuffer *b, struct emu_call *c, const void *arg, bool ga)
{
	const struct invite_arg *a = arg;

	(void)ga;
	emu_json_key(b, "participant");
	identifier(b, &a->ids[0], true);
	emu_json_raw(b, ",");
	ga_context(b, a->context);
	result_info(b, true, 200, 0, "Action completed successfully.");
	ga_common(b, c, false);
}

void emu_event_removed(struct emu_call *c, const struct emu_ident *id, const char *context)
{
	struct invite_arg a = {id, 1, context, false};

	if (c->emu->opt.format == EMU_CLOUDEVENTS)
		emit(c, "RemoveParticipantSucceeded", NULL, false, removed_data, &a);
}
