/* envelope.c - see envelope.h.
 *
 * Detection follows ../shared/FORMATS.md "How to tell them apart", per array
 * element: "specversion" -> CloudEvents; else "eventType" -> 2021 preview
 * when "topic" is null/absent and ("subject" starts "callLeg/" or
 * "metadataVersion" is null/absent), otherwise Event Grid.  Envelope member
 * names are matched exactly (the specs fix them); data members
 * case-insensitively (preview data is PascalCase, GA data camelCase).
 *
 * Event indexes in error messages ("event 3: ...") are 0-based, the way a
 * sender's script indexes the array it posted.
 *
 * Dedupe key (SHA-256, ch_event.dedupe_key): what makes a redelivery "the
 * same event", so the journal stores it once:
 *   CloudEvents:                    "ce"  NUL source NUL id
 *   Event Grid / preview with id:   "eg"  NUL topic-or-empty NUL id
 *   no id (most preview events):    "raw" NUL the event's raw bytes
 * Source/topic and id cannot contain NUL (control characters are refused),
 * so the NUL separators make the encoding unambiguous.  Binary-mode and
 * structured CloudEvents share the "ce" form: the same event redelivered in
 * the other mode still dedupes.
 *
 * Subscription validation: the HTTP layer also sees the request header
 * "aeg-event-type: SubscriptionValidation" and answers the handshake; here we
 * only flag the event (is_validation, validation_code) so the answer can be
 * built whatever the header said.
 *
 * CloudEvents binary mode (HTTP binding section 3.1): chosen when a
 * ce-specversion header is present and the content type is not
 * application/cloudevents* (that is structured mode, whose headers the
 * binding says to ignore).  Header values are unquoted and percent-decoded as
 * binding 1.0.2 section 3.1.3.2 requires; a '%' not followed by two hex
 * digits is kept literally, because 1.0.0 senders did not encode '%'.  The
 * synthesised event is parsed like any other, so ev->json and ev->data are
 * set in binary mode too (envelope.h still says json is NULL there).
 *
 * Smaller decisions:
 *  - CloudEvents attributes that are JSON null count as absent (JSON format
 *    section 3.1), data included; for data_base64 events ev->data is NULL.
 *  - An envelope member that appears twice is refused: which "id" would the
 *    dedupe key use?  Repeated data members are left to the JSON layer.
 *  - An empty call id is "no call id", not an error: a 400 is never retried,
 *    so refusing would lose the event.
 *  - NULL limits, or a zero field in them, mean the documented defaults.
 *
 * Ownership: everything an event points to lives in the batch: strings in
 * the JSON doc, normalised times in the same block as the event array, and
 * the binary-mode structured text in batch->synth.
 */
#include "envelope.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <yajl/yajl_gen.h>

#define DEFAULT_MAX_DEPTH    64
#define DEFAULT_MAX_EVENTS   5000
#define DEFAULT_MAX_ID_LEN   1024
#define DEFAULT_MAX_TYPE_LEN 256
#define MAX_STRING           (1u << 20) /* Event Grid caps an event at 1 MB anyway */
#define TIME_LEN             CH_TIME_TEXT_SIZE
#define QUOTE_BYTES          40 /* input quoted in messages */
#define QUOTE_BUF            (QUOTE_BYTES + 4)
#define MAX_ATTR_NAME        64 /* CloudEvents: SHOULD NOT exceed 20 */

#define VALIDATION_TYPE "Microsoft.EventGrid.SubscriptionValidationEvent"

const char *ch_format_name(enum ch_format format)
{
	switch (format) {
	case CH_FORMAT_PREVIEW:
		return "preview";
	case CH_FORMAT_EVENTGRID:
		return "eventgrid";
	case CH_FORMAT_CLOUDEVENTS:
		return "cloudevents";
	}
	return "unknown";
}

/* ---- small helpers ------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0.  Strict: no
 * overlong forms, surrogates or code points above U+10FFFF, as the
 * CloudEvents HTTP binding demands of percent-decoded header values. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t need;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		need = 1;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		need = 2;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		need = 3;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (n < need + 1 || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i <= need; i++)
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	return need + 1;
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k)
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return false;
	return true;
}

/* A bounded, printable copy of input for an error message: at most
 * QUOTE_BYTES bytes cut on a character boundary, "..." when cut, control
 * characters and invalid UTF-8 as '?', so the message is always one valid
 * UTF-8 line whatever the sender put in. */
