/* fuzz_envelope.c - libFuzzer target: ch_envelope_parse on hostile bodies.
 *
 * The first input byte chooses how the request is framed, the rest is the
 * body (so the seeds are fixtures with one selector byte in front):
 *   selector % 6:  0 application/json            1 application/cloudevents+json
 *                  2 application/cloudevents-batch+json
 *                  3 no Content-Type             4 binary mode, fixed ce-* headers
 *                  5 binary mode, headers from the input: "name: value" lines up to
 *                    the first empty line, then the body (no empty line: no body)
 *   selector & 0x80: tight limits instead of the defaults, to reach the limit paths.
 *   selector >> 3 & 3 (mode 4): the Content-Type of the binary-mode body.
 *
 * Every property checked below is one the rest of the daemon relies on; a
 * violation calls abort() so libFuzzer reports it with the input.  Leaks are
 * LeakSanitizer's business (libFuzzer's -detect_leaks=1 default).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"

#define MAX_HEADERS 16
#define VALIDATION  "Microsoft.EventGrid.SubscriptionValidationEvent"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Report which property broke, then abort so the fuzzer keeps the input. */
#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_envelope: %s:%d: invariant failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The request as the HTTP layer would hand it over; owns its strings. */
struct request {
	const char *body;
	size_t len;
	struct ch_header headers[MAX_HEADERS];
	char *owned[2 * MAX_HEADERS];
	size_t n_owned;
	struct ch_envelope_input in;
	struct ch_envelope_limits limits;
};

static const struct ch_envelope_limits tight = {4, 3, 16, 32};

static bool utf8_valid(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t need;
		uint32_t cp;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xE0) == 0xC0)
			need = 1, cp = p[i] & 0x1F;
		else if ((p[i] & 0xF0) == 0xE0)
			need = 2, cp = p[i] & 0x0F;
		else if ((p[i] & 0xF8) == 0xF0)
			need = 3, cp = p[i] & 0x07;
		else
			return false;
		if (i + need >= n)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) ||
		    (need == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

static bool has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static char *keep(struct request *r, const char *s, size_t n)
{
	char *copy = malloc(n + 1);

	REQUIRE(copy != NULL && r->n_owned < 2 * MAX_HEADERS);
	memcpy(copy, s, n);
	copy[n] = '\0';
	r->owned[r->n_owned++] = copy;
	return copy;
}

static void add_header(struct request *r, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
	struct ch_header *h = &r->headers[r->in.n_headers++];

	h->name = keep(r, name, name_len);
	h->value = keep(r, value, value_len);
	if (strcasecmp(h->name, "content-type") == 0 && r->in.content_type == NULL)
		r->in.content_type = h->value;
}

static void fixed_binary_headers(struct request *r, unsigned variant)
{
	static const char *const types[] = {"application/json", NULL, "application/octet-stream",
	                                    "application/json; charset=latin1"};
	static const char *const set[][2] = {
	    {"ce-specversion", "1.0"},
	    {"CE-ID", "%22quoted%22-id"},
	    {"ce-source", "\"/calling/callConnections/x\""},
	    {"ce-type", "Microsoft.Communication.CallConnected"},
	    {"ce-time", "2025-06-16T20:52:32.1234567+02:00"},
	    {"ce-myext", "caf%C3%A9"},
	};

	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		add_header(r, set[i][0], strlen(set[i][0]), set[i][1], strlen(set[i][1]));
	r->in.content_type = types[variant & 3];
}

/* Mode 5: "name: value" lines until an empty line; the body follows it. */
static void headers_from_input(struct request *r, const char *p, size_t n)
{
	const char *end = p + n, *sep = NULL;

	for (const char *q = p; q + 1 < end; q++)
		if (q[0] == '\n' && q[1] == '\n') {
			sep = q;
			break;
		}
	r->body = sep != NULL ? sep + 2 : end;
	r->len = (size_t)(end - r->body);
	end = sep != NULL ? sep : end;
	while (p < end && r->in.n_headers < MAX_HEADERS) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol != NULL ? eol : end;
		const char *colon = memchr(p, ':', (size_t)(line_end - p));

		if (colon != NULL) {
			const char *v = colon + 1;

			while (v < line_end && *v == ' ')
				v++;
			add_header(r, p, (size_t)(colon - p), v, (size_t)(line_end - v));
		}
		p = line_end + (eol != NULL);
	}
}

