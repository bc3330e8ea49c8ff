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
#include "timefmt.h" /* ch_time_parse, ch_time_format */

enum ch_format {
	CH_FORMAT_PREVIEW,     /* 2021 private preview: one object, PascalCase data */
	CH_FORMAT_EVENTGRID,   /* Event Grid schema */
	CH_FORMAT_CLOUDEVENTS, /* CloudEvents 1.0 */
};

/* "preview", "eventgrid" or "cloudevents": the value stored in events.format */
const char *ch_format_name(enum ch_format format);

struct ch_parsed_event {
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
	const struct ch_json *json;  /* the event object (binary mode: the synthesised one) */
	const struct ch_json *data;  /* the data member; NULL when absent, null or data_base64 */
	uint8_t dedupe_key[32];      /* SHA-256, see envelope.c for what it covers */
	bool is_validation;          /* Microsoft.EventGrid.SubscriptionValidationEvent */
	const char *validation_code; /* data.validationCode when is_validation */
};

struct ch_header {
	const char *name; /* as received; compare case-insensitively */
	const char *value;
};

/* What the HTTP layer knows about the request besides the body. */
struct ch_envelope_input {
	const char *content_type;        /* NULL when the request had none */
	const struct ch_header *headers; /* all request headers (for ce-* binary mode, aeg-*) */
	size_t n_headers;
};

struct ch_envelope_limits {
	unsigned max_depth;  /* JSON nesting; default 64 */
	size_t max_events;   /* events per body; default 5000 */
	size_t max_id_len;   /* id, source/topic, subject, call id; default 1024 */
	size_t max_type_len; /* event type; default 256 */
};

struct ch_batch {
	struct ch_parsed_event *events;
	size_t n;
	struct ch_json_doc *doc; /* owned */
	char *synth;             /* owned; binary-mode structured event, else NULL */
};

/* Parse body into out.  On failure returns -1, fills err and leaves out empty:
 *   400 EmptyBody, InvalidJson, InvalidUtf8, TooDeep, StringTooLong (json.h),
 *       InvalidEnvelope (not an object or array), EmptyBatch, InvalidEvent
 *   413 TooManyEvents, PayloadTooLarge      415 UnsupportedMediaType
 *   500 InternalError (out of memory)
 * Messages name the 0-based index and the field:
 * "event 3: field \"eventTime\": not an RFC 3339 date-time (\"2021-13-01...\")".
 * A limit of 0 (or limits NULL) means the default. */
int ch_envelope_parse(const char *body, size_t len, const struct ch_envelope_input *in,
                      const struct ch_envelope_limits *limits, struct ch_batch *out,
                      struct ch_error *err);
void ch_batch_free(struct ch_batch *batch);

#endif
