/* emu_calls.c - see emu_calls.h.
 *
 * Participants belong to the conversation, not to a leg, so that the legs of
 * one conversation (create-call, then joins) see the same list with the same
 * participant ids; every participant change is announced to each established
 * leg of the conversation.  A leg that hangs up takes its source's
 * participant entry with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>

#include "emu_calls.h"
#include "emu_deliver.h"
#include "emu_events.h"
#include "emu_json.h"
#include "log.h"

struct emu_call *emu_call_find(struct emu *e, const char *id)
{
	struct emu_call *c;

	TAILQ_FOREACH(c, &e->calls, link)
	{
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

struct emu_conv *emu_conv_find(struct emu *e, const char *id)
{
	struct emu_conv *v;

	TAILQ_FOREACH(v, &e->convs, link)
	{
		if (strcmp(v->id, id) == 0)
			return v;
	}
	return NULL;
}

int emu_ident_from_raw(const char *raw, struct emu_ident *out, struct ch_error *err)
{
	memset(out, 0, sizeof(*out));
	if (raw == NULL || raw[0] == '\0')
		return ch_error_set(err, 400, "InvalidRequest",
		                    "field \"participant\": empty identifier");
	if (strlen(raw) >= EMU_RAW_MAX - 2)
		return ch_error_set(err, 400, "InvalidRequest",
		                    "field \"participant\": identifier longer than %d bytes",
		                    EMU_RAW_MAX - 3);
	if (raw[0] == '+' || strncmp(raw, "4:", 2) == 0) {
		const char *number = raw[0] == '+' ? raw : raw + 2;

		if (number[0] == '\0')
			return ch_error_set(err, 400, "InvalidRequest",
			                    "field \"participant\": a phone number without digits");
		out->kind = EMU_PHONE;
		snprintf(out->value, sizeof(out->value), "%s", number);
		snprintf(out->raw_id, sizeof(out->raw_id), "4:%s", number);
		return 0;
	}
	out->kind = strncmp(raw, "8:orgid:", 8) == 0 || strncmp(raw, "8:teamsvisitor:", 15) == 0
	                ? EMU_TEAMS
	                : EMU_USER;
	snprintf(out->raw_id, sizeof(out->raw_id), "%s", raw);
	snprintf(out->value, sizeof(out->value), "%s",
	         out->kind == EMU_TEAMS ? strchr(raw + 2, ':') + 1 : raw);
	return 0;
}

/* --- conversations ---------------------------------------------------------- */

static struct emu_participant *find_part(struct emu_conv *v, const char *key)
{
	for (size_t i = 0; i < v->n_parts; i++) {
		if (strcmp(v->parts[i].participant_id, key) == 0 ||
		    strcmp(v->parts[i].id.raw_id, key) == 0)
			return &v->parts[i];
	}
	return NULL;
}

static void add_part(struct emu_conv *v, const struct emu_ident *id)
{
	struct emu_participant *p;

	if (find_part(v, id->raw_id) != NULL || v->n_parts >= EMU_MAX_PARTICIPANTS)
		return;
	p = &v->parts[v->n_parts++];
	memset(p, 0, sizeof(*p));
	p->id = *id;
	emu_uuid(p->participant_id);
}

static void del_part(struct emu_conv *v, struct emu_participant *p)
{
	size_t i = (size_t)(p - v->parts);

	memmove(&v->parts[i], &v->parts[i + 1], (v->n_parts - i - 1) * sizeof(*p));
	v->n_parts--;
}

