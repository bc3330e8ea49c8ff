/* ivr.c - an incident reporter: prompt, collect a DTMF choice, confirm, hang up.
 *
 * The seed's "next steps" sample as a handler using the ABI 1.1 actions.  On a
 * call's Established (preview/Event Grid CallLegStateChanged, GA
 * CallConnected) it plays prompt_uri (operation context "ivr:prompt"); tones
 * (DtmfReceived, ToneReceived, ContinuousDtmfRecognitionToneReceived) make up
 * the choice; once it is complete (the terminator tone, or max_digits digits)
 * it cancels the prompt if that may still be playing and plays confirm_uri
 * ("ivr:confirm"); the final result of that play (PlayAudioResult, or GA
 * PlayCompleted / PlayFailed / PlayCanceled) hangs the call up.
 *
 * Webhooks come late, twice and out of order, and a delivery may run again
 * (retry, replay), so every step is a column of ivr_calls (schema/010_ivr.sql)
 * set once, by the first event that finds it unset, in the same transaction
 * as the actions it queues.  A second Established finds the prompt taken and
 * plays nothing; a replay of the event that took a step finds its own id
 * there and queues nothing (the actions it queued the first time committed
 * with that column).  Tones are kept by sequence id, and the choice is read
 * from tones 0/1, 2, 3... without a gap, so it does not depend on arrival
 * order either.  Once the call has ended (Terminating, Terminated,
 * CallDisconnected) no more actions are queued.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "module_common.h"

#define ID_MAX      256 /* as the action functions take (callhookd-handler(3)); GUIDs in practice */
#define URI_MAX     2048 /* the longest audio URI we accept in the options */
#define DIGITS_MAX  32   /* max_digits: 1..DIGITS_MAX */
#define TONES_SCAN  128  /* tones read per choice: more than a choice can use */
#define CTX_PROMPT  "ivr:prompt"
#define CTX_CONFIRM "ivr:confirm"
#define CTX_CANCEL  "ivr:cancel"

static const struct ch_host *host;

static const char *const event_types[] = {
    "Microsoft.Communication.CallLegStateChanged",
    "Microsoft.Communication.CallConnected",
    "Microsoft.Communication.CallDisconnected",
    "Microsoft.Communication.DtmfReceived",
    "Microsoft.Communication.ToneReceived",
    "Microsoft.Communication.ContinuousDtmfRecognitionToneReceived",
    "Microsoft.Communication.PlayAudioResult",
    "Microsoft.Communication.PlayCompleted",
    "Microsoft.Communication.PlayFailed",
    "Microsoft.Communication.PlayCanceled",
    NULL,
};

static const struct ch_option options[] = {
    {"prompt_uri", CH_OPT_STRING, NULL, true, "audio played when a call is established"},
    {"confirm_uri", CH_OPT_STRING, NULL, true, "audio played once the choice is complete"},
    {"terminator", CH_OPT_STRING, "#", false, "the tone that ends a choice"},
    {"max_digits", CH_OPT_INT, "4", false, "digits that complete a choice without terminator"},
    {"prompt_loop", CH_OPT_BOOL, "no", false, "loop the prompt until the choice is complete"},
    {NULL, CH_OPT_STRING, NULL, false, NULL},
};

enum stmt_index {
	ST_ENSURE,
	ST_GET,
	ST_PROMPT,
	ST_PROMPT_RESULT,
	ST_TONE,
	ST_TONES,
	ST_CHOICE,
	ST_CONFIRM_RESULT,
	ST_ENDED,
	ST_COUNT
};