static const char *quote(const char *s, size_t n, char buf[QUOTE_BUF])
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, k;

	while (i < n) {
		k = utf8_seq(p + i, n - i);
		if (k == 0)
			k = 1;
		if (o + k > QUOTE_BYTES)
			break;
		if (k == 1 && (p[i] < 0x20 || p[i] >= 0x7f)) {
			buf[o++] = '?';
		} else {
			memcpy(buf + o, s + i, k);
			o += k;
		}
		i += k;
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static const char *json_type_name(const struct ch_json *v)
{
	switch (v->type) {
	case CH_JSON_NULL:
		return "null";
	case CH_JSON_BOOL:
		return "a boolean";
	case CH_JSON_NUMBER:
		return "a number";
	case CH_JSON_STRING:
		return "a string";
	case CH_JSON_ARRAY:
		return "an array";
	case CH_JSON_OBJECT:
		return "an object";
	}
	return "?";
}

static int oom(struct ch_error *err)
{
	return ch_error_set(err, 500, "InternalError", "out of memory");
}

static int invalid(struct ch_error *err, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 400 InvalidEvent "event <index>: <detail>". */
static int invalid(struct ch_error *err, size_t index, const char *fmt, ...)
{
	char detail[sizeof(err->message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return ch_error_set(err, 400, "InvalidEvent", "event %zu: %s", index, detail);
}

/* ---- limits -------------------------------------------------------------- */

struct limits {
	unsigned max_depth;
	size_t max_events, max_id_len, max_type_len;
};

/* NULL limits, or a zero field, mean the documented default. */
static void resolve_limits(const struct ch_envelope_limits *in, struct limits *l)
{
	l->max_depth = in && in->max_depth ? in->max_depth : DEFAULT_MAX_DEPTH;
	l->max_events = in && in->max_events ? in->max_events : DEFAULT_MAX_EVENTS;
	l->max_id_len = in && in->max_id_len ? in->max_id_len : DEFAULT_MAX_ID_LEN;
	l->max_type_len = in && in->max_type_len ? in->max_type_len : DEFAULT_MAX_TYPE_LEN;
}

/* ---- content type ---------------------------------------------------------- */

struct ctype {
	bool json;          /* application/json, text/json, application/<x>+json */
	bool ce_structured; /* application/cloudevents*: structured or batch mode */
	bool charset_ok;    /* no charset parameter, or charset=utf-8 */
	const char *charset;
	size_t charset_len;
};

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static const char *token(const char *p)
{
	while (is_tchar(*p))
		p++;
	return p;
}

static bool ci_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* RFC 9110 media-type: type "/" subtype *( OWS ";" OWS [ name "=" value ] ).
 * Returns -1 when the header is not a media type at all. */
static int parse_content_type(const char *ct, struct ctype *out)
{
	const char *type, *sub, *p;
	size_t type_len, sub_len;

	memset(out, 0, sizeof(*out));
	out->charset_ok = true;
	type = skip_ows(ct);
	p = token(type);
	type_len = (size_t)(p - type);
	if (type_len == 0 || *p != '/')
		return -1;
	sub = p + 1;
	p = token(sub);
	sub_len = (size_t)(p - sub);
	if (sub_len == 0)
		return -1;

	for (p = skip_ows(p); *p != '\0'; p = skip_ows(p)) {
		const char *name, *val, *vend;
		size_t name_len;

		if (*p != ';')
			return -1;
		p = skip_ows(p + 1);
		if (*p == ';' || *p == '\0')
			continue; /* empty parameter: tolerated, as browsers do */
		name = p;
		p = token(p);
		name_len = (size_t)(p - name);
		if (name_len == 0 || *p != '=')
			return -1;
		val = ++p;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					return -1;
				if (*p == '\\' && p[1] != '\0')
					p++;
			}
			vend = p++;
			val++;
		} else {
			p = token(p);
			vend = p;
		}
		if (ci_eq(name, name_len, "charset")) {
			out->charset = val;
			out->charset_len = (size_t)(vend - val);
			out->charset_ok = ci_eq(val, out->charset_len, "utf-8");
		}
	}

	if (ci_eq(type, type_len, "application")) {
		out->ce_structured = sub_len >= 11 && strncasecmp(sub, "cloudevents", 11) == 0;
		out->json = ci_eq(sub, sub_len, "json") ||
		            (sub_len > 5 && strncasecmp(sub + sub_len - 5, "+json", 5) == 0);
	} else if (ci_eq(type, type_len, "text")) {
		out->json = ci_eq(sub, sub_len, "json");
	}
	return 0;
}

static int unsupported_type(struct ch_error *err, const char *ct)
{
	char q[QUOTE_BUF];

	return ch_error_set(err, 415, "UnsupportedMediaType",
	                    "content type \"%s\" is not supported: send JSON "
	                    "(application/json or application/cloudevents+json)",
	                    quote(ct, strlen(ct), q));
}

static int unsupported_charset(struct ch_error *err, const struct ctype *t)
{
	char q[QUOTE_BUF];

	return ch_error_set(err, 415, "UnsupportedMediaType",
	                    "charset \"%s\" is not supported: JSON must be utf-8",
	                    quote(t->charset, t->charset_len, q));
}

/* ---- per-event validation ------------------------------------------------- */

/* Envelope members whose repetition would make an event ambiguous (which id
 * is the dedupe key?), so a repeated one is refused rather than guessed. */
static const char *const envelope_members[] = {
    "specversion", "id",   "source",      "type",  "subject",   "time",      "datacontenttype",
    "dataschema",  "data", "data_base64", "topic", "eventType", "eventTime", "metadataVersion",
    "dataVersion",
};

static int check_duplicates(const struct ch_json *obj, size_t index, struct ch_error *err)
{
	for (size_t m = 0; m < sizeof(envelope_members) / sizeof(envelope_members[0]); m++) {
		const char *name = envelope_members[m];
		size_t len = strlen(name), seen = 0;

		for (size_t i = 0; i < obj->u.object.n; i++)
			if (obj->u.object.key_lens[i] == len &&
			    memcmp(obj->u.object.keys[i], name, len) == 0 && ++seen > 1)
				return invalid(err, index, "member \"%s\" appears more than once",
				               name);
	}
	return 0;
}

/* A string member: required (missing or null refused) or optional (NULL out
 * when missing or null).  Length and control characters are checked here so
 * every field obeys the same rules. */
enum req { OPTIONAL, REQUIRED };

struct text_rule {
	size_t max_len;
	bool allow_empty;
	bool allow_space;
};

static int check_text(const char *field, const struct ch_json *v, const struct text_rule *rule,
                      size_t index, struct ch_error *err)
{
	const char *s = v->u.str.ptr;
	size_t n = v->u.str.len;
	char q[QUOTE_BUF];

	if (n == 0 && !rule->allow_empty)
		return invalid(err, index, "field \"%s\": empty", field);
	if (n > rule->max_len)
		return invalid(err, index, "field \"%s\": longer than %zu bytes (\"%s\")", field,
		               rule->max_len, quote(s, n, q));
	if (has_control(s, n))
		return invalid(err, index, "field \"%s\": contains a control character (\"%s\")",
		               field, quote(s, n, q));
	if (!rule->allow_space && memchr(s, ' ', n) != NULL)
		return invalid(err, index, "field \"%s\": contains a space (\"%s\")", field,
		               quote(s, n, q));
	return 0;
}

static int get_text(const struct ch_json *obj, const char *field, enum req req,
                    const struct text_rule *rule, size_t index, const char **out,
                    struct ch_error *err)
{
	const struct ch_json *v = ch_json_get(obj, field);

	*out = NULL;
	if (v == NULL || v->type == CH_JSON_NULL) {
		if (req == REQUIRED)
			return invalid(err, index, "field \"%s\": missing", field);
		return 0;
	}
	if (v->type != CH_JSON_STRING)
		return invalid(err, index, "field \"%s\": must be a string, not %s", field,
		               json_type_name(v));
	if (check_text(field, v, rule, index, err) < 0)
		return -1;
	*out = v->u.str.ptr;
	return 0;
}

static int get_time(const struct ch_json *obj, const char *field, enum req req, size_t index,
                    struct ch_parsed_event *ev, char *timebuf, struct ch_error *err)
{
	const struct ch_json *v = ch_json_get(obj, field);
	char q[QUOTE_BUF];

	if (v == NULL || v->type == CH_JSON_NULL) {
		if (req == REQUIRED)
			return invalid(err, index, "field \"%s\": missing", field);
		return 0;
	}
	if (v->type != CH_JSON_STRING)
		return invalid(err, index, "field \"%s\": must be a string, not %s", field,
		               json_type_name(v));
	if (ch_time_parse(v->u.str.ptr, v->u.str.len, &ev->time_us) < 0)
		return invalid(err, index, "field \"%s\": not an RFC 3339 date-time (\"%s\")",
		               field, quote(v->u.str.ptr, v->u.str.len, q));
	ch_time_format(ev->time_us, timebuf);
	ev->time = timebuf;
	return 0;
}

static int validate_cloudevent(const struct ch_json *obj, size_t index, const struct limits *l,
                               struct ch_parsed_event *ev, char *timebuf, struct ch_error *err)
{
	const struct text_rule id_rule = {l->max_id_len, false, true};
	const struct text_rule opt_rule = {l->max_id_len, true, true};
	const struct text_rule type_rule = {l->max_type_len, false, false};
	const struct ch_json *sv = ch_json_get(obj, "specversion"), *data, *b64;
	const char *ignored;
	char q[QUOTE_BUF];

	ev->format = CH_FORMAT_CLOUDEVENTS;
	if (sv->type != CH_JSON_STRING)
		return invalid(err, index,
		               "field \"specversion\": must be the string \"1.0\", not %s",
		               json_type_name(sv));
	if (strcmp(sv->u.str.ptr, "1.0") != 0 || sv->u.str.len != 3)
		return invalid(err, index,
		               "field \"specversion\": unsupported value \"%s\" (only \"1.0\")",
		               quote(sv->u.str.ptr, sv->u.str.len, q));
	if (get_text(obj, "id", REQUIRED, &id_rule, index, &ev->id, err) < 0 ||
	    get_text(obj, "source", REQUIRED, &id_rule, index, &ev->source, err) < 0 ||
	    get_text(obj, "type", REQUIRED, &type_rule, index, &ev->type, err) < 0 ||
	    get_text(obj, "subject", OPTIONAL, &opt_rule, index, &ev->subject, err) < 0 ||
	    get_time(obj, "time", OPTIONAL, index, ev, timebuf, err) < 0)
		return -1;

	/* datacontenttype is not interpreted here, only type-checked. */
	if (get_text(obj, "datacontenttype", OPTIONAL,
	             &(const struct text_rule){MAX_STRING, true, true}, index, &ignored, err) < 0)
		return -1;

	/* JSON format section 3.1: a null attribute is the same as an absent one;
	 * this holds for data too, so data:null + data_base64 is fine. */
	data = ch_json_get(obj, "data");
	b64 = ch_json_get(obj, "data_base64");
	if (data != NULL && data->type == CH_JSON_NULL)
		data = NULL;
	if (b64 != NULL && b64->type == CH_JSON_NULL)
		b64 = NULL;
	if (data != NULL && b64 != NULL)
		return invalid(err, index, "fields \"data\" and \"data_base64\" are exclusive");
	if (b64 != NULL && b64->type != CH_JSON_STRING)
		return invalid(err, index, "field \"data_base64\": must be a string, not %s",
		               json_type_name(b64));
	/* ev->data stays NULL for data_base64: handlers address JSON data; the
	 * encoded bytes remain reachable through ev->json. */
	ev->data = data;
	return 0;
}

static int validate_eventgrid(const struct ch_json *obj, size_t index, const struct limits *l,
                              struct ch_parsed_event *ev, char *timebuf, struct ch_error *err)
{
	const struct text_rule id_rule = {l->max_id_len, false, true};
	const struct text_rule opt_rule = {l->max_id_len, true, true};
	const struct text_rule type_rule = {l->max_type_len, false, false};
	const struct text_rule version_rule = {l->max_id_len, true, true};
	const struct ch_json *data;
	const char *ignored;

	/* The preview sends "id": null on all but InviteParticipantResult; Event
	 * Grid always sets one, and its dedupe relies on it. */
	if (get_text(obj, "id", ev->format == CH_FORMAT_PREVIEW ? OPTIONAL : REQUIRED, &id_rule,
	             index, &ev->id, err) < 0 ||
	    get_text(obj, "topic", OPTIONAL, &opt_rule, index, &ev->source, err) < 0 ||
	    get_text(obj, "subject", OPTIONAL, &opt_rule, index, &ev->subject, err) < 0 ||
	    get_text(obj, "eventType", REQUIRED, &type_rule, index, &ev->type, err) < 0 ||
	    get_time(obj, "eventTime", REQUIRED, index, ev, timebuf, err) < 0 ||
	    get_text(obj, "dataVersion", OPTIONAL, &version_rule, index, &ignored, err) < 0 ||
	    get_text(obj, "metadataVersion", OPTIONAL, &version_rule, index, &ignored, err) < 0)
		return -1;

	data = ch_json_get(obj, "data");
	if (data == NULL)
		return invalid(err, index, "field \"data\": missing");
	if (data->type != CH_JSON_OBJECT)
		return invalid(err, index, "field \"data\": must be an object, not %s",
		               json_type_name(data));
	ev->data = data;
	return 0;
}

/* data.CallLegId (preview) else data.callConnectionId (GA); either only when
 * it is a non-empty string, so a null CallLegId still lets callConnectionId
 * through.  An empty one is "no call", not a reason to refuse the event: a
 * 400 is never retried, so the event would be lost. */
static int find_call_id(struct ch_parsed_event *ev, size_t index, const struct limits *l,
                        struct ch_error *err)
{
	static const char *const names[] = {"CallLegId", "callConnectionId"};
	const struct text_rule rule = {l->max_id_len, false, true};
	char field[32];

	if (ev->data == NULL || ev->data->type != CH_JSON_OBJECT)
		return 0;
	for (size_t i = 0; i < 2; i++) {
		const struct ch_json *v = ch_json_get_ci(ev->data, names[i]);

		if (v == NULL || v->type != CH_JSON_STRING || v->u.str.len == 0)
			continue;
		snprintf(field, sizeof(field), "data.%s", names[i]);
		if (check_text(field, v, &rule, index, err) < 0)
			return -1;
		ev->call_id = v->u.str.ptr;
		return 0;
	}
	return 0;
}

static int find_validation_code(struct ch_parsed_event *ev, size_t index, const struct limits *l,
                                struct ch_error *err)
{
	const struct text_rule rule = {l->max_id_len, false, true};
	const struct ch_json *v;

	if (strcmp(ev->type, VALIDATION_TYPE) != 0)
		return 0;
	v = ev->data != NULL ? ch_json_get_ci(ev->data, "validationCode") : NULL;
	if (v == NULL || v->type == CH_JSON_NULL)
		return invalid(err, index, "field \"data.validationCode\": missing");
	if (v->type != CH_JSON_STRING)
		return invalid(err, index,
		               "field \"data.validationCode\": must be a string, not %s",
		               json_type_name(v));
	if (check_text("data.validationCode", v, &rule, index, err) < 0)
		return -1;
	ev->is_validation = true;
	ev->validation_code = v->u.str.ptr;
	return 0;
}

static int dedupe_key(struct ch_parsed_event *ev, struct ch_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int md_len = 0;
	int ok;

	if (ctx == NULL)
		return oom(err);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	if (ev->format == CH_FORMAT_CLOUDEVENTS || ev->id != NULL) {
		const char *ns = ev->format == CH_FORMAT_CLOUDEVENTS ? "ce" : "eg";
		const char *src = ev->source != NULL ? ev->source : "";

		/* strlen + 1 hashes the NUL separator along with each part. */
		ok = ok && EVP_DigestUpdate(ctx, ns, 3) &&
		     EVP_DigestUpdate(ctx, src, strlen(src) + 1) &&
		     EVP_DigestUpdate(ctx, ev->id, strlen(ev->id));
	} else {
		ok = ok && EVP_DigestUpdate(ctx, "raw", 4) &&
		     EVP_DigestUpdate(ctx, ev->raw, ev->raw_len);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, ev->dedupe_key, &md_len) && md_len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return ch_error_set(err, 500, "InternalError", "SHA-256 failed");
	return 0;
}

/* Validate and normalise one array element (or the top-level object). */
static int parse_event(const struct ch_json *obj, size_t index, const char *text, size_t text_len,
                       const struct limits *l, struct ch_parsed_event *ev, char *timebuf,
                       struct ch_error *err)
{
	const struct ch_json *topic, *subject, *meta;
	int rc;

	if (obj->type != CH_JSON_OBJECT)
		return invalid(err, index, "not a JSON object");
	if (obj->end > text_len || obj->start >= obj->end)
		return ch_error_set(err, 500, "InternalError", "event %zu: bad span", index);
	ev->raw = text + obj->start;
	ev->raw_len = obj->end - obj->start;
	ev->json = obj;
	if (check_duplicates(obj, index, err) < 0)
		return -1;

	if (ch_json_get(obj, "specversion") != NULL) {
		rc = validate_cloudevent(obj, index, l, ev, timebuf, err);
	} else if (ch_json_get(obj, "eventType") != NULL) {
		topic = ch_json_get(obj, "topic");
		subject = ch_json_get(obj, "subject");
		meta = ch_json_get(obj, "metadataVersion");
		ev->format = CH_FORMAT_EVENTGRID;
		if ((topic == NULL || topic->type == CH_JSON_NULL) &&
		    ((subject != NULL && subject->type == CH_JSON_STRING &&
		      strncmp(subject->u.str.ptr, "callLeg/", 8) == 0) ||
		     meta == NULL || meta->type == CH_JSON_NULL))
			ev->format = CH_FORMAT_PREVIEW;
		rc = validate_eventgrid(obj, index, l, ev, timebuf, err);
	} else if (ch_json_get(obj, "type") != NULL) {
		return invalid(err, index, "missing \"specversion\" (a CloudEvent needs \"1.0\")");
	} else {
		return invalid(err, index,
		               "no \"eventType\" (Event Grid/preview) or \"type\"+\"specversion\" "
		               "(CloudEvents) member");
	}
	if (rc < 0 || find_call_id(ev, index, l, err) < 0 ||
	    find_validation_code(ev, index, l, err) < 0)
		return -1;
	return dedupe_key(ev, err);
}

/* One block holds the events and, after them, their normalised times, so the
 * batch frees both with one free(batch->events). */
static int alloc_events(struct ch_batch *b, size_t n, struct ch_error *err)
{
	if (n > SIZE_MAX / (sizeof(struct ch_parsed_event) + TIME_LEN))
		return oom(err);
	b->events = calloc(n, sizeof(struct ch_parsed_event) + TIME_LEN);
	if (b->events == NULL)
		return oom(err);
	b->n = n;
	return 0;
}

static char *time_slot(struct ch_batch *b, size_t i)
{
	return (char *)(b->events + b->n) + i * TIME_LEN;
}

/* ---- structured bodies ------------------------------------------------------ */

static int parse_structured(const char *body, size_t len, const struct limits *l,
                            struct ch_batch *b, struct ch_error *err)
{
	const struct ch_json_limits jl = {l->max_depth, MAX_STRING};
	const struct ch_json *root;
	size_t n;

	if (ch_json_parse(body, len, &jl, &b->doc, err) < 0)
		return -1;
	root = ch_json_root(b->doc);
	if (root->type == CH_JSON_OBJECT) {
		n = 1;
	} else if (root->type == CH_JSON_ARRAY) {
		n = root->u.array.n;
		if (n == 0)
			return ch_error_set(err, 400, "EmptyBatch", "the event array is empty");
	} else {
		return ch_error_set(err, 400, "InvalidEnvelope",
		                    "body must be a JSON object or array of events, not %s",
		                    json_type_name(root));
	}
	if (n > l->max_events)
		return ch_error_set(err, 413, "TooManyEvents",
		                    "%zu events in one body; the limit is %zu", n, l->max_events);
	if (alloc_events(b, n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct ch_json *obj =
		    root->type == CH_JSON_OBJECT ? root : root->u.array.items[i];

		if (parse_event(obj, i, body, len, l, &b->events[i], time_slot(b, i), err) < 0)
			return -1;
	}
	return 0;
}

/* ---- CloudEvents binary mode -------------------------------------------------- */

struct attr {
	char name[MAX_ATTR_NAME + 1]; /* lower-cased, without "ce-" */
	const char *value;            /* decoded, in the decode arena */
	size_t value_len;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* HTTP binding 3.1.3.2: undo quoted-string escaping, then one round of
 * percent-decoding.  out has room for n bytes; returns the decoded length. */
static size_t decode_header_value(const char *v, size_t n, char *out)
{
	size_t o = 0;

	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n; i++) {
			if (v[i] == '\\' && i + 2 < n)
				i++;
			out[o++] = v[i];
		}
	} else {
		memcpy(out, v, n);
		o = n;
	}
	/* In place: decoding only ever shrinks the text. */
	n = o;
	o = 0;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (out[i] == '%' && i + 2 < n && (hi = hexval(out[i + 1])) >= 0 &&
		    (lo = hexval(out[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = out[i];
		}
	}
	return o;
}

/* Entries with a NULL name or value are skipped rather than trusted. */
static bool is_ce_header(const struct ch_header *h)
{
	return h->name != NULL && h->value != NULL && strncasecmp(h->name, "ce-", 3) == 0;
}

static const struct attr *find_attr(const struct attr *attrs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/* Collect and decode the ce-* headers into attrs (caller frees *attrs and
 * *arena).  Names are checked here; values are checked after synthesis,
 * by the same code as structured events. */
static int collect_attrs(const struct ch_envelope_input *in, struct attr **attrs_out, size_t *n_out,
                         char **arena_out, struct ch_error *err)
{
	struct attr *attrs;
	char *arena, *w;
	size_t n = 0, total = 0;

	for (size_t i = 0; i < in->n_headers; i++) {
		if (!is_ce_header(&in->headers[i]))
			continue;
		n++;
		total += strlen(in->headers[i].value) + 1;
	}
	attrs = calloc(n ? n : 1, sizeof(*attrs));
	arena = malloc(total ? total : 1);
	*attrs_out = attrs;
	*arena_out = arena;
	*n_out = 0;
	if (attrs == NULL || arena == NULL)
		return oom(err);

	w = arena;
	for (size_t i = 0; i < in->n_headers; i++) {
		const char *hname = in->headers[i].name, *value = in->headers[i].value;
		struct attr *a = &attrs[*n_out];
		size_t name_len;
		char q[QUOTE_BUF];

		if (!is_ce_header(&in->headers[i]))
			continue;
		name_len = strlen(hname) - 3;
		if (name_len == 0 || name_len > MAX_ATTR_NAME)
			return invalid(err, 0, "header \"%s\": not a CloudEvents attribute name",
			               quote(hname, strlen(hname), q));
		for (size_t k = 0; k < name_len; k++) {
			char c = hname[3 + k];

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
				return invalid(err, 0,
				               "header \"%s\": not a CloudEvents attribute name "
				               "(only a-z and 0-9)",
				               quote(hname, strlen(hname), q));
			a->name[k] = c;
		}
		a->name[name_len] = '\0';
		/* "data" would collide with the body; datacontenttype comes from
		 * Content-Type and binding 3.1.1 forbids the header. */
		if (strcmp(a->name, "data") == 0 || strcmp(a->name, "datacontenttype") == 0)
			return invalid(err, 0, "header \"%s\": not allowed in binary mode",
			               quote(hname, strlen(hname), q));
		if (find_attr(attrs, *n_out, a->name) != NULL)
			return invalid(err, 0, "header \"%s\": repeated",
			               quote(hname, strlen(hname), q));
		a->value = w;
		a->value_len = decode_header_value(value, strlen(value), w);
		if (!utf8_valid(a->value, a->value_len))
			return invalid(err, 0,
			               "header \"%s\": not valid UTF-8 once percent-decoded",
			               quote(hname, strlen(hname), q));
		if (has_control(a->value, a->value_len))
			return invalid(err, 0, "header \"%s\": contains a control character",
			               quote(hname, strlen(hname), q));
		w[a->value_len] = '\0';
		w += a->value_len + 1;
		(*n_out)++;
	}
	return 0;
}

static bool gen_pair(yajl_gen g, const char *key, const char *value, size_t len)
{
	return yajl_gen_string(g, (const unsigned char *)key, strlen(key)) == yajl_gen_status_ok &&
	       yajl_gen_string(g, (const unsigned char *)value, len) == yajl_gen_status_ok;
}

static bool only_ows(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Build the structured event: attributes through yajl_gen (it does the
 * escaping), then the data appended as text, because yajl_gen cannot embed
 * a JSON value verbatim.  The map is left open for that reason. */
static int synthesise(const struct attr *attrs, size_t n_attrs, const char *body, size_t len,
                      const char *content_type, bool body_is_json, char **out, size_t *out_len,
                      struct ch_error *err)
{
	static const char *const order[] = {"specversion", "id",      "source",
	                                    "type",        "subject", "time"};
	bool has_data = len > 0 && !(body_is_json && only_ows(body, len));
	char *b64 = NULL, *s = NULL;
	const unsigned char *buf;
	size_t buf_len, need;
	yajl_gen g;
	bool ok;

	g = yajl_gen_alloc(NULL);
	if (g == NULL)
		return oom(err);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	ok = yajl_gen_map_open(g) == yajl_gen_status_ok;
	/* The context attributes first, in the spec's order, then extensions in
	 * the order received: stable output for stable input. */
	for (size_t i = 0; ok && i < sizeof(order) / sizeof(order[0]); i++) {
		const struct attr *a = find_attr(attrs, n_attrs, order[i]);

		if (a != NULL)
			ok = gen_pair(g, a->name, a->value, a->value_len);
	}
	if (ok && has_data && content_type != NULL)
		ok = gen_pair(g, "datacontenttype", content_type, strlen(content_type));
	for (size_t i = 0; ok && i < n_attrs; i++) {
		bool known = false;

		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			known = known || strcmp(attrs[i].name, order[k]) == 0;
		if (!known)
			ok = gen_pair(g, attrs[i].name, attrs[i].value, attrs[i].value_len);
	}
	if (ok && has_data && !body_is_json) {
		if (len > INT_MAX / 4 * 3 - 3) {
			yajl_gen_free(g);
			return ch_error_set(err, 413, "PayloadTooLarge", "body too large");
		}
		b64 = malloc(4 * ((len + 2) / 3) + 1);
		if (b64 == NULL) {
			yajl_gen_free(g);
			return oom(err);
		}
		need = (size_t)EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)body,
		                               (int)len);
		ok = gen_pair(g, "data_base64", b64, need);
		free(b64);
	}
	if (ok && !(has_data && body_is_json))
		ok = yajl_gen_map_close(g) == yajl_gen_status_ok;
	if (!ok || yajl_gen_get_buf(g, &buf, &buf_len) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		return ch_error_set(err, 500, "InternalError", "could not build the event");
	}

	need = buf_len + 1;
	if (has_data && body_is_json)
		need += sizeof(",\"data\":") - 1 + len + 1;
	s = malloc(need);
	if (s == NULL) {
		yajl_gen_free(g);
		return oom(err);
	}
	memcpy(s, buf, buf_len);
	*out_len = buf_len;
	yajl_gen_free(g);
	if (has_data && body_is_json) {
		memcpy(s + *out_len, ",\"data\":", 8);
		*out_len += 8;
		memcpy(s + *out_len, body, len);
		*out_len += len;
		s[(*out_len)++] = '}';
	}
	s[*out_len] = '\0';
	*out = s;
	return 0;
}

static int parse_binary(const char *body, size_t len, const struct ch_envelope_input *in,
                        const struct ctype *ct, const struct limits *l, struct ch_batch *b,
                        struct ch_error *err)
{
	static const char *const required[] = {"specversion", "id", "source", "type"};
	/* The synthesised event nests the body one level deeper, and its
	 * data_base64 string is 4/3 of the body, which the HTTP layer has
	 * already bounded. */
	const struct ch_json_limits body_jl = {l->max_depth, MAX_STRING};
	const struct ch_json_limits jl = {l->max_depth < UINT_MAX ? l->max_depth + 1 : UINT_MAX,
	                                  len / 3 * 4 + 4 > MAX_STRING ? len / 3 * 4 + 4
	                                                               : MAX_STRING};
	const struct attr *a;
	struct attr *attrs = NULL;
	size_t n_attrs = 0, synth_len = 0;
	char *arena = NULL, q[QUOTE_BUF];
	bool json = in->content_type == NULL || ct->json;
	int64_t us;
	int rc = -1;

	if (collect_attrs(in, &attrs, &n_attrs, &arena, err) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (find_attr(attrs, n_attrs, required[i]) == NULL) {
			invalid(err, 0, "header \"ce-%s\": missing", required[i]);
			goto out;
		}
	}
	a = find_attr(attrs, n_attrs, "specversion");
	if (strcmp(a->value, "1.0") != 0) {
		invalid(err, 0,
		        "header \"ce-specversion\": unsupported value \"%s\" (only \"1.0\")",
		        quote(a->value, a->value_len, q));
		goto out;
	}
	a = find_attr(attrs, n_attrs, "time");
	if (a != NULL && ch_time_parse(a->value, a->value_len, &us) < 0) {
		invalid(err, 0, "header \"ce-time\": not an RFC 3339 date-time (\"%s\")",
		        quote(a->value, a->value_len, q));
		goto out;
	}
	if (json && in->content_type != NULL && !ct->charset_ok) {
		unsupported_charset(err, ct);
		goto out;
	}
	if (json && len > 0 && !only_ows(body, len)) {
		struct ch_json_doc *check = NULL;

		/* Parsed on its own first so a JSON error's offset is the body's. */
		if (ch_json_parse(body, len, &body_jl, &check, err) < 0)
			goto out;
		ch_json_doc_free(check);
	}
	if (synthesise(attrs, n_attrs, body, len, in->content_type, json, &b->synth, &synth_len,
	               err) < 0)
		goto out;
	if (ch_json_parse(b->synth, synth_len, &jl, &b->doc, err) < 0)
		goto out;
	if (alloc_events(b, 1, err) < 0)
		goto out;
	rc = parse_event(ch_json_root(b->doc), 0, b->synth, synth_len, l, &b->events[0],
	                 time_slot(b, 0), err);
out:
	free(attrs);
	free(arena);
	return rc;
}

/* ---- entry points -------------------------------------------------------------- */

static bool has_ce_specversion(const struct ch_envelope_input *in)
{
	for (size_t i = 0; i < in->n_headers; i++)
		if (is_ce_header(&in->headers[i]) &&
		    strcasecmp(in->headers[i].name, "ce-specversion") == 0)
			return true;
	return false;
}

int ch_envelope_parse(const char *body, size_t len, const struct ch_envelope_input *in,
                      const struct ch_envelope_limits *limits, struct ch_batch *out,
                      struct ch_error *err)
{
	static const struct ch_envelope_input no_input = {NULL, NULL, 0};
	struct ch_batch b = {0};
	struct ctype ct = {.charset_ok = true};
	struct limits l;
	int rc;

	memset(out, 0, sizeof(*out));
	ch_error_clear(err);
	if (in == NULL)
		in = &no_input;
	if (body == NULL)
		body = "";
	resolve_limits(limits, &l);

	if (in->content_type != NULL && parse_content_type(in->content_type, &ct) < 0)
		return unsupported_type(err, in->content_type);

	if (has_ce_specversion(in) && !ct.ce_structured) {
		rc = parse_binary(body, len, in, &ct, &l, &b, err);
	} else {
		if (in->content_type != NULL && !ct.json)
			return unsupported_type(err, in->content_type);
		if (!ct.charset_ok)
			return unsupported_charset(err, &ct);
		rc = parse_structured(body, len, &l, &b, err);
	}
	if (rc < 0) {
		ch_batch_free(&b);
		return -1;
	}
	*out = b;
	return 0;
}

void ch_batch_free(struct ch_batch *batch)
{
	if (batch == NULL)
		return;
	free(batch->events);
	if (batch->doc != NULL)
		ch_json_doc_free(batch->doc);
	free(batch->synth);
	memset(batch, 0, sizeof(*batch));
}