/* A new conversation id: base64url of a conversation URL, as the seed's look. */
static void new_conv_id(char *out, size_t size)
{
	char uuid[EMU_ID_LEN], url[96];
	unsigned char b64[160];
	int n, j = 0;

	emu_uuid(uuid);
	snprintf(url, sizeof(url), "https://conv-emulator.invalid/conv/%s", uuid);
	n = EVP_EncodeBlock(b64, (const unsigned char *)url, (int)strlen(url));
	for (int i = 0; i < n && (size_t)j + 1 < size; i++) {
		char ch = (char)b64[i];

		if (ch == '=')
			break;
		out[j++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
	}
	out[j] = '\0';
}

static struct emu_conv *conv_get(struct emu *e, const char *id)
{
	struct emu_conv *v = id != NULL ? emu_conv_find(e, id) : NULL;

	if (v != NULL)
		return v;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return NULL;
	v->emu = e;
	if (id != NULL)
		snprintf(v->id, sizeof(v->id), "%s", id);
	else
		new_conv_id(v->id, sizeof(v->id));
	TAILQ_INSERT_TAIL(&e->convs, v, link);
	return v;
}

/* Tell every established leg of the conversation who is in it. */
static void announce(struct emu *e, struct emu_conv *v)
{
	struct emu_call *c;

	TAILQ_FOREACH(c, &e->calls, link)
	{
		if (c->conv == v && c->state == EMU_ESTABLISHED)
			emu_event_participants(c);
	}
}

/* --- call legs ---------------------------------------------------------------- */

static void call_free(struct emu_call *c)
{
	struct emu *e = c->emu;

	emu_deliver_release(c);
	if (c->step_timer != NULL)
		event_free(c->step_timer);
	if (c->play_timer != NULL)
		event_free(c->play_timer);
	for (size_t i = 0; i < c->n_plays; i++) {
		free(c->plays[i].context);
		free(c->plays[i].uri);
	}
	if (c->conv != NULL && --c->conv->legs == 0) {
		TAILQ_REMOVE(&e->convs, c->conv, link);
		free(c->conv);
	}
	TAILQ_REMOVE(&e->calls, c, link);
	e->n_calls--;
	free(c);
}

/* Make room for one more leg: forget the oldest ended one that has nothing
 * left to deliver. */
static int make_room(struct emu *e, struct ch_error *err)
{
	struct emu_call *c;

	if (e->n_calls < EMU_MAX_CALLS)
		return 0;
	TAILQ_FOREACH(c, &e->calls, link)
	{
		if (c->state == EMU_TERMINATED && emu_deliver_idle(c)) {
			call_free(c);
			return 0;
		}
	}
	return ch_error_set(err, 503, "TooManyCalls",
	                    "%d call legs are live or still delivering events", EMU_MAX_CALLS);
}

static int parse_callback(struct emu_call *c, const char *uri, struct ch_error *err)
{
	struct evhttp_uri *u;
	const char *scheme, *host, *path, *query;
	int port;

	if (strlen(uri) >= sizeof(c->callback))
		return ch_error_set(err, 400, "InvalidRequest",
		                    "field \"callbackUri\": longer than %zu bytes",
		                    sizeof(c->callback) - 1);
	u = evhttp_uri_parse_with_flags(uri, 0);
	if (u == NULL)
		return ch_error_set(err, 400, "InvalidRequest", "field \"callbackUri\": not a URI");
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	port = evhttp_uri_get_port(u);
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	if (scheme == NULL || strcasecmp(scheme, "http") != 0 || host == NULL || host[0] == '\0') {
		evhttp_uri_free(u);
		return ch_error_set(err, 400, "InvalidRequest",
		                    "field \"callbackUri\": the emulator delivers to "
		                    "http://HOST[:PORT]/PATH only");
	}
	snprintf(c->callback, sizeof(c->callback), "%s", uri);
	snprintf(c->cb_host, sizeof(c->cb_host), "%s", host);
	if (c->cb_host[0] == '[') { /* an IPv6 literal: connect without the brackets */
		size_t n = strlen(c->cb_host);

		memmove(c->cb_host, c->cb_host + 1, n);
		if (n >= 2 && c->cb_host[n - 2] == ']')
			c->cb_host[n - 2] = '\0';
	}
	c->cb_port = port > 0 ? port : 80;
	snprintf(c->cb_path, sizeof(c->cb_path), "%s%s%s",
	         path != NULL && path[0] != '\0' ? path : "/", query != NULL ? "?" : "",
	         query != NULL ? query : "");
	if (port > 0)
		snprintf(c->cb_host_header, sizeof(c->cb_host_header), "%s:%d", host, port);
	else
		snprintf(c->cb_host_header, sizeof(c->cb_host_header), "%s", host);
	evhttp_uri_free(u);
	return 0;
}

static void step(evutil_socket_t fd, short what, void *arg);

static void schedule_step(struct emu_call *c)
{
	long ms = c->emu->opt.step_delay_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(c->step_timer, &tv);
}

/* The timed half of a transition: Established, or Terminated. */
static void step(evutil_socket_t fd, short what, void *arg)
{
	struct emu_call *c = arg;

	(void)fd;
	(void)what;
	if (c->state == EMU_ESTABLISHING) {
		c->state = EMU_ESTABLISHED;
		c->conv_announced = true;
		emu_event_state(c);
		/* The others learn of the new leg's participant too. */
		announce(c->emu, c->conv);
	} else if (c->state == EMU_TERMINATING) {
		c->state = EMU_TERMINATED;
		emu_event_state(c);
	}
}

struct emu_call *emu_call_create(struct emu *e, const struct emu_ident *source,
                                 const struct emu_ident *targets, size_t n_targets,
                                 const char *conv_id, const char *callback, struct ch_error *err)
{
	struct emu_call *c;
	struct emu_conv *v;

	if (make_room(e, err) < 0)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		ch_error_set(err, 500, "InternalError", "out of memory");
		return NULL;
	}
	c->emu = e;
	TAILQ_INIT(&c->queue);
	if (parse_callback(c, callback, err) < 0) {
		free(c);
		return NULL;
	}
	c->step_timer = evtimer_new(e->base, step, c);
	v = c->step_timer != NULL ? conv_get(e, conv_id) : NULL;
	if (v == NULL) {
		if (c->step_timer != NULL)
			event_free(c->step_timer);
		free(c);
		ch_error_set(err, 500, "InternalError", "out of memory");
		return NULL;
	}
	if (v->n_parts + 1 + n_targets > EMU_MAX_PARTICIPANTS &&
	    find_part(v, source->raw_id) == NULL) {
		if (v->legs == 0) {
			TAILQ_REMOVE(&e->convs, v, link);
			free(v);
		}
		event_free(c->step_timer);
		free(c);
		ch_error_set(err, 400, "TooManyParticipants",
		             "a conversation holds at most %d participants", EMU_MAX_PARTICIPANTS);
		return NULL;
	}
	c->conv = v;
	v->legs++;
	emu_uuid(c->id);
	emu_uuid(c->correlation_id);
	c->source = *source;
	add_part(v, source);
	for (size_t i = 0; i < n_targets; i++)
		add_part(v, &targets[i]);
	TAILQ_INSERT_TAIL(&e->calls, c, link);
	e->n_calls++;
	c->state = EMU_ESTABLISHING;
	emu_event_state(c);
	schedule_step(c);
	ch_log_kv(CH_LOG_INFO, "emulator: call created", "call=%s conversation=%s", c->id, v->id);
	return c;
}

