/* json.c - see json.h
 *
 * How spans are found.  yajl reports values through callbacks but not where
 * they are; yajl_get_bytes_consumed() is the lexer's position.  Observed with
 * yajl 2.1.0 (Debian 2.1.0-3+deb12u2), the whole text passed to one
 * yajl_parse call:
 *
 *   - inside every callback it is the offset just past the token reported:
 *     past '{' / '[' in start_map / start_array, past '}' / ']' in the end
 *     callbacks, past the closing quote of a string or key (not past the ':'),
 *     past the last character of true/false/null, and past the last digit of
 *     a number (the lexer reads one byte too far and gives it back).
 *   - the exception is a number that ends exactly at the end of the text: the
 *     lexer cannot know it is complete, buffers it and reports it only from
 *     yajl_complete_parse, which feeds yajl a one-byte " " of its own and
 *     resets the count; the callback then sees 0.  Only a number can be
 *     reported there (an unterminated string or literal stays incomplete or
 *     is an error), so in that phase its end is the end of the text.
 *   - after a failed yajl_parse it is just past the token that made the
 *     grammar fail, or at or one past the byte the lexer rejected; after a
 *     failed yajl_complete_parse it is an offset into that " ".
 *
 * The start of a scalar is found forwards, not backwards: between the end of
 * the previous reported token and a value yajl accepts only whitespace and at
 * most one ',' or ':' (the only tokens it does not report).  That needs no
 * knowledge of string escapes and also points error messages at the token
 * yajl choked on.
 *
 * Memory.  Nodes, decoded strings and the final child arrays live in one
 * arena owned by the doc.  Children of the containers still open are kept on
 * scratch stacks shared by all levels (freed when parsing ends), so every
 * container's arrays are allocated once at their exact size: the arena ends
 * up proportional to the input (about 37 times it for a worst case like
 * [1,1,1,...], dominated by the fixed node size).  The depth limit is checked
 * before anything is allocated for a container, so nesting costs nothing
 * past the limit.
 */
#include "json.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

/* Used when limits is NULL (json.h leaves that open): the envelope's
 * defaults, so a careless caller is still bounded. */
#define DEFAULT_MAX_DEPTH  64u
#define DEFAULT_MAX_STRING ((size_t)1 << 20)

/* Chunks grow from CHUNK_FIRST to CHUNK_MAX so a tiny document costs little;
 * anything bigger than BIG gets a chunk of its own, so a chunk never wastes
 * more than a quarter of itself on a tail that did not fit. */
#define CHUNK_FIRST ((size_t)4096)
#define CHUNK_MAX   ((size_t)256 * 1024)
#define BIG         (CHUNK_MAX / 4)

struct chunk {
	struct chunk *next;
	size_t size; /* bytes usable in data */
	size_t used;
	max_align_t data[];
};

struct ch_json_doc {
	struct ch_json *root;
	struct chunk *chunks; /* the first one is the one being filled */
	size_t next_size;
};

static void *arena_alloc(struct ch_json_doc *doc, size_t size, size_t align)
{
	struct chunk *c = doc->chunks;
	struct chunk *fresh;
	size_t want;

	if (c != NULL) {
		size_t off = (c->used + align - 1) & ~(align - 1);
		if (off <= c->size && size <= c->size - off) {
			c->used = off + size;
			return (char *)c->data + off;
		}
	}
	want = size > BIG ? size : doc->next_size;
	if (want < size)
		want = size;
	if (want > SIZE_MAX - sizeof(struct chunk))
		return NULL;
	fresh = malloc(sizeof(struct chunk) + want);
	if (fresh == NULL)
		return NULL;
	fresh->size = want;
	fresh->used = size;
	if (size > BIG && c != NULL) {
		/* Keep filling the current chunk; this one is already full. */
		fresh->next = c->next;
		c->next = fresh;
	} else {
		fresh->next = c;
		doc->chunks = fresh;
		if (size <= BIG && doc->next_size < CHUNK_MAX)
			doc->next_size *= 2;
	}
	return fresh->data;
}