static void build_request(struct request *r, const uint8_t *data, size_t size)
{
	static const char *const types[] = {"application/json", "application/cloudevents+json",
	                                    "application/cloudevents-batch+json", NULL};
	unsigned sel = data[0], mode = sel % 6;

	memset(r, 0, sizeof(*r));
	r->body = (const char *)data + 1;
	r->len = size - 1;
	r->in.headers = r->headers;
	if (sel & 0x80)
		r->limits = tight;
	if (mode < 4)
		r->in.content_type = types[mode];
	else if (mode == 4)
		fixed_binary_headers(r, sel >> 3);
	else
		headers_from_input(r, r->body, r->len);
}

static void free_request(struct request *r)
{
	for (size_t i = 0; i < r->n_owned; i++)
		free(r->owned[i]);
}

static size_t limit_or(size_t value, size_t dflt)
{
	return value != 0 ? value : dflt;
}

static bool within(const char *p, size_t n, const char *base, size_t base_len)
{
	return base != NULL && p >= base && n <= base_len && (size_t)(p - base) <= base_len - n;
}

/* An identifying string: bounded, no control characters (envelope rules),
 * and valid UTF-8, since it is stored in a TEXT column as it is. */
static void check_ident(const char *s, size_t max, bool may_be_null)
{
	if (s == NULL) {
		REQUIRE(may_be_null);
		return;
	}
	REQUIRE(strlen(s) <= max);
	REQUIRE(!has_control(s, strlen(s)));
	REQUIRE(utf8_valid((const unsigned char *)s, strlen(s)));
}

static void check_time(const struct ch_parsed_event *ev)
{
	char again[CH_TIME_TEXT_SIZE];
	int64_t us;

	if (ev->time == NULL) {
		REQUIRE(ev->format == CH_FORMAT_CLOUDEVENTS); /* only CloudEvents may omit it */
		return;
	}
	REQUIRE(strlen(ev->time) == CH_TIME_TEXT_SIZE - 1);
	REQUIRE(ch_time_parse(ev->time, strlen(ev->time), &us) == 0);
	REQUIRE(us == ev->time_us);
	ch_time_format(ev->time_us, again);
	REQUIRE(strcmp(again, ev->time) == 0);
}

/* What the journal stores as raw must be one JSON object by itself, in
 * valid UTF-8 (callhookd(8): "the event exactly as sent, as valid JSON"). */
static void check_raw(const struct ch_parsed_event *ev, unsigned max_depth)
{
	const struct ch_json_limits jl = {max_depth + 1, 1u << 20};
	struct ch_json_doc *doc = NULL;
	struct ch_error err;

	REQUIRE(ev->raw_len >= 2 && ev->raw[0] == '{' && ev->raw[ev->raw_len - 1] == '}');
	REQUIRE(utf8_valid((const unsigned char *)ev->raw, ev->raw_len));
	REQUIRE(ch_json_parse(ev->raw, ev->raw_len, &jl, &doc, &err) == 0);
	REQUIRE(ch_json_root(doc)->type == CH_JSON_OBJECT);
	ch_json_doc_free(doc);
}