/* clang-format off */
static const char *const sql[ST_COUNT] = {
    [ST_ENSURE] = "INSERT INTO ivr_calls (call_id, first_event_id) VALUES (?1, ?2)"
                  " ON CONFLICT (call_id) DO NOTHING",
    [ST_GET] = "SELECT prompt_event_id, prompt_result_event_id, completed_event_id,"
               " confirm_queued, confirm_result_event_id, ended_event_id"
               " FROM ivr_calls WHERE call_id = ?1",
    [ST_PROMPT] = "UPDATE ivr_calls SET prompt_event_id = ?2 WHERE call_id = ?1"
                  " AND prompt_event_id IS NULL",
    [ST_PROMPT_RESULT] = "UPDATE ivr_calls SET prompt_result_event_id = ?2, prompt_outcome = ?3"
                         " WHERE call_id = ?1 AND prompt_result_event_id IS NULL",
    [ST_TONE] = "INSERT INTO ivr_tones (call_id, sequence_id, tone, event_id, event_time_us)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    /* Tones without a sequence id after those with one, by event time. */
    [ST_TONES] = "SELECT sequence_id, tone FROM ivr_tones WHERE call_id = ?1"
                 " ORDER BY sequence_id IS NULL, sequence_id, event_time_us, event_id LIMIT ?2",
    [ST_CHOICE] = "UPDATE ivr_calls SET digits = ?2, completed_by = ?3, completed_at = ?4,"
                  " completed_us = ?5, completed_event_id = ?6, prompt_cancel_queued = ?7,"
                  " confirm_queued = ?8 WHERE call_id = ?1 AND completed_event_id IS NULL",
    [ST_CONFIRM_RESULT] = "UPDATE ivr_calls SET confirm_result_event_id = ?2,"
                          " confirm_outcome = ?3, hangup_event_id = ?4"
                          " WHERE call_id = ?1 AND confirm_result_event_id IS NULL",
    [ST_ENDED] = "UPDATE ivr_calls SET ended_at = ?2, ended_event_id = ?3"
                 " WHERE call_id = ?1 AND ended_event_id IS NULL",
};
/* clang-format on */

struct ivr {
	char *prompt_uri, *confirm_uri; /* copies of the options (owned) */
	char terminator;
	int max_digits;
	bool prompt_loop;
	struct hm_state *hm; /* statements; freed by fini */
};

/* What ivr_calls says about a call; 0 ids are NULL. */
struct call_row {
	int64_t prompt, prompt_result, completed, confirm_result, ended;
	bool confirm_queued;
};

/* --- small helpers --------------------------------------------------------- */

static bool type_is(const char *type, const char *name)
{
	static const char prefix[] = "Microsoft.Communication.";

	return strncmp(type, prefix, sizeof(prefix) - 1) == 0 &&
	       strcmp(type + sizeof(prefix) - 1, name) == 0;
}