int emu_call_usable(const struct emu_call *c, const char *id, struct ch_error *err)
{
	if (c == NULL)
		return ch_error_set(err, 404, "CallNotFound", "no call leg \"%.64s\"", id);
	if (c->state == EMU_TERMINATING || c->state == EMU_TERMINATED)
		return ch_error_set(err, 404, "CallNotFound", "call leg \"%s\" has ended", c->id);
	return 0;
}

/* --- plays --------------------------------------------------------------------- */

static void play_end(evutil_socket_t fd, short what, void *arg);

static void play_start(struct emu_call *c)
{
	long ms = c->emu->opt.play_duration_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (c->n_plays == 0 || c->plays[0].loop)
		return; /* a loop plays until cancelled or the call ends */
	evtimer_add(c->play_timer, &tv);
}

static void play_pop(struct emu_call *c)
{
	free(c->plays[0].context);
	free(c->plays[0].uri);
	memmove(&c->plays[0], &c->plays[1], (c->n_plays - 1) * sizeof(c->plays[0]));
	c->n_plays--;
}

static void play_end(evutil_socket_t fd, short what, void *arg)
{
	struct emu_call *c = arg;

	(void)fd;
	(void)what;
	if (c->n_plays == 0)
		return;
	emu_event_play(c, &c->plays[0], false);
	play_pop(c);
	play_start(c);
}

int emu_call_play(struct emu_call *c, const char *uri, bool loop, const char *context,
                  char op_id[EMU_ID_LEN], struct ch_error *err)
{
	struct emu_play *p;

	if (c->state != EMU_ESTABLISHED)
		return ch_error_set(err, 400, "CallNotEstablished",
		                    "call leg \"%s\" is not established yet", c->id);
	if (c->n_plays >= EMU_MAX_PLAYS)
		return ch_error_set(err, 400, "TooManyOperations",
		                    "call leg \"%s\" already has %d plays running or queued", c->id,
		                    EMU_MAX_PLAYS);
	if (c->play_timer == NULL)
		c->play_timer = evtimer_new(c->emu->base, play_end, c);
	p = &c->plays[c->n_plays];
	memset(p, 0, sizeof(*p));
	p->uri = strdup(uri);
	p->context = context != NULL ? strdup(context) : NULL;
	if (c->play_timer == NULL || p->uri == NULL || (context != NULL && p->context == NULL)) {
		free(p->uri);
		free(p->context);
		return ch_error_set(err, 500, "InternalError", "out of memory");
	}
	p->loop = loop;
	emu_uuid(p->id);
	memcpy(op_id, p->id, EMU_ID_LEN);
	if (++c->n_plays == 1)
		play_start(c);
	return 0;
}