static void check_event(const struct request *r, const struct ch_batch *b,
                        const struct ch_parsed_event *ev)
{
	size_t max_id = limit_or(r->limits.max_id_len, 1024);
	size_t max_type = limit_or(r->limits.max_type_len, 256);

	REQUIRE(ev->format == CH_FORMAT_PREVIEW || ev->format == CH_FORMAT_EVENTGRID ||
	        ev->format == CH_FORMAT_CLOUDEVENTS);
	REQUIRE(ev->type != NULL && ev->type[0] != '\0');
	REQUIRE(strlen(ev->type) <= max_type && strpbrk(ev->type, " ") == NULL);
	REQUIRE(!has_control(ev->type, strlen(ev->type)));
	REQUIRE(utf8_valid((const unsigned char *)ev->type, strlen(ev->type)));
	/* raw points into the body, or into the synthesised event in binary mode. */
	if (b->synth == NULL)
		REQUIRE(within(ev->raw, ev->raw_len, r->body, r->len));
	else
		REQUIRE(within(ev->raw, ev->raw_len, b->synth, strlen(b->synth)));
	REQUIRE(ev->json != NULL && ev->json->type == CH_JSON_OBJECT);
	check_raw(ev, (unsigned)limit_or(r->limits.max_depth, 64));
	check_time(ev);
	check_ident(ev->id, max_id, ev->format == CH_FORMAT_PREVIEW);
	check_ident(ev->source, max_id, ev->format != CH_FORMAT_CLOUDEVENTS);
	check_ident(ev->subject, max_id, true);
	check_ident(ev->call_id, max_id, true);
	if (ev->call_id != NULL)
		REQUIRE(ev->call_id[0] != '\0');
	if (ev->format == CH_FORMAT_CLOUDEVENTS)
		REQUIRE(ev->id[0] != '\0' && ev->source[0] != '\0');
	else
		REQUIRE(ev->data != NULL && ev->data->type == CH_JSON_OBJECT);
	if (ev->is_validation)
		REQUIRE(ev->validation_code != NULL && strcmp(ev->type, VALIDATION) == 0 &&
		        utf8_valid((const unsigned char *)ev->validation_code,
		                   strlen(ev->validation_code)));
	else
		REQUIRE(strcmp(ev->type, VALIDATION) != 0);
}

static bool known_code(int status, const char *code)
{
	static const char *const c400[] = {"EmptyBody",  "InvalidJson",   "InvalidUtf8",
	                                   "TooDeep",    "StringTooLong", "InvalidEnvelope",
	                                   "EmptyBatch", "InvalidEvent"};
	if (status == 413)
		return strcmp(code, "TooManyEvents") == 0 || strcmp(code, "PayloadTooLarge") == 0;
	if (status == 415)
		return strcmp(code, "UnsupportedMediaType") == 0;
	for (size_t i = 0; status == 400 && i < sizeof(c400) / sizeof(c400[0]); i++)
		if (strcmp(code, c400[i]) == 0)
			return true;
	return false;
}

/* The answer a sender gets: a documented status and code, and one line of
 * valid UTF-8 (it goes into a JSON string and a log line as it is). */
static void check_error(const struct ch_error *err, const struct ch_batch *b)
{
	size_t n = strnlen(err->message, sizeof(err->message));

	REQUIRE(err->status == 400 || err->status == 413 || err->status == 415);
	REQUIRE(known_code(err->status, err->code));
	REQUIRE(n > 0 && n < sizeof(err->message));
	REQUIRE(!has_control(err->message, n));
	REQUIRE(utf8_valid((const unsigned char *)err->message, n));
	REQUIRE(b->n == 0 && b->events == NULL && b->doc == NULL && b->synth == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request r;
	struct ch_batch b, again;
	struct ch_error err, err2;
	int rc, rc2;

	if (size == 0)
		return 0;
	build_request(&r, data, size);
	rc = ch_envelope_parse(r.body, r.len, &r.in, &r.limits, &b, &err);
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0) {
		REQUIRE(b.n >= 1 && b.n <= limit_or(r.limits.max_events, 5000));
		REQUIRE(b.events != NULL && b.doc != NULL);
		for (size_t i = 0; i < b.n; i++)
			check_event(&r, &b, &b.events[i]);
	} else {
		check_error(&err, &b);
	}

	/* Same input, same outcome: nothing may depend on uninitialised state. */
	rc2 = ch_envelope_parse(r.body, r.len, &r.in, &r.limits, &again, &err2);
	REQUIRE(rc2 == rc);
	if (rc == 0) {
		REQUIRE(again.n == b.n);
		for (size_t i = 0; i < b.n; i++)
			REQUIRE(memcmp(again.events[i].dedupe_key, b.events[i].dedupe_key, 32) ==
			        0);
	} else {
		REQUIRE(err2.status == err.status && strcmp(err2.message, err.message) == 0);
	}
	ch_batch_free(&again);
	ch_batch_free(&b);
	free_request(&r);
	return 0;
}