static int64_t col_id(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Make sure the call has a row, then read it.  Every step starts here, so
 * this is where the write transaction opens: events the ivr has nothing to
 * do with (Establishing, other applications' plays) take no lock. */
static int load_call(struct hm_state *s, const char *call, int64_t event_id, struct call_row *r)
{
	int rc;
	sqlite3_stmt *st;

	memset(r, 0, sizeof(*r));
	if (hm_db(s) == NULL)
		return SQLITE_BUSY; /* no transaction: worth a retry */
	if ((st = hm_stmt(s, ST_ENSURE, &rc)) == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, event_id);
	if ((rc = hm_run(st)) != SQLITE_OK || (st = hm_stmt(s, ST_GET, &rc)) == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->prompt = col_id(st, 0);
		r->prompt_result = col_id(st, 1);
		r->completed = col_id(st, 2);
		r->confirm_queued = sqlite3_column_int(st, 3) != 0;
		r->confirm_result = col_id(st, 4);
		r->ended = col_id(st, 5);
	}
	return hm_finish(st, rc == SQLITE_ROW ? SQLITE_DONE : rc);
}

/* An action's failure (set_error done by the host): the delivery's writes roll
 * back with it; a missing [actions] section or a bad argument will not get
 * better by itself, so the delivery is dead until an operator replays it. */
static enum ch_result action_failed(struct hm_state *s, const char *what, const char *call)
{
	host->log(s->ctx, CH_LOG_ERROR, "call %s: could not queue %s", call, what);
	return CH_FAIL;
}

/* --- Established: the prompt --------------------------------------------------- */

static enum ch_result on_established(struct ivr *ivr, const struct ch_event *ev, const char *call)
{
	struct hm_state *s = ivr->hm;
	int64_t id = host->event_id(ev);
	struct call_row r;
	sqlite3_stmt *st;
	int rc;

	if ((rc = load_call(s, call, id, &r)) != SQLITE_OK)
		return hm_db_error(s, rc, "read ivr_calls");
	/* Played already (by this event: a replay), the caller was quicker than
	 * this event, or the call is over: nothing to play. */
	if (r.prompt != 0 || r.completed != 0 || r.ended != 0)
		return CH_OK;
	if ((st = hm_stmt(s, ST_PROMPT, &rc)) == NULL)
		return hm_db_error(s, rc, "prepare");
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	if ((rc = hm_run(st)) != SQLITE_OK)
		return hm_db_error(s, rc, "update ivr_calls");
	if (host->play_audio(s->ctx, call, ivr->prompt_uri, ivr->prompt_loop, CTX_PROMPT) < 0)
		return action_failed(s, "the prompt", call);
	return CH_OK;
}

static enum ch_result on_ended(struct ivr *ivr, const struct ch_event *ev, const char *call)
{
	struct hm_state *s = ivr->hm;
	struct call_row r;
	sqlite3_stmt *st;
	int rc;

	if ((rc = load_call(s, call, host->event_id(ev), &r)) != SQLITE_OK)
		return hm_db_error(s, rc, "read ivr_calls");
	if ((st = hm_stmt(s, ST_ENDED, &rc)) == NULL)
		return hm_db_error(s, rc, "prepare");
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, host->event_time(ev), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, host->event_id(ev));
	if ((rc = hm_run(st)) != SQLITE_OK)
		return hm_db_error(s, rc, "update ivr_calls");
	return CH_OK;
}

/* --- tones: the choice ----------------------------------------------------- */

struct choice {
	char digits[DIGITS_MAX + 1];
	const char *by; /* "terminator" | "max_digits"; NULL: not complete */
};

/* The call's choice from its tones: from sequence id 0 or 1 on, each next
 * one the previous plus one (a gap: a tone still on its way), up to the
 * terminator or max_digits digits.  Tones without a sequence id follow in
 * event-time order.  An unknown tone takes its place but adds no digit. */
static int read_choice(struct ivr *ivr, const char *call, struct choice *c)
{
	struct hm_state *s = ivr->hm;
	int rc, n = 0, count = 0;
	int64_t prev = 0;
	sqlite3_stmt *st = hm_stmt(s, ST_TONES, &rc);

	memset(c, 0, sizeof(*c));
	if (st == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, TONES_SCAN);
	while (c->by == NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *tone = (const char *)sqlite3_column_text(st, 1);

		if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
			int64_t seq = sqlite3_column_int64(st, 0);

			if (count == 0 ? seq < 0 || seq > 1 : seq != prev + 1)
				break; /* the next tone has not arrived yet */
			prev = seq;
		}
		count++;
		if (tone == NULL || tone[0] == '\0')
			continue;
		if (tone[0] == ivr->terminator) {
			c->by = "terminator";
		} else {
			c->digits[n++] = tone[0];
			if (n == ivr->max_digits)
				c->by = "max_digits";
		}
	}
	c->digits[n] = '\0';
	return hm_finish(st, rc);
}