void emu_call_cancel_media(struct emu_call *c)
{
	if (c->play_timer != NULL)
		evtimer_del(c->play_timer);
	while (c->n_plays > 0) {
		emu_event_play(c, &c->plays[0], true);
		play_pop(c);
	}
}

/* --- hang-up, tones --------------------------------------------------------- */

void emu_call_hangup(struct emu_call *c)
{
	struct emu_participant *p;

	if (c->state == EMU_TERMINATING || c->state == EMU_TERMINATED)
		return;
	evtimer_del(c->step_timer);
	/* The service cancels media operations when the call goes away. */
	emu_call_cancel_media(c);
	c->state = EMU_TERMINATING;
	emu_event_state(c);
	p = find_part(c->conv, c->source.raw_id);
	if (p != NULL) {
		del_part(c->conv, p);
		announce(c->emu, c->conv);
	}
	schedule_step(c);
	ch_log_kv(CH_LOG_INFO, "emulator: call hung up", "call=%s", c->id);
}

int emu_call_dtmf(struct emu_call *c, const char *tones, struct ch_error *err)
{
	size_t n = strlen(tones);

	if (n == 0 || n > EMU_TONES_MAX)
		return ch_error_set(err, 400, "InvalidTones", "tones: 1 to %d tones, got %zu",
		                    EMU_TONES_MAX, n);
	for (size_t i = 0; i < n; i++) {
		if (strchr("0123456789*#ABCDabcd", tones[i]) == NULL)
			return ch_error_set(err, 400, "InvalidTones",
			                    "tones: character %zu is not one of 0-9 * # A-D",
			                    i + 1);
	}
	if (c->state != EMU_ESTABLISHED)
		return ch_error_set(err, 409, "CallNotEstablished",
		                    "call leg \"%s\" is not established", c->id);
	for (size_t i = 0; i < n; i++) {
		char t = tones[i];

		emu_event_dtmf(c, t >= 'a' && t <= 'd' ? (char)(t - 'a' + 'A') : t);
	}
	return 0;
}

/* --- participants --------------------------------------------------------------- */

/* The result event goes to the leg that asked, or for the conversation API
 * to every established leg. */
static void to_legs(struct emu_conv *v, struct emu_call *origin,
                    void (*fn)(struct emu_call *c, const void *arg), const void *arg)
{
	struct emu_call *c;

	if (origin != NULL) {
		fn(origin, arg);
		return;
	}
	TAILQ_FOREACH(c, &v->emu->calls, link)
	{
		if (c->conv == v && c->state == EMU_ESTABLISHED)
			fn(c, arg);
	}
}

struct invite_arg {
	const struct emu_ident *ids;
	size_t n;
	const char *context;
	bool failed;
};

static void send_invite(struct emu_call *c, const void *arg)
{
	const struct invite_arg *a = arg;

	emu_event_invite(c, a->ids, a->n, a->context, a->failed);
}

static void send_removed(struct emu_call *c, const void *arg)
{
	const struct invite_arg *a = arg;

	emu_event_removed(c, a->ids, a->context);
}

int emu_conv_invite(struct emu_conv *v, struct emu_call *origin, const struct emu_ident *ids,
                    size_t n, const char *context, struct ch_error *err)
{
	struct invite_arg a = {ids, n, context, false};

	if (origin != NULL && origin->state != EMU_ESTABLISHED)
		return ch_error_set(err, 400, "CallNotEstablished",
		                    "call leg \"%s\" is not established yet", origin->id);
	/* Inviting someone already in the call fails the invitation (the
	 * emulator's one failure case: InviteParticipantResult "Failed",
	 * AddParticipantFailed). */
	for (size_t i = 0; i < n; i++) {
		if (find_part(v, ids[i].raw_id) != NULL)
			a.failed = true;
	}
	if (!a.failed && v->n_parts + n > EMU_MAX_PARTICIPANTS)
		return ch_error_set(err, 400, "TooManyParticipants",
		                    "a conversation holds at most %d participants",
		                    EMU_MAX_PARTICIPANTS);
	if (!a.failed) {
		for (size_t i = 0; i < n; i++)
			add_part(v, &ids[i]);
	}
	to_legs(v, origin, send_invite, &a);
	if (!a.failed)
		announce(v->emu, v);
	return 0;
}

