/* json.h - a bounded, read-only JSON tree built with yajl's callback parser.
 *
 * Why not yajl_tree: we need (1) a nesting-depth and string-length limit
 * enforced while parsing, so hostile input can never make us allocate without
 * bound, and (2) the byte span of every value in the original text, so each
 * event of a batch can be journaled as the exact bytes the sender sent.
 *
 * Ownership: a ch_json_doc owns every node and string reachable from its
 * root (one arena, freed by ch_json_doc_free).  The parsed text is not
 * referenced after ch_json_parse returns; spans are offsets into it.
 */
#ifndef CH_JSON_H
#define CH_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum ch_json_type {
	CH_JSON_NULL,
	CH_JSON_BOOL,
	CH_JSON_NUMBER,
	CH_JSON_STRING,
	CH_JSON_ARRAY,
	CH_JSON_OBJECT,
};

struct ch_json {
	enum ch_json_type type;
	size_t start, end; /* byte span [start, end) of this value in the parsed text */
	union {
		bool boolean;
		struct { /* CH_JSON_STRING (decoded, NUL-terminated) and CH_JSON_NUMBER (as written)
			  */
			const char *ptr;
			size_t len;
		} str;
		struct {
			struct ch_json **items;
			size_t n;
		} array;
		struct {
			const char **keys; /* decoded, NUL-terminated */
			size_t *key_lens;
			struct ch_json **values;
			size_t n;
		} object;
	} u;
};

struct ch_json_limits {
	unsigned max_depth; /* arrays/objects nested deeper than this are refused */
	size_t max_string;  /* longest string or key, in bytes after decoding */
};

struct ch_json_doc;

/* Parse exactly one JSON value (surrounding whitespace allowed).  Strings must be
 * valid UTF-8.  On failure returns -1 and fills err with status 400 and one of
 * the codes "EmptyBody", "InvalidJson", "InvalidUtf8", "TooDeep", "StringTooLong";
 * the message names the byte offset. */
int ch_json_parse(const char *text, size_t len, const struct ch_json_limits *limits,
                  struct ch_json_doc **out, struct ch_error *err);
const struct ch_json *ch_json_root(const struct ch_json_doc *doc);
void ch_json_doc_free(struct ch_json_doc *doc);

/* Member lookup by exact key; NULL when obj is not an object or has no such key. */
const struct ch_json *ch_json_get(const struct ch_json *obj, const char *key);
/* Same, ASCII case-insensitive (preview payloads are PascalCase, GA ones camelCase). */
const struct ch_json *ch_json_get_ci(const struct ch_json *obj, const char *key);
/* Dotted path from obj, case-insensitive per segment: "data.ToneInfo.SequenceId".
 * A numeric segment indexes an array: "data.participants.0.rawId". */
const struct ch_json *ch_json_path(const struct ch_json *obj, const char *path);
/* The string value, or NULL when v is NULL or not a string. */
const char *ch_json_string(const struct ch_json *v);

#endif