/* Bind the tone's sequence id (?2) and symbol (?3) from data.toneInfo. */
static void bind_tone(sqlite3_stmt *st, const struct ch_value *data)
{
	const struct ch_value *info = host->get(data, "toneInfo");
	const char *raw = host->str(info, "tone");
	char sym[2] = {0, 0}, num[24];
	int64_t seq = 0, n;
	bool has_seq = host->int64(info, "sequenceId", &seq);

	if (raw == NULL && host->int64(info, "tone", &n)) {
		snprintf(num, sizeof(num), "%lld", (long long)n); /* tolerate a bare 5 */
		raw = num;
	}
	sym[0] = hm_tone_symbol(raw);
	hm_bind_opt_int(st, 2, has_seq, seq);
	hm_bind_text(st, 3, sym[0] != 0 ? sym : NULL, sizeof(sym));
}

static int store_tone(struct hm_state *s, const struct ch_event *ev, const char *call)
{
	int rc;
	sqlite3_stmt *st = hm_stmt(s, ST_TONE, &rc);

	if (st == NULL)
		return rc;
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	bind_tone(st, host->event_data(ev));
	sqlite3_bind_int64(st, 4, host->event_id(ev));
	sqlite3_bind_int64(st, 5, host->event_time_us(ev));
	return hm_run(st);
}

static enum ch_result on_tone(struct ivr *ivr, const struct ch_event *ev, const char *call)
{
	struct hm_state *s = ivr->hm;
	int64_t id = host->event_id(ev);
	bool cancel, confirm;
	struct call_row r;
	struct choice c;
	sqlite3_stmt *st;
	int rc;

	if ((rc = load_call(s, call, id, &r)) != SQLITE_OK)
		return hm_db_error(s, rc, "read ivr_calls");
	if ((rc = store_tone(s, ev, call)) != SQLITE_OK)
		return hm_db_error(s, rc, "insert ivr_tones");
	if (r.completed != 0)
		return CH_OK; /* decided already (by this very event when replayed) */
	if ((rc = read_choice(ivr, call, &c)) != SQLITE_OK)
		return hm_db_error(s, rc, "read ivr_tones");
	if (c.by == NULL)
		return CH_OK;
	/* The prompt may still be playing if it was queued and no final result
	 * came back; after the call ended, the choice is kept and nothing sent. */
	cancel = r.ended == 0 && r.prompt != 0 && r.prompt_result == 0;
	confirm = r.ended == 0;
	if ((st = hm_stmt(s, ST_CHOICE, &rc)) == NULL)
		return hm_db_error(s, rc, "prepare");
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, c.digits, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, c.by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, host->event_time(ev), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, host->event_time_us(ev));
	sqlite3_bind_int64(st, 6, id);
	sqlite3_bind_int(st, 7, cancel);
	sqlite3_bind_int(st, 8, confirm);
	if ((rc = hm_run(st)) != SQLITE_OK)
		return hm_db_error(s, rc, "update ivr_calls");
	/* The digits stay out of the log: a choice may be a PIN. */
	host->log(s->ctx, CH_LOG_INFO, "call %s: choice of %zu digit(s) complete (%s)", call,
	          strlen(c.digits), c.by);
	if (cancel && host->cancel_media(s->ctx, call, CTX_CANCEL) < 0)
		return action_failed(s, "the prompt's cancellation", call);
	if (confirm && host->play_audio(s->ctx, call, ivr->confirm_uri, false, CTX_CONFIRM) < 0)
		return action_failed(s, "the confirmation", call);
	return CH_OK;
}

/* --- play results: the hangup -------------------------------------------------- */

/* The outcome of a final play result, NULL for one that is not final (the
 * preview's Status Running / NotStarted).  The media handler's rule: codes,
 * never the message text, decide; 400/8508 is a cancellation. */