static const char *arena_strdup(struct ch_json_doc *doc, const void *s, size_t len)
{
	char *copy;

	if (len == SIZE_MAX)
		return NULL;
	copy = arena_alloc(doc, len + 1, 1);
	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

/* Copies n elements of size elem from a scratch stack; NULL (and no
 * allocation) for n == 0, so empty containers cost only their node. */
static void *arena_copy(struct ch_json_doc *doc, const void *src, size_t n, size_t elem,
                        size_t align, bool *ok)
{
	void *dst;

	*ok = true;
	if (n == 0)
		return NULL;
	if (n > SIZE_MAX / elem) {
		*ok = false;
		return NULL;
	}
	dst = arena_alloc(doc, n * elem, align);
	if (dst == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(dst, src, n * elem);
	return dst;
}

void ch_json_doc_free(struct ch_json_doc *doc)
{
	struct chunk *c, *next;

	if (doc == NULL)
		return;
	for (c = doc->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(doc);
}

const struct ch_json *ch_json_root(const struct ch_json_doc *doc)
{
	return doc != NULL ? doc->root : NULL;
}

/* --- parser ------------------------------------------------------------ */

struct pending_key {
	const char *ptr;
	size_t len;
};

struct frame {
	struct ch_json *node;
	size_t vals_base; /* its children are vals[vals_base..n_vals) */
	size_t keys_base; /* and, for an object, keys[keys_base..n_keys) */
};

struct parser {
	const char *text;
	size_t len;
	struct ch_json_limits limits;
	struct ch_json_doc *doc;
	struct ch_error *err;
	yajl_handle yajl;
	bool finishing;  /* inside yajl_complete_parse: yajl's offsets no longer index text */
	bool failed;     /* a callback refused and already filled err */
	size_t last_end; /* end of the last token reported by a callback */
	struct ch_json *root;
	/* Scratch stacks, owned by the parser, freed when ch_json_parse returns. */
	struct ch_json **vals;
	size_t n_vals, cap_vals;
	struct pending_key *keys;
	size_t n_keys, cap_keys;
	struct frame *frames;
	size_t depth, cap_frames;
};

static int fail(struct parser *p, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the error and returns 0, which makes yajl cancel the parse. */
static int fail(struct parser *p, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ch_error_vset(p->err, status, code, fmt, ap);
	va_end(ap);
	p->failed = true;
	return 0;
}

static int fail_oom(struct parser *p)
{
	return fail(p, 500, "InternalError", "out of memory");
}

/* Returns arr, moved if needed, with room for element n; NULL when out of
 * memory (arr is then still valid and still owned by the caller). */
static void *reserve(void *arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *grown;

	if (n < *cap)
		return arr;
	ncap = *cap != 0 ? *cap * 2 : 64;
	if (ncap < *cap || ncap > SIZE_MAX / elem)
		return NULL;
	grown = realloc(arr, ncap * elem);
	if (grown == NULL)
		return NULL;
	*cap = ncap;
	return grown;
}

/* The whitespace yajl's lexer skips, which is RFC 8259's plus \v and \f. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static size_t skip_space(const struct parser *p, size_t i, size_t limit)
{
	while (i < limit && is_space(p->text[i]))
		i++;
	return i;
}

/* Where the first token after the last reported one starts, looking no
 * further than limit; see the comment at the top. */
static size_t next_token_start(const struct parser *p, size_t limit)
{
	size_t i = skip_space(p, p->last_end, limit);

	if (i < limit && (p->text[i] == ',' || p->text[i] == ':')) {
		size_t j = skip_space(p, i + 1, limit);
		if (j < limit)
			i = j;
	}
	return i;
}

/* The end of the token a callback is reporting. */
static size_t token_end(const struct parser *p)
{
	return p->finishing ? p->len : yajl_get_bytes_consumed(p->yajl);
}

/* Length of the well-formed UTF-8 prefix of s (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF); n when all of s is well formed. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xBF;
		size_t more, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return i;
		}
		if (n - i <= more)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += more + 1;
	}
	return n;
}

/* yajl only checks the shape of multi-byte sequences: it lets overlong
 * forms, encoded surrogates and code points above U+10FFFF through, and
 * decodes an escaped lone low surrogate ("\uDC00") to an encoded surrogate.
 * json.h promises valid UTF-8, so decoded strings are checked again. */
static int check_utf8(struct parser *p, const unsigned char *s, size_t len, size_t start,
                      size_t end)
{
	size_t raw_len, bad;

	if (utf8_valid_prefix(s, len) == len)
		return 1;
	/* Point at the offending raw bytes when there are any; otherwise an
	 * escape produced the bad sequence and the string itself is named. */
	raw_len = end - start - 2;
	bad = utf8_valid_prefix((const unsigned char *)p->text + start + 1, raw_len);
	return fail(p, 400, "InvalidUtf8", "invalid UTF-8 in a JSON string at byte %zu",
	            bad < raw_len ? start + 1 + bad : start);
}

/* Hands a finished or just-opened value to its parent. */
static int attach(struct parser *p, struct ch_json *node)
{
	void *grown;

	if (p->depth == 0) {
		p->root = node;
		return 1;
	}
	grown = reserve(p->vals, &p->cap_vals, p->n_vals, sizeof(*p->vals));
	if (grown == NULL)
		return fail_oom(p);
	p->vals = grown;
	p->vals[p->n_vals++] = node;
	return 1;
}

static struct ch_json *new_node(struct parser *p, enum ch_json_type type, size_t start, size_t end)
{
	struct ch_json *node = arena_alloc(p->doc, sizeof(*node), alignof(struct ch_json));

	if (node == NULL) {
		fail_oom(p);
		return NULL;
	}
	memset(node, 0, sizeof(*node));
	node->type = type;
	node->start = start;
	node->end = end;
	return node;
}

/* Creates and attaches a scalar whose token ends where yajl now is; NULL
 * after recording the error. */
static struct ch_json *add_scalar(struct parser *p, enum ch_json_type type)
{
	size_t end = token_end(p);
	struct ch_json *node = new_node(p, type, next_token_start(p, end), end);

	if (node == NULL || !attach(p, node))
		return NULL;
	p->last_end = end;
	return node;
}

static int on_null(void *ctx)
{
	return add_scalar(ctx, CH_JSON_NULL) != NULL;
}

static int on_boolean(void *ctx, int value)
{
	struct ch_json *node = add_scalar(ctx, CH_JSON_BOOL);

	if (node == NULL)
		return 0;
	node->u.boolean = value != 0;
	return 1;
}

static int on_number(void *ctx, const char *text, size_t len)
{
	struct parser *p = ctx;
	struct ch_json *node = add_scalar(p, CH_JSON_NUMBER);

	if (node == NULL)
		return 0;
	node->u.str.ptr = arena_strdup(p->doc, text, len);
	if (node->u.str.ptr == NULL)
		return fail_oom(p);
	node->u.str.len = len;
	return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	size_t start = next_token_start(p, end);
	struct ch_json *node;

	if (len > p->limits.max_string)
		return fail(p, 400, "StringTooLong",
		            "JSON string longer than %zu bytes at byte %zu", p->limits.max_string,
		            start);
	if (!check_utf8(p, s, len, start, end))
		return 0;
	node = add_scalar(p, CH_JSON_STRING);
	if (node == NULL)
		return 0;
	node->u.str.ptr = arena_strdup(p->doc, s, len);
	if (node->u.str.ptr == NULL)
		return fail_oom(p);
	node->u.str.len = len;
	return 1;
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct parser *p = ctx;
	size_t end = token_end(p);
	size_t start = next_token_start(p, end);
	const char *copy;
	void *grown;

	if (len > p->limits.max_string)
		return fail(p, 400, "StringTooLong",
		            "JSON object key longer than %zu bytes at byte %zu",
		            p->limits.max_string, start);
	if (!check_utf8(p, s, len, start, end))
		return 0;
	copy = arena_strdup(p->doc, s, len);
	grown = reserve(p->keys, &p->cap_keys, p->n_keys, sizeof(*p->keys));
	if (copy == NULL || grown == NULL)
		return fail_oom(p);
	p->keys = grown;
	p->keys[p->n_keys].ptr = copy;
	p->keys[p->n_keys].len = len;
	p->n_keys++;
	p->last_end = end;
	return 1;
}

static int open_container(struct parser *p, enum ch_json_type type)
{
	size_t end = yajl_get_bytes_consumed(p->yajl);
	struct ch_json *node;
	struct frame *f;
	void *grown;

	if (p->depth >= p->limits.max_depth)
		return fail(p, 400, "TooDeep", "JSON nested deeper than %u levels at byte %zu",
		            p->limits.max_depth, end - 1);
	node = new_node(p, type, end - 1, 0);
	if (node == NULL || !attach(p, node))
		return 0;
	grown = reserve(p->frames, &p->cap_frames, p->depth, sizeof(*p->frames));
	if (grown == NULL)
		return fail_oom(p);
	p->frames = grown;
	f = &p->frames[p->depth++];
	f->node = node;
	f->vals_base = p->n_vals;
	f->keys_base = p->n_keys;
	p->last_end = end;
	return 1;
}

static int close_container(struct parser *p)
{
	struct frame *f = &p->frames[--p->depth];
	struct ch_json *node = f->node;
	size_t n = p->n_vals - f->vals_base;
	bool ok_vals, ok_keys = true, ok_lens = true;

	/* No pointer arithmetic on a scratch stack that was never allocated (an
	 * empty first container): NULL + 0 is undefined behaviour in C. */
	struct ch_json **children = n != 0 ? p->vals + f->vals_base : NULL;

	node->end = yajl_get_bytes_consumed(p->yajl);
	p->last_end = node->end;
	if (node->type == CH_JSON_ARRAY) {
		node->u.array.items = arena_copy(p->doc, children, n, sizeof(*p->vals),
		                                 alignof(struct ch_json *), &ok_vals);
		node->u.array.n = n;
	} else {
		/* yajl guarantees a value after every key before '}' */
		node->u.object.values = arena_copy(p->doc, children, n, sizeof(*p->vals),
		                                   alignof(struct ch_json *), &ok_vals);
		if (n != 0) {
			node->u.object.keys =
			    arena_alloc(p->doc, n * sizeof(const char *), alignof(const char *));
			node->u.object.key_lens =
			    arena_alloc(p->doc, n * sizeof(size_t), alignof(size_t));
			ok_keys = node->u.object.keys != NULL;
			ok_lens = node->u.object.key_lens != NULL;
		}
		for (size_t i = 0; ok_keys && ok_lens && i < n; i++) {
			node->u.object.keys[i] = p->keys[f->keys_base + i].ptr;
			node->u.object.key_lens[i] = p->keys[f->keys_base + i].len;
		}
		node->u.object.n = n;
		p->n_keys = f->keys_base;
	}
	p->n_vals = f->vals_base;
	if (!ok_vals || !ok_keys || !ok_lens)
		return fail_oom(p);
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx, CH_JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
	return open_container(ctx, CH_JSON_ARRAY);
}

static int on_end(void *ctx)
{
	return close_container(ctx);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number, /* set, so yajl_integer / yajl_double are never used */
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* Turns yajl's own failure into err.  yajl's text looks like
 * "lexical error: invalid char in json text.\n"; only the part after the
 * colon is kept, and only printable ASCII of it, so the message stays one
 * line whatever a future yajl says. */
static void report_yajl_error(struct parser *p)
{
	unsigned char *yerr = yajl_get_error(p->yajl, 0, (const unsigned char *)p->text, p->len);
	const char *text = yerr != NULL ? (const char *)yerr : "";
	const char *colon = strstr(text, ": ");
	size_t consumed = yajl_get_bytes_consumed(p->yajl);
	bool lexical = strncmp(text, "lexical error", 13) == 0;
	bool utf8 = strstr(text, "invalid bytes in UTF8 string") != NULL;
	bool past = utf8 || strstr(text, "invalid char in json text") != NULL;
	char reason[96];
	size_t n = 0, at;

	for (text = colon != NULL ? colon + 2 : text; *text != '\0' && n < sizeof(reason) - 1;
	     text++) {
		if (*text == '\n')
			break;
		if (*text >= 0x20 && *text < 0x7F)
			reason[n++] = *text;
	}
	while (n > 0 && (reason[n - 1] == '.' || reason[n - 1] == ' '))
		n--;
	reason[n] = '\0';
	if (yerr != NULL)
		yajl_free_error(p->yajl, yerr);

	if (utf8) {
		/* The lexer stops on the byte that broke the sequence; name the
		 * start of the sequence instead, found by checking the string the
		 * lexer was in from its opening quote. */
		size_t limit = p->finishing ? p->len : consumed;
		size_t start = next_token_start(p, limit);

		at = limit > 0 ? limit - 1 : 0;
		if (start < limit && p->text[start] == '"')
			at = start + 1 +
			     utf8_valid_prefix((const unsigned char *)p->text + start + 1,
			                       limit - start - 1);
		if (at >= limit)
			at = limit > 0 ? limit - 1 : 0;
		ch_error_set(p->err, 400, "InvalidUtf8",
		             "invalid UTF-8 in a JSON string at byte %zu", at);
		return;
	}
	if (p->finishing && (lexical || strstr(reason, "premature EOF") != NULL))
		at = p->len;
	else if (p->finishing)
		at = next_token_start(p, p->len); /* a final number that does not belong */
	else if (!lexical)
		at = next_token_start(p, consumed);
	else if (past && consumed > 0)
		at = consumed - 1;
	else
		at = consumed;
	ch_error_set(p->err, 400, "InvalidJson", "invalid JSON at byte %zu: %s", at,
	             n > 0 ? reason : "malformed");
}

int ch_json_parse(const char *text, size_t len, const struct ch_json_limits *limits,
                  struct ch_json_doc **out, struct ch_error *err)
{
	struct parser p;
	yajl_status status;
	size_t i;
	int rc = -1;

	*out = NULL;
	for (i = 0; text != NULL && i < len && is_space(text[i]); i++)
		;
	if (text == NULL || i == len)
		return ch_error_set(err, 400, "EmptyBody", "request body is empty");

	memset(&p, 0, sizeof(p));
	p.text = text;
	p.len = len;
	p.err = err;
	p.limits.max_depth = limits != NULL ? limits->max_depth : DEFAULT_MAX_DEPTH;
	p.limits.max_string = limits != NULL ? limits->max_string : DEFAULT_MAX_STRING;
	p.doc = calloc(1, sizeof(*p.doc));
	if (p.doc == NULL)
		return ch_error_set(err, 500, "InternalError", "out of memory");
	p.doc->next_size = CHUNK_FIRST;
	p.yajl = yajl_alloc(&callbacks, NULL, &p);
	if (p.yajl == NULL) {
		ch_json_doc_free(p.doc);
		return ch_error_set(err, 500, "InternalError", "out of memory");
	}
	/* These are yajl's defaults; spelled out because the daemon depends on
	 * them: strict JSON, exactly one value, strings checked for UTF-8. */
	yajl_config(p.yajl, yajl_allow_comments, 0);
	yajl_config(p.yajl, yajl_dont_validate_strings, 0);
	yajl_config(p.yajl, yajl_allow_trailing_garbage, 0);
	yajl_config(p.yajl, yajl_allow_multiple_values, 0);
	yajl_config(p.yajl, yajl_allow_partial_values, 0);

	status = yajl_parse(p.yajl, (const unsigned char *)text, len);
	if (status == yajl_status_ok) {
		p.finishing = true;
		status = yajl_complete_parse(p.yajl);
	}
	if (status == yajl_status_ok && p.root != NULL) {
		p.doc->root = p.root;
		*out = p.doc;
		p.doc = NULL;
		rc = 0;
	} else if (!p.failed) {
		report_yajl_error(&p);
	}

	yajl_free(p.yajl);
	free(p.vals);
	free(p.keys);
	free(p.frames);
	ch_json_doc_free(p.doc);
	return rc;
}

/* --- lookups ----------------------------------------------------------- */

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool same_ci(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Duplicate keys are kept in the tree; lookups return the first match, so
 * a later duplicate can never override what an earlier check saw. */
static const struct ch_json *find_member(const struct ch_json *obj, const char *key, size_t len,
                                         bool ci)
{
	size_t i;

	if (obj == NULL || key == NULL || obj->type != CH_JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->u.object.n; i++) {
		if (obj->u.object.key_lens[i] != len)
			continue;
		if (ci ? same_ci(obj->u.object.keys[i], key, len)
		       : memcmp(obj->u.object.keys[i], key, len) == 0)
			return obj->u.object.values[i];
	}
	return NULL;
}

const struct ch_json *ch_json_get(const struct ch_json *obj, const char *key)
{
	return key != NULL ? find_member(obj, key, strlen(key), false) : NULL;
}

const struct ch_json *ch_json_get_ci(const struct ch_json *obj, const char *key)
{
	return key != NULL ? find_member(obj, key, strlen(key), true) : NULL;
}

/* Decimal digits only, no sign; false when empty or too big for size_t. */
static bool parse_index(const char *s, size_t len, size_t *index)
{
	size_t i, v = 0;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (SIZE_MAX - (size_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*index = v;
	return true;
}

/* An empty path or an empty segment ("a..b", ".a", "a.") finds nothing; a
 * key that itself contains '.' is reachable only through ch_json_get. */
const struct ch_json *ch_json_path(const struct ch_json *obj, const char *path)
{
	const struct ch_json *v = obj;
	const char *seg = path;

	if (path == NULL || *path == '\0')
		return NULL;
	while (v != NULL) {
		const char *dot = strchr(seg, '.');
		size_t len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
		size_t index;

		if (len == 0)
			return NULL;
		if (v->type == CH_JSON_ARRAY)
			v = parse_index(seg, len, &index) && index < v->u.array.n
			        ? v->u.array.items[index]
			        : NULL;
		else
			v = find_member(v, seg, len, true);
		if (dot == NULL)
			return v;
		seg = dot + 1;
	}
	return NULL;
}

const char *ch_json_string(const struct ch_json *v)
{
	return v != NULL && v->type == CH_JSON_STRING ? v->u.str.ptr : NULL;
}