int emu_conv_remove(struct emu_conv *v, struct emu_call *origin, const char *key,
                    const char *context, struct ch_error *err)
{
	struct emu_participant *p = find_part(v, key);
	struct emu_ident gone;
	struct invite_arg a = {&gone, 1, context, false};

	if (p == NULL)
		return ch_error_set(err, 404, "ParticipantNotFound",
		                    "no participant \"%.200s\" in the call", key);
	gone = p->id;
	del_part(v, p);
	to_legs(v, origin, send_removed, &a);
	announce(v->emu, v);
	return 0;
}

int emu_conv_mute(struct emu_conv *v, const char *key, bool muted, struct ch_error *err)
{
	struct emu_participant *p = find_part(v, key);

	if (p == NULL)
		return ch_error_set(err, 404, "ParticipantNotFound",
		                    "no participant \"%.200s\" in the call", key);
	if (p->muted != muted) {
		p->muted = muted;
		announce(v->emu, v);
	}
	return 0;
}

int emu_conv_join(struct emu_call *c, const struct emu_ident *id, struct ch_error *err)
{
	struct emu_conv *v = c->conv;

	if (find_part(v, id->raw_id) != NULL)
		return ch_error_set(err, 409, "ParticipantInCall", "\"%s\" is already in the call",
		                    id->raw_id);
	if (v->n_parts >= EMU_MAX_PARTICIPANTS)
		return ch_error_set(err, 400, "TooManyParticipants",
		                    "a conversation holds at most %d participants",
		                    EMU_MAX_PARTICIPANTS);
	add_part(v, id);
	announce(v->emu, v);
	return 0;
}

int emu_conv_leave(struct emu_call *c, const char *key, struct ch_error *err)
{
	struct emu_participant *p = find_part(c->conv, key);

	if (p == NULL)
		return ch_error_set(err, 404, "ParticipantNotFound",
		                    "no participant \"%.200s\" in the call", key);
	del_part(c->conv, p);
	announce(c->emu, c->conv);
	return 0;
}

/* --- inspection, shutdown ------------------------------------------------------ */

void emu_call_json(const struct emu_call *c, struct evbuffer *b)
{
	static const char *const states[] = {"Establishing", "Established", "Terminating",
	                                     "Terminated"};
	const struct emu_conv *v = c->conv;

	emu_json_raw(b, "{");
	emu_json_key(b, "callLegId");
	emu_json_str(b, c->id);
	emu_json_member(b, "conversationId");
	emu_json_str(b, v->id);
	emu_json_member(b, "state");
	emu_json_str(b, states[c->state]);
	emu_json_member(b, "callbackUri");
	emu_json_str(b, c->callback);
	emu_json_member(b, "source");
	emu_json_str(b, c->source.raw_id);
	emu_json_raw(b, ",\"participants\":[");
	for (size_t i = 0; i < v->n_parts; i++) {
		emu_json_raw(b, i > 0 ? ",{" : "{");
		emu_json_key(b, "rawId");
		emu_json_str(b, v->parts[i].id.raw_id);
		emu_json_member(b, "participantId");
		emu_json_str(b, v->parts[i].participant_id);
		emu_json_member(b, "isMuted");
		emu_json_bool(b, v->parts[i].muted);
		emu_json_raw(b, "}");
	}
	emu_json_raw(b, "],\"play\":");
	if (c->n_plays == 0) {
		emu_json_raw(b, "null");
	} else {
		emu_json_raw(b, "{");
		emu_json_key(b, "id");
		emu_json_str(b, c->plays[0].id);
		emu_json_member(b, "audioFileUri");
		emu_json_str(b, c->plays[0].uri);
		emu_json_member(b, "loop");
		emu_json_bool(b, c->plays[0].loop);
		emu_json_member(b, "operationContext");
		emu_json_str(b, c->plays[0].context);
		emu_json_raw(b, "}");
	}
	emu_json_member(b, "queuedPlays");
	emu_json_int(b, c->n_plays > 0 ? (int64_t)c->n_plays - 1 : 0);
	emu_json_member(b, "dtmfSequenceId");
	emu_json_int(b, c->dtmf_seq);
	emu_json_member(b, "pendingEvents");
	emu_json_int(b, (int64_t)c->queued);
	emu_json_raw(b, "}\n");
}

void emu_free_all(struct emu *e)
{
	struct emu_call *c;

	while ((c = TAILQ_FIRST(&e->calls)) != NULL)
		call_free(c);
}