static const char *play_outcome(const struct ch_event *ev)
{
	const struct ch_value *data = host->event_data(ev);
	const char *type = host->event_type(ev);
	const char *status = host->str(data, "Status");
	const struct ch_value *r = host->get(data, "resultInformation");
	int64_t code = 0, sub = 0;

	if (r == NULL)
		r = host->get(data, "resultInfo"); /* the preview's ResultInfo */
	host->int64(r, "code", &code);
	host->int64(r, "subCode", &sub);
	if (status != NULL &&
	    (strcasecmp(status, "Running") == 0 || strcasecmp(status, "NotStarted") == 0))
		return NULL;
	if (type_is(type, "PlayCanceled") || (code == 400 && sub == 8508))
		return "cancelled";
	if (type_is(type, "PlayFailed") || (status != NULL && strcasecmp(status, "Failed") == 0) ||
	    code >= 400)
		return "failed";
	return "completed";
}

static enum ch_result on_play_result(struct ivr *ivr, const struct ch_event *ev, const char *call)
{
	struct hm_state *s = ivr->hm;
	const char *op = host->str(host->event_data(ev), "operationContext");
	const char *outcome = play_outcome(ev);
	int64_t id = host->event_id(ev);
	bool hangup;
	struct call_row r;
	sqlite3_stmt *st;
	int rc;

	if (op == NULL || outcome == NULL ||
	    (strcmp(op, CTX_PROMPT) != 0 && strcmp(op, CTX_CONFIRM) != 0))
		return CH_OK; /* another application's play, or not over yet */
	if ((rc = load_call(s, call, id, &r)) != SQLITE_OK)
		return hm_db_error(s, rc, "read ivr_calls");
	if (strcmp(op, CTX_PROMPT) == 0) {
		if ((st = hm_stmt(s, ST_PROMPT_RESULT, &rc)) == NULL)
			return hm_db_error(s, rc, "prepare");
		sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
		rc = hm_run(st);
		return rc == SQLITE_OK ? CH_OK : hm_db_error(s, rc, "update ivr_calls");
	}
	if (r.confirm_result != 0)
		return CH_OK; /* a repeated result, or this one replayed */
	/* Hang up once the confirmation we queued is over, unless the far end did. */
	hangup = r.confirm_queued && r.ended == 0;
	if ((st = hm_stmt(s, ST_CONFIRM_RESULT, &rc)) == NULL)
		return hm_db_error(s, rc, "prepare");
	sqlite3_bind_text(st, 1, call, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
	hm_bind_opt_int(st, 4, hangup, id);
	if ((rc = hm_run(st)) != SQLITE_OK)
		return hm_db_error(s, rc, "update ivr_calls");
	if (hangup && host->hangup(s->ctx, call) < 0)
		return action_failed(s, "the hangup", call);
	return CH_OK;
}

/* --- the module -------------------------------------------------------------- */

static enum ch_result ivr_handle(void *state, const struct ch_event *ev)
{
	struct ivr *ivr = state;
	const char *type = host->event_type(ev);
	const char *call = host->event_call_id(ev);
	const struct ch_value *data = host->event_data(ev);

	if (call == NULL || call[0] == '\0' || strnlen(call, ID_MAX + 1) > ID_MAX) {
		host->log(ivr->hm->ctx, CH_LOG_WARN, "event %lld (%s): no usable call id, ignored",
		          (long long)host->event_id(ev), type);
		return CH_OK;
	}
	if (type_is(type, "CallLegStateChanged")) {
		const char *state_name = host->str(data, "CallState");

		if (state_name == NULL)
			return CH_OK;
		if (strcasecmp(state_name, "Established") == 0)
			return on_established(ivr, ev, call);
		if (strcasecmp(state_name, "Terminating") == 0 ||
		    strcasecmp(state_name, "Terminated") == 0)
			return on_ended(ivr, ev, call);
		return CH_OK;
	}
	if (type_is(type, "CallConnected"))
		return on_established(ivr, ev, call);
	if (type_is(type, "CallDisconnected"))
		return on_ended(ivr, ev, call);
	if (type_is(type, "DtmfReceived") || type_is(type, "ToneReceived") ||
	    type_is(type, "ContinuousDtmfRecognitionToneReceived"))
		return on_tone(ivr, ev, call);
	if (type_is(type, "PlayAudioResult") || type_is(type, "PlayCompleted") ||
	    type_is(type, "PlayFailed") || type_is(type, "PlayCanceled"))
		return on_play_result(ivr, ev, call);
	return CH_OK; /* a type the events key added: nothing to do with it */
}

static bool valid_uri(const char *u)
{
	return u != NULL && strnlen(u, URI_MAX + 1) <= URI_MAX &&
	       (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) &&
	       strcspn(u, " \t\r\n\"\\") == strlen(u);
}

static void ivr_fini(void *state)
{
	struct ivr *ivr = state;

	if (ivr == NULL)
		return;
	hm_fini(ivr->hm);
	free(ivr->prompt_uri);
	free(ivr->confirm_uri);
	free(ivr);
}

static int ivr_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	struct ivr *ivr;
	const char *term;
	void *hm;
	int64_t max;

