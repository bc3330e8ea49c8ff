/* dtmf.c - DTMF tones received on a call, into dtmf_tones (schema/005_dtmf.sql).
 *
 * Three event shapes carry one tone each: the 2021 preview DtmfReceived
 * (data.ToneInfo.{SequenceId,Tone}, tones spelled "Tone1"), GA ToneReceived
 * and GA ContinuousDtmfRecognitionToneReceived (data.toneInfo.{sequenceId,
 * tone,participantId}, tones spelled "one", "pound", "asterisk").  Paths are
 * case-insensitive, so one lookup serves every casing.
 *
 * ContinuousDtmfRecognitionToneFailed and ContinuousDtmfRecognitionStopped are
 * subscribed (ContinuousDtmfRecognition*) so that every continuous-DTMF event
 * gets a delivery, but they carry no tone: they are acknowledged (CH_OK)
 * without a row, and stay in the journal for whoever needs them.
 *
 * Idempotence: one row per journal row (UNIQUE event_id), and a sequence id
 * already recorded for the call is a redelivery of the same tone (UNIQUE
 * (call_id, sequence_id)); ON CONFLICT DO NOTHING keeps the first one
 * journaled.  (Not INSERT OR IGNORE: that would also drop a row breaking a
 * NOT NULL or CHECK constraint without a word.)
 *
 * Time: the SDK's continuous-DTMF samples put time/subject inside data and
 * none in the envelope.  The host then reports the time of receipt; when the
 * envelope had no time and data.time parses, that is used instead, so tones
 * without sequence ids still sort by when they were pressed.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "module_common.h"

#define TONE_RAW_MAX 64   /* longer "tones" are kept truncated, they are not tones */
#define ID_MAX       1024 /* participant and call ids are GUID-sized in practice */
#define TIME_TEXT    32   /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL, with room */

static const struct ch_host *host;

/* Prefix patterns: the host caps a descriptor at four.  handle() picks the
 * types it knows from what they match (see is_tone_type). */
static const char *const event_types[] = {
    "Microsoft.Communication.DtmfReceived",
    "Microsoft.Communication.ToneReceived",
    "Microsoft.Communication.ContinuousDtmfRecognition*",
    NULL,
};

/* The types that carry one tone; every other matching type (ToneFailed,
 * Stopped, names yet to come) is acknowledged without a row. */
static const char *const tone_types[] = {
    "Microsoft.Communication.DtmfReceived",
    "Microsoft.Communication.ToneReceived",
    "Microsoft.Communication.ContinuousDtmfRecognitionToneReceived",
};

/* The one statement, prepared on first use (module_common.h). */
static const char *const sql[] = {
    "INSERT INTO dtmf_tones (call_id, sequence_id, tone, tone_raw, participant_id,"
    " event_type, event_id, event_time, event_time_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT DO NOTHING",
};

/* --- event time from data.time ------------------------------------------- */

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's formula). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to microseconds. */
static int parse_time(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec, off = 0;
	int64_t frac = 0, scale = 1000000;
	size_t i = 19;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -1;
	y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; isdigit((unsigned char)s[i]); i++) {
			if (scale > 1)
				scale /= 10, frac += (s[i] - '0') * scale;
		}
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
		off = 0;
	} else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 && s[i + 3] == ':') {
		int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
		if (oh < 0 || om < 0)
			return -1;
		off = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
	} else {
		return -1;
	}
	*us =
	    ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - off * 60) * 1000000 +
	    frac;
	return 0;
}

static int format_time(int64_t us, char *out, size_t size)
{
	time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long micros = (long)(us - (int64_t)secs * 1000000);
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL)
		return -1;
	return snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros) > 0
	           ? 0
	           : -1;
}

struct when {
	const char *text;
	int64_t us;
	char buf[TIME_TEXT];
};

/* The event's time: the envelope's, else data.time (SDK sample shape). */
static void event_when(const struct ch_event *ev, struct when *w)
{
	const struct ch_value *root = host->event_root(ev);
	int64_t us;

	w->text = host->event_time(ev);
	w->us = host->event_time_us(ev);
	if (host->str(root, "time") != NULL || host->str(root, "eventTime") != NULL)
		return;
	if (parse_time(host->str(host->event_data(ev), "time"), &us) == 0 &&
	    format_time(us, w->buf, sizeof(w->buf)) == 0) {
		w->text = w->buf;
		w->us = us;
	}
}

/* --- handle -------------------------------------------------------------- */

static bool is_tone_type(const char *type)
{
	for (size_t i = 0; i < sizeof(tone_types) / sizeof(tone_types[0]); i++) {
		if (strcmp(type, tone_types[i]) == 0)
			return true;
	}
	return false;
}

/* Bind the tone columns (?2 sequence_id .. ?5 participant_id) from data. */
static void bind_tone(sqlite3_stmt *st, const struct ch_value *data)
{
	const struct ch_value *info = host->get(data, "toneInfo");
	const char *raw = host->str(info, "tone");
	const char *participant = host->str(info, "participantId");
	char sym[2] = {0, 0}, num[24];
	int64_t seq = 0, n;
	bool has_seq;

	if (raw == NULL && host->int64(info, "tone", &n)) {
		snprintf(num, sizeof(num), "%lld", (long long)n); /* tolerate a bare 5 */
		raw = num;
	}

	has_seq = host->int64(info, "sequenceId", &seq);
	hm_bind_opt_int(st, 2, has_seq, seq);
	sym[0] = hm_tone_symbol(raw);
	hm_bind_text(st, 3, sym[0] != 0 ? sym : NULL, sizeof(sym));
	hm_bind_text(st, 4, raw, TONE_RAW_MAX);
	if (participant == NULL)
		participant = host->str(data, "participantId");
	hm_bind_text(st, 5, participant, ID_MAX);
}

static enum ch_result dtmf_handle(void *state, const struct ch_event *ev)
{
	struct hm_state *s = state;
	const char *type = host->event_type(ev);
	struct when w;
	sqlite3_stmt *st;
	int rc;

	if (!is_tone_type(type))
		return CH_OK; /* no tone: nothing to record (see the top of the file) */
	if (hm_db(s) == NULL)
		return hm_db_error(s, SQLITE_BUSY, "no database transaction");
	rc = hm_prepare(s);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "prepare");
	st = s->stmt[0];
	event_when(ev, &w);
	hm_bind_text(st, 1, host->event_call_id(ev), ID_MAX);
	bind_tone(st, host->event_data(ev));
	hm_bind_text(st, 6, type, ID_MAX);
	sqlite3_bind_int64(st, 7, host->event_id(ev));
	hm_bind_text(st, 8, w.text, TIME_TEXT);
	sqlite3_bind_int64(st, 9, w.us);
	rc = hm_run(st);
	if (rc != SQLITE_OK)
		return hm_db_error(s, rc, "insert dtmf_tones");
	return CH_OK;
}

static int dtmf_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	host = h;
	return hm_init(h, ctx, "dtmf", sql, sizeof(sql) / sizeof(sql[0]), state);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .name = "dtmf",
    .version = "1.0",
    .description = "DTMF tones per call (dtmf_tones)",
    .event_types = event_types,
    .init = dtmf_init,
    .handle = dtmf_handle,
    .fini = hm_fini,
};

HM_HANDLER_ENTRY(descriptor)
