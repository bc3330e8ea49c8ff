/* envelope.h - recognise, validate and normalise Call Automation callbacks.
 *
 * One HTTP body becomes a batch of normalised events.  The three envelope
 * forms (2021 preview object, Event Grid array, CloudEvents 1.0 structured /
 * batch / binary / plain array) are detected automatically; see
 * ../shared/FORMATS.md "How to tell them apart".  A batch is all or nothing:
 * one invalid event rejects the whole body with a 400 naming index and field.
 *
 * Ownership: the batch owns everything its events point to (the JSON tree
 * and, for CloudEvents binary mode, the synthesised structured event).  The
 * request body passed in must outlive the batch (events' raw spans point
 * into it, except in binary mode).
 */
#ifndef CH_ENVELOPE_H
#define CH_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json.h"

enum ch_format {
	CH_FORMAT_PREVIEW,     /* 2021 private preview: one object, PascalCase data */
	CH_FORMAT_EVENTGRID,   /* Event Grid schema */
	CH_FORMAT_CLOUDEVENTS, /* CloudEvents 1.0 */
};

/* "preview", "eventgrid" or "cloudevents": the value stored in events.format */
const char *ch_format_name(enum ch_format format);

struct ch_event {
	enum ch_format format;
	const char *type;    /* eventType / type; never NULL, never empty */
	const char *id;      /* NULL when absent or JSON null */
	const char *source;  /* CloudEvents source or Event Grid topic; NULL when absent/null */
	const char *subject; /* NULL when absent/null */
	const char *call_id; /* data.CallLegId, else data.callConnectionId; NULL when absent */
	const char *time;    /* normalised UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ"; NULL only for a
				CloudEvent without "time" */
	int64_t time_us;     /* microseconds since the Unix epoch; valid when time != NULL */
	const char *raw;     /* the event's bytes as journaled (not NUL-terminated) */
	size_t raw_len;
	const struct ch_json *json; /* the event object; NULL in CloudEvents binary mode */
	const struct ch_json *data; /* the data member; NULL when absent */
	uint8_t dedupe_key[32];     /* SHA-256, see envelope.c for what it covers */
	bool is_validation;         /* Microsoft.EventGrid.SubscriptionValidationEvent */
	const char *validation_code; /* data.validationCode when is_validation */
};

struct ch_header {
	const char *name; /* as received; compare case-insensitively */
	const char *value;
};

/* What the HTTP layer knows about the request besides the body. */
struct ch_envelope_input {
	const char *content_type; /* NULL when the request had none */
	const struct ch_header *headers; /* all request headers (for ce-* binary mode, aeg-*) */
	size_t n_headers;
};

struct ch_envelope_limits {
	unsigned max_depth;    /* JSON nesting; default 64 */
	size_t max_events;     /* events per body; default 5000 */
	size_t max_id_len;     /* id, source/topic, subject, call id; default 1024 */
	size_t max_type_len;   /* event type; default 256 */
};

struct ch_batch {
	struct ch_event *events;
	size_t n;
	struct ch_json_doc *doc; /* owned */
	char *synth;             /* owned; binary-mode structured event, else NULL */
};

/* Parse body into out.  On failure returns -1, fills err (400 InvalidJson /
 * InvalidEvent / EmptyBatch / TooManyEvents, 415 UnsupportedMediaType) and
 * leaves out empty.  Messages name the index and field:
 * "event 3: field \"eventTime\": not an RFC 3339 time". */
int ch_envelope_parse(const char *body, size_t len, const struct ch_envelope_input *in,
		      const struct ch_envelope_limits *limits, struct ch_batch *out,
		      struct ch_error *err);
void ch_batch_free(struct ch_batch *batch);

/* RFC 3339 date-time ("2021-05-05T20:08:39.0157964Z", "...+00:00", 0-9 fraction
 * digits) to microseconds since the epoch (fraction truncated).  Returns 0 or -1. */
int ch_time_parse(const char *text, size_t len, int64_t *us);
/* Format microseconds as "YYYY-MM-DDTHH:MM:SS.ffffffZ"; buf needs 28 bytes. */
void ch_time_format(int64_t us, char buf[28]);

#endif