	host = h;
	/* The entry refused hosts older than 1.1; a table too short for the
	 * actions or without them filled in would still crash on first use. */
	if (h->size <
	        offsetof(struct ch_host, remove_participant) + sizeof(h->remove_participant) ||
	    h->play_audio == NULL || h->cancel_media == NULL || h->hangup == NULL) {
		h->set_error(ctx, "ivr: the host offers no actions (ABI 1.1 needed)");
		return -1;
	}
	if (!valid_uri(h->opt_str(ctx, "prompt_uri")) ||
	    !valid_uri(h->opt_str(ctx, "confirm_uri"))) {
		h->set_error(ctx,
		             "ivr: prompt_uri and confirm_uri must be http:// or https:// URIs"
		             " of at most %d bytes, without spaces or quotes",
		             URI_MAX);
		return -1;
	}
	term = h->opt_str(ctx, "terminator");
	max = h->opt_int(ctx, "max_digits");
	if (hm_tone_symbol(term) == 0) {
		h->set_error(ctx, "ivr: terminator \"%.16s\" is not a DTMF tone (0-9, *, #, A-D)",
		             term != NULL ? term : "");
		return -1;
	}
	if (max < 1 || max > DIGITS_MAX) {
		h->set_error(ctx, "ivr: max_digits must be 1 to %d, not %lld", DIGITS_MAX,
		             (long long)max);
		return -1;
	}
	if ((ivr = calloc(1, sizeof(*ivr))) == NULL) {
		h->set_error(ctx, "ivr: out of memory");
		return -1;
	}
	ivr->prompt_uri = strdup(h->opt_str(ctx, "prompt_uri"));
	ivr->confirm_uri = strdup(h->opt_str(ctx, "confirm_uri"));
	ivr->terminator = hm_tone_symbol(term);
	ivr->max_digits = (int)max;
	ivr->prompt_loop = h->opt_bool(ctx, "prompt_loop");
	if (ivr->prompt_uri == NULL || ivr->confirm_uri == NULL) {
		h->set_error(ctx, "ivr: out of memory");
		ivr_fini(ivr);
		return -1;
	}
	if (hm_init(h, ctx, "ivr", sql, ST_COUNT, &hm) != 0) {
		ivr_fini(ivr);
		return -1;
	}
	ivr->hm = hm;
	*state = ivr;
	return 0;
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "ivr",
    .version = "1.0",
    .description = "incident reporter: prompt, DTMF choice, confirmation, hangup (ivr_calls)",
    .event_types = event_types,
    .options = options,
    .init = ivr_init,
    .handle = ivr_handle,
    .fini = ivr_fini,
};

/* The actions are ABI 1.1: a 1.0 host is refused here, before init. */
CH_EXPORT const struct ch_handler *ch_handler_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor)
{
	return host_abi_major == CH_ABI_MAJOR && host_abi_minor >= 1 ? &descriptor : NULL;
}
