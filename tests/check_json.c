/* check_json.c - unit tests for the JSON tree (src/json.c) */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json.h"

static const struct ch_json_limits limits64 = {.max_depth = 64, .max_string = 1u << 20};

/* Each test parses into these; the fixture frees whatever is left. */
static struct ch_json_doc *doc;
static struct ch_error err;

static void setup(void)
{
	doc = NULL;
	ch_error_clear(&err);
}

static void teardown(void)
{
	ch_json_doc_free(doc);
	doc = NULL;
}

static const struct ch_json *parse_ok_len(const char *text, size_t len,
                                          const struct ch_json_limits *limits)
{
	ch_json_doc_free(doc);
	doc = NULL;
	ch_error_clear(&err);
	ck_assert_msg(ch_json_parse(text, len, limits, &doc, &err) == 0, "parse failed: %s %s",
	              err.code, err.message);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(err.status, 0);
	ck_assert_ptr_nonnull(ch_json_root(doc));
	return ch_json_root(doc);
}

static const struct ch_json *parse_ok(const char *text)
{
	return parse_ok_len(text, strlen(text), &limits64);
}

static void parse_fails_len(const char *text, size_t len, const struct ch_json_limits *limits,
                            const char *code, const char *message)
{
	ch_json_doc_free(doc);
	doc = NULL;
	ch_error_clear(&err);
	ck_assert_int_eq(ch_json_parse(text, len, limits, &doc, &err), -1);
	ck_assert_ptr_null(doc);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.code, code);
	ck_assert_str_eq(err.message, message);
	ck_assert_ptr_null(strchr(err.message, '\n'));
}

static void parse_fails(const char *text, const char *code, const char *message)
{
	parse_fails_len(text, strlen(text), &limits64, code, message);
}

/* The node spans [start, start + strlen(bytes)) and those are its bytes. */
#define ck_span(text, v, start_, bytes)                                                            \
	do {                                                                                       \
		const struct ch_json *v_ = (v);                                                    \
		ck_assert_ptr_nonnull(v_);                                                         \
		ck_assert_uint_eq(v_->start, (start_));                                            \
		ck_assert_uint_eq(v_->end, (size_t)(start_) + strlen(bytes));                      \
		ck_assert_mem_eq((text) + v_->start, (bytes), strlen(bytes));                      \
	} while (0)

#define ck_number(v, text_)                                                                        \
	do {                                                                                       \
		const struct ch_json *v_ = (v);                                                    \
		ck_assert_ptr_nonnull(v_);                                                         \
		ck_assert_int_eq(v_->type, CH_JSON_NUMBER);                                        \
		ck_assert_str_eq(v_->u.str.ptr, (text_));                                          \
		ck_assert_uint_eq(v_->u.str.len, strlen(text_));                                   \
	} while (0)

/* A string: the NUL-terminated C string also covers the whole length. */
#define ck_string(v, text_)                                                                        \
	do {                                                                                       \
		const struct ch_json *v_ = (v);                                                    \
		ck_assert_ptr_nonnull(v_);                                                         \
		ck_assert_int_eq(v_->type, CH_JSON_STRING);                                        \
		ck_assert_str_eq(ch_json_string(v_), (text_));                                     \
		ck_assert_uint_eq(v_->u.str.len, strlen(text_));                                   \
	} while (0)

/* --- valid documents ---------------------------------------------------- */

START_TEST(test_top_level_scalars)
{
	const struct ch_json *v;
	const char *t;

	/* A number at the very end is reported from yajl_complete_parse. */
	t = "123";
	v = parse_ok(t);
	ck_number(v, "123");
	ck_span(t, v, 0, "123");

	t = "  -0.5e+10 \n";
	v = parse_ok(t);
	ck_number(v, "-0.5e+10");
	ck_span(t, v, 2, "-0.5e+10");

	t = "0";
	v = parse_ok(t);
	ck_number(v, "0");
	ck_span(t, v, 0, "0");

	t = "true";
	v = parse_ok(t);
	ck_assert_int_eq(v->type, CH_JSON_BOOL);
	ck_assert(v->u.boolean);
	ck_span(t, v, 0, "true");

	t = "\tfalse ";
	v = parse_ok(t);
	ck_assert_int_eq(v->type, CH_JSON_BOOL);
	ck_assert(!v->u.boolean);
	ck_span(t, v, 1, "false");

	t = " null";
	v = parse_ok(t);
	ck_assert_int_eq(v->type, CH_JSON_NULL);
	ck_span(t, v, 1, "null");

	t = "\"hi\"";
	v = parse_ok(t);
	ck_string(v, "hi");
	ck_span(t, v, 0, "\"hi\"");

	t = "\"\\\\\"";
	v = parse_ok(t);
	ck_string(v, "\\");
	ck_span(t, v, 0, "\"\\\\\"");
}
END_TEST

START_TEST(test_every_type_in_object)
{
	const char *t = "{\"s\":\"x\",\"n\":-1.50,\"big\":123456789012345678901234567890,"
	                "\"e\":1E400,\"t\":true,\"f\":false,\"z\":null,\"a\":[],\"o\":{}}";
	static const char *const keys[] = {"s", "n", "big", "e", "t", "f", "z", "a", "o"};
	const struct ch_json *root = parse_ok(t);
	size_t i;

	ck_assert_int_eq(root->type, CH_JSON_OBJECT);
	ck_assert_uint_eq(root->u.object.n, 9);
	ck_span(t, root, 0, t);
	for (i = 0; i < 9; i++) {
		ck_assert_str_eq(root->u.object.keys[i], keys[i]);
		ck_assert_uint_eq(root->u.object.key_lens[i], strlen(keys[i]));
	}
	ck_string(ch_json_get(root, "s"), "x");
	/* Numbers are kept as written: no rounding, no overflow. */
	ck_number(ch_json_get(root, "n"), "-1.50");
	ck_number(ch_json_get(root, "big"), "123456789012345678901234567890");
	ck_number(ch_json_get(root, "e"), "1E400");
	ck_assert_int_eq(ch_json_get(root, "t")->type, CH_JSON_BOOL);
	ck_assert(ch_json_get(root, "t")->u.boolean);
	ck_assert(!ch_json_get(root, "f")->u.boolean);
	ck_assert_int_eq(ch_json_get(root, "z")->type, CH_JSON_NULL);
	ck_assert_int_eq(ch_json_get(root, "a")->type, CH_JSON_ARRAY);
	ck_assert_uint_eq(ch_json_get(root, "a")->u.array.n, 0);
	ck_span(t, ch_json_get(root, "a"), 98, "[]");
	ck_assert_int_eq(ch_json_get(root, "o")->type, CH_JSON_OBJECT);
	ck_assert_uint_eq(ch_json_get(root, "o")->u.object.n, 0);
	ck_span(t, ch_json_get(root, "o"), 105, "{}");
}
END_TEST

START_TEST(test_string_decoding)
{
	/* \u002B is how the .NET and Java recordings write '+' in times. */
	const struct ch_json *v =
	    parse_ok("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\\u002B00:00\"");

	ck_string(v, "a\"b\\c/d\n\t\xC3\xA9\xF0\x9F\x98\x80+00:00");
	v = parse_ok("\"\xE2\x82\xAC \xF0\x9F\x98\x80\"");
	ck_string(v, "\xE2\x82\xAC \xF0\x9F\x98\x80");
	/* yajl turns an escaped lone high surrogate into '?'; pinned so a
	 * change of yajl's behaviour is noticed. */
	v = parse_ok("\"\\uD800\"");
	ck_string(v, "?");
}
END_TEST

START_TEST(test_nul_in_string)
{
	const char *t = "{\"k\":\"a\\u0000b\",\"a\\u0000\":1}";
	const struct ch_json *root = parse_ok(t);
	const struct ch_json *k = ch_json_get(root, "k");

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(k->type, CH_JSON_STRING);
	ck_assert_uint_eq(k->u.str.len, 3);
	ck_assert_mem_eq(k->u.str.ptr, "a\0b\0", 4);
	ck_span(t, k, 5, "\"a\\u0000b\"");
	/* The key "a\0" is two bytes long, so the C string "a" does not match it. */
	ck_assert_uint_eq(root->u.object.key_lens[1], 2);
	ck_assert_mem_eq(root->u.object.keys[1], "a\0", 3);
	ck_assert_ptr_null(ch_json_get(root, "a"));
	ck_assert_ptr_null(ch_json_get_ci(root, "a"));
}
END_TEST

/* --- spans ---------------------------------------------------------------- */

START_TEST(test_spans_strings_with_escapes)
{
	const char *t = "{\"a\" : \"x\\\"y\" , \"b\":\"\\\\\", \"c\":\"\\\\\\\"\", "
	                "\"d\":\"\\u00e9\\n\", \"e\":\"\"}";
	const struct ch_json *root = parse_ok(t);

	ck_span(t, root, 0, t);
	ck_assert_uint_eq(root->end, 61);
	ck_span(t, ch_json_get(root, "a"), 7, "\"x\\\"y\"");
	ck_string(ch_json_get(root, "a"), "x\"y");
	ck_span(t, ch_json_get(root, "b"), 20, "\"\\\\\"");
	ck_string(ch_json_get(root, "b"), "\\");
	ck_span(t, ch_json_get(root, "c"), 30, "\"\\\\\\\"\"");
	ck_string(ch_json_get(root, "c"), "\\\"");
	ck_span(t, ch_json_get(root, "d"), 42, "\"\\u00e9\\n\"");
	ck_string(ch_json_get(root, "d"), "\xC3\xA9\n");
	ck_span(t, ch_json_get(root, "e"), 58, "\"\"");
	ck_string(ch_json_get(root, "e"), "");
}
END_TEST

START_TEST(test_spans_numbers_and_literals)
{
	const char *t = "[1, -2.5e3 ,true,false , null,0,\"s\"]";
	const struct ch_json *root = parse_ok(t);
	const struct ch_json *const *it;

	ck_assert_int_eq(root->type, CH_JSON_ARRAY);
	ck_assert_uint_eq(root->u.array.n, 7);
	ck_span(t, root, 0, t);
	it = (const struct ch_json *const *)root->u.array.items;
	ck_span(t, it[0], 1, "1");
	ck_span(t, it[1], 4, "-2.5e3");
	ck_number(it[1], "-2.5e3");
	ck_span(t, it[2], 12, "true");
	ck_span(t, it[3], 17, "false");
	ck_span(t, it[4], 25, "null");
	ck_span(t, it[5], 30, "0");
	ck_span(t, it[6], 32, "\"s\"");
}
END_TEST

START_TEST(test_spans_nested)
{
	const char *t = "{\"a\":{\"b\":[1,{\"c\":2}]}, \"d\" : [ ] }";
	const struct ch_json *root = parse_ok(t);

	ck_span(t, root, 0, t);
	ck_span(t, ch_json_path(root, "a"), 5, "{\"b\":[1,{\"c\":2}]}");
	ck_span(t, ch_json_path(root, "a.b"), 10, "[1,{\"c\":2}]");
	ck_span(t, ch_json_path(root, "a.b.0"), 11, "1");
	ck_span(t, ch_json_path(root, "a.b.1"), 13, "{\"c\":2}");
	ck_span(t, ch_json_path(root, "a.b.1.c"), 18, "2");
	ck_span(t, ch_json_path(root, "d"), 30, "[ ]");
}
END_TEST

START_TEST(test_spans_array_of_objects)
{
	/* What the journal stores for each event of a batch. */
	const char *t = "[ {\"id\":\"1\",\"time\":\"2025-06-16T20:52:32.9896642\\u002B00:00\","
	                "\"data\":{\"x\":[1,2]}},\n  {\"id\":\"2\",\"s\":\"}\\\"]\"} ]";
	const struct ch_json *root = parse_ok(t);

	ck_assert_uint_eq(root->u.array.n, 2);
	ck_span(t, root, 0, t);
	ck_span(t, root->u.array.items[0], 2,
	        "{\"id\":\"1\",\"time\":\"2025-06-16T20:52:32.9896642\\u002B00:00\","
	        "\"data\":{\"x\":[1,2]}}");
	ck_span(t, root->u.array.items[1], 83, "{\"id\":\"2\",\"s\":\"}\\\"]\"}");
	ck_string(ch_json_path(root, "0.time"), "2025-06-16T20:52:32.9896642+00:00");
	ck_string(ch_json_path(root, "1.s"), "}\"]");
}
END_TEST

/* --- lookups ------------------------------------------------------------------ */

START_TEST(test_lookups)
{
	const struct ch_json *root = parse_ok(
	    "{\"eventType\":\"CallConnected\",\"Data\":{\"CallLegId\":\"leg-1\","
	    "\"ToneInfo\":{\"SequenceId\":7},\"participants\":[{\"rawId\":\"8:acs:1\"},"
	    "{\"rawId\":\"8:acs:2\"}]},\"dup\":1,\"dup\":2,\"0\":\"zero\",\"a.b\":\"dotted\"}");
	const struct ch_json *data, *parts;

	/* exact */
	ck_string(ch_json_get(root, "eventType"), "CallConnected");
	ck_assert_ptr_null(ch_json_get(root, "eventtype"));
	ck_assert_ptr_null(ch_json_get(root, "data"));
	ck_assert_ptr_null(ch_json_get(root, "missing"));
	ck_assert_ptr_null(ch_json_get(root, "eventTyp"));
	/* case-insensitive */
	ck_string(ch_json_get_ci(root, "EVENTTYPE"), "CallConnected");
	data = ch_json_get_ci(root, "data");
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_eq(data, ch_json_get(root, "Data"));
	ck_string(ch_json_get_ci(data, "calllegid"), "leg-1");
	ck_assert_ptr_null(ch_json_get_ci(root, "missing"));
	/* the first of duplicate keys wins */
	ck_number(ch_json_get(root, "dup"), "1");
	ck_number(ch_json_get_ci(root, "DUP"), "1");
	/* paths */
	ck_number(ch_json_path(root, "data.ToneInfo.SequenceId"), "7");
	ck_assert_ptr_eq(ch_json_path(root, "DATA.toneinfo.sequenceid"),
	                 ch_json_path(root, "Data.ToneInfo.SequenceId"));
	ck_string(ch_json_path(root, "data.participants.0.rawId"), "8:acs:1");
	ck_string(ch_json_path(root, "data.Participants.1.RAWID"), "8:acs:2");
	ck_assert_ptr_eq(ch_json_path(root, "eventType"), ch_json_get(root, "eventType"));
	ck_assert_ptr_null(ch_json_path(root, "data.participants.2.rawId"));
	ck_assert_ptr_null(ch_json_path(root, "data.participants.x"));
	ck_assert_ptr_null(ch_json_path(root, "data.participants.-1"));
	ck_assert_ptr_null(ch_json_path(root, "data.participants.99999999999999999999999"));
	ck_assert_ptr_null(ch_json_path(root, "data.missing.rawId"));
	ck_assert_ptr_null(ch_json_path(root, "eventType.x"));
	/* a numeric segment on an object is a key */
	ck_string(ch_json_path(root, "0"), "zero");
	/* a key containing '.' is only reachable with ch_json_get */
	ck_string(ch_json_get(root, "a.b"), "dotted");
	ck_assert_ptr_null(ch_json_path(root, "a.b"));
	/* empty paths and segments */
	ck_assert_ptr_null(ch_json_path(root, ""));
	ck_assert_ptr_null(ch_json_path(root, "data..CallLegId"));
	ck_assert_ptr_null(ch_json_path(root, "data."));
	ck_assert_ptr_null(ch_json_path(root, ".data"));
	/* wrong types and NULLs */
	parts = ch_json_path(root, "data.participants");
	ck_assert_int_eq(parts->type, CH_JSON_ARRAY);
	ck_assert_ptr_null(ch_json_get(parts, "rawId"));
	ck_assert_ptr_null(ch_json_get_ci(parts, "0"));
	ck_assert_ptr_null(ch_json_string(ch_json_path(root, "data.ToneInfo.SequenceId")));
	ck_assert_ptr_null(ch_json_string(data));
	ck_assert_ptr_null(ch_json_string(NULL));
	ck_assert_ptr_null(ch_json_get(NULL, "a"));
	ck_assert_ptr_null(ch_json_get_ci(NULL, "a"));
	ck_assert_ptr_null(ch_json_get(root, NULL));
	ck_assert_ptr_null(ch_json_path(NULL, "a"));
	ck_assert_ptr_null(ch_json_path(root, NULL));
	ck_assert_ptr_null(ch_json_root(NULL));
	ch_json_doc_free(NULL);
}
END_TEST

/* --- errors ------------------------------------------------------------------- */

START_TEST(test_empty_body)
{
	parse_fails("", "EmptyBody", "request body is empty");
	parse_fails_len(NULL, 0, &limits64, "EmptyBody", "request body is empty");
}
END_TEST

START_TEST(test_whitespace_body)
{
	parse_fails(" \t\r\n ", "EmptyBody", "request body is empty");
}
END_TEST

START_TEST(test_truncated)
{
	parse_fails("{\"a\":", "InvalidJson", "invalid JSON at byte 5: premature EOF");
	parse_fails("[1", "InvalidJson", "invalid JSON at byte 2: premature EOF");
	parse_fails("\"abc", "InvalidJson", "invalid JSON at byte 4: premature EOF");
	parse_fails("tru", "InvalidJson", "invalid JSON at byte 3: invalid string in json text");
}
END_TEST

START_TEST(test_trailing_garbage)
{
	parse_fails("{} x", "InvalidJson", "invalid JSON at byte 3: trailing garbage");
}
END_TEST

START_TEST(test_two_values)
{
	parse_fails("{}{}", "InvalidJson", "invalid JSON at byte 2: trailing garbage");
	parse_fails("1 2", "InvalidJson", "invalid JSON at byte 2: trailing garbage");
}
END_TEST

START_TEST(test_malformed)
{
	parse_fails("[1,]", "InvalidJson",
	            "invalid JSON at byte 3: unallowed token at this point in JSON text");
	parse_fails("[1, 2 3]", "InvalidJson",
	            "invalid JSON at byte 6: after array element, I expect ',' or ']'");
	parse_fails("[01]", "InvalidJson",
	            "invalid JSON at byte 2: after array element, I expect ',' or ']'");
	parse_fails("{\"a\" 1}", "InvalidJson",
	            "invalid JSON at byte 5: object key and value must be separated by a colon "
	            "(':')");
	parse_fails("{\"a\":1,}", "InvalidJson",
	            "invalid JSON at byte 7: invalid object key (must be a string)");
	parse_fails("[@]", "InvalidJson", "invalid JSON at byte 1: invalid char in json text");
	parse_fails("[\"a\\x\"]", "InvalidJson",
	            "invalid JSON at byte 4: inside a string, '\\' occurs before a character "
	            "which it may not");
	parse_fails("[\"a\nb\"]", "InvalidJson",
	            "invalid JSON at byte 3: invalid character inside string");
	parse_fails("/* c */ {}", "InvalidJson",
	            "invalid JSON at byte 0: probable comment found in input text, comments are "
	            "not enabled");
	/* A bare non-ASCII byte is not in a string: plain invalid JSON. */
	parse_fails("\xFF", "InvalidJson", "invalid JSON at byte 0: invalid char in json text");
}
END_TEST

START_TEST(test_invalid_utf8)
{
	/* 0xC3 opens a two-byte sequence; 0x28 '(' cannot continue it. */
	parse_fails("\"\xC3\x28\"", "InvalidUtf8", "invalid UTF-8 in a JSON string at byte 1");
	parse_fails("[\"ab\xFF\"]", "InvalidUtf8", "invalid UTF-8 in a JSON string at byte 4");
	parse_fails("{\"k\xFF\":1}", "InvalidUtf8", "invalid UTF-8 in a JSON string at byte 3");
	/* cut short by the end of the body */
	parse_fails("[\"\xE2\x82", "InvalidUtf8", "invalid UTF-8 in a JSON string at byte 2");
	/* yajl accepts these; json.h promises valid UTF-8 */
	parse_fails("[1,\"ok\xC0\xAF\"]", "InvalidUtf8",
	            "invalid UTF-8 in a JSON string at byte 6");
	parse_fails("\"\xED\xA0\x80\"", "InvalidUtf8", "invalid UTF-8 in a JSON string at byte 1");
	parse_fails("\"\xF4\x90\x80\x80\"", "InvalidUtf8",
	            "invalid UTF-8 in a JSON string at byte 1");
	parse_fails("{\"\xF5\x80\x80\x80\":1}", "InvalidUtf8",
	            "invalid UTF-8 in a JSON string at byte 2");
	/* an escape that decodes to a lone surrogate names the string */
	parse_fails("[\"ok\",\"\\uDC00\"]", "InvalidUtf8",
	            "invalid UTF-8 in a JSON string at byte 6");
}
END_TEST

/* --- limits --------------------------------------------------------------------- */

/* n arrays nested, "[[...]]"; the caller frees. */
static char *nested_arrays(size_t n, size_t *len)
{
	char *s = malloc(2 * n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	*len = 2 * n;
	return s;
}

START_TEST(test_depth_limit)
{
	size_t len, i;
	char *s = nested_arrays(64, &len);
	const struct ch_json *v = parse_ok_len(s, len, &limits64);

	for (i = 0; i < 63; i++) {
		ck_assert_uint_eq(v->u.array.n, 1);
		v = v->u.array.items[0];
	}
	ck_assert_uint_eq(v->u.array.n, 0);
	ck_assert_uint_eq(v->start, 63);
	ck_assert_uint_eq(v->end, 65);
	free(s);

	s = nested_arrays(65, &len);
	parse_fails_len(s, len, &limits64, "TooDeep",
	                "JSON nested deeper than 64 levels at byte 64");
	free(s);
}
END_TEST

START_TEST(test_depth_limit_objects)
{
	char text[65 * 5 + 1 + 65 + 1];
	size_t n = 0, i;
	const struct ch_json *v;

	for (i = 0; i < 65; i++) {
		memcpy(text + n, "{\"a\":", 5);
		n += 5;
	}
	text[n++] = '1';
	memset(text + n, '}', 65);
	n += 65;
	text[n] = '\0';
	/* the 65th '{' is at 64 * 5 */
	parse_fails(text, "TooDeep", "JSON nested deeper than 64 levels at byte 320");
	/* 64 levels are fine: drop the outermost pair */
	v = parse_ok_len(text + 5, n - 6, &limits64);
	ck_assert_uint_eq(v->end, n - 6);
	for (i = 0; i < 64; i++)
		v = ch_json_get(v, "a");
	ck_number(v, "1");
	ck_span(text + 5, v, 64 * 5, "1");
}
END_TEST

START_TEST(test_depth_zero)
{
	const struct ch_json_limits flat = {.max_depth = 0, .max_string = 100};

	ck_number(parse_ok_len("1", 1, &flat), "1");
	parse_fails_len("[]", 2, &flat, "TooDeep", "JSON nested deeper than 0 levels at byte 0");
}
END_TEST

START_TEST(test_megabyte_of_brackets)
{
	size_t len = 1u << 20;
	char *s = malloc(len);

	ck_assert_ptr_nonnull(s);
	memset(s, '[', len);
	/* Refused at the 65th '[': nothing past it is read or allocated. */
	parse_fails_len(s, len, &limits64, "TooDeep",
	                "JSON nested deeper than 64 levels at byte 64");
	free(s);
}
END_TEST

START_TEST(test_string_limit)
{
	const struct ch_json_limits small = {.max_depth = 64, .max_string = 16};
	const char *t;

	t = "\"0123456789abcdef\"";
	ck_string(parse_ok_len(t, strlen(t), &small), "0123456789abcdef");
	t = "\"0123456789abcdefg\"";
	parse_fails_len(t, strlen(t), &small, "StringTooLong",
	                "JSON string longer than 16 bytes at byte 0");
	t = "{\"k\":\"0123456789abcdefg\"}";
	parse_fails_len(t, strlen(t), &small, "StringTooLong",
	                "JSON string longer than 16 bytes at byte 5");
	t = "{\"0123456789abcdef\":1}";
	parse_ok_len(t, strlen(t), &small);
	t = "{\"x\":1, \"0123456789abcdefg\":1}";
	parse_fails_len(t, strlen(t), &small, "StringTooLong",
	                "JSON object key longer than 16 bytes at byte 8");
	/* The limit is on decoded bytes: 32 bytes of text, 16 decoded. */
	t = "\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\\n\"";
	ck_assert_uint_eq(parse_ok_len(t, strlen(t), &small)->u.str.len, 16);
	/* 9 x "\u00e9" is 18 decoded bytes */
	t = "[\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"]";
	parse_fails_len(t, strlen(t), &small, "StringTooLong",
	                "JSON string longer than 16 bytes at byte 1");
}
END_TEST

START_TEST(test_string_limit_zero)
{
	const struct ch_json_limits none = {.max_depth = 4, .max_string = 0};

	ck_string(parse_ok_len("[\"\"]", 4, &none)->u.array.items[0], "");
	parse_fails_len("[\"a\"]", 5, &none, "StringTooLong",
	                "JSON string longer than 0 bytes at byte 1");
}
END_TEST

START_TEST(test_megabyte_array_of_numbers)
{
	size_t count = 1u << 19, len = 2 * count + 1, i;
	char *s = malloc(len + 1);
	const struct ch_json *root, *last;
	struct mallinfo2 before, after;
	size_t used;

	ck_assert_ptr_nonnull(s);
	s[0] = '[';
	for (i = 0; i < count; i++) {
		s[1 + 2 * i] = '1';
		s[2 + 2 * i] = ',';
	}
	s[len - 1] = ']';
	s[len] = '\0';

	before = mallinfo2();
	root = parse_ok_len(s, len, &limits64);
	after = mallinfo2();
	ck_assert_uint_eq(root->u.array.n, count);
	ck_span(s, root->u.array.items[0], 1, "1");
	last = root->u.array.items[count - 1];
	ck_span(s, last, len - 2, "1");
	ck_number(last, "1");
	ck_assert_uint_eq(root->end, len);

	/* Informal: what the parsed tree keeps.  mallinfo2 sees nothing under
	 * ASan or valgrind, whose allocators replace glibc's. */
	used = (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd);
	if (used > 0) {
		fprintf(stderr,
		        "check_json: %zu-byte array of numbers -> %zu bytes of tree (%.1fx)\n", len,
		        used, (double)used / (double)len);
		ck_assert_uint_lt(used, 48 * len);
	}
	free(s);
}
END_TEST

/* Error messages quote input and go into JSON answers and logs: they are
 * always one line of valid UTF-8, whatever was quoted. */
START_TEST(test_error_message_is_printable_utf8)
{
	char long_path[300];

	ch_error_set(&err, 404, "NotFound", "no endpoint at %s", "/a\xff\xfe\r\nb\x7f");
	ck_assert_str_eq(err.message, "no endpoint at /a????b?");
	ch_error_set(&err, 400, "X", "%s", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e"); /* kept */
	ck_assert_str_eq(err.message, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x9e");
	ch_error_set(
	    &err, 400, "X", "%s",
	    "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80"); /* overlong, surrogate, > U+10FFFF */
	ck_assert_str_eq(err.message, "?? ??? ????");
	/* a 4-byte character cut by the message's size limit */
	memset(long_path, 'a', sizeof(long_path));
	memcpy(long_path + sizeof(err.message) - 3, "\xf0\x9f\x93\x9e", 4);
	long_path[sizeof(long_path) - 1] = '\0';
	ch_error_set(&err, 404, "NotFound", "%s", long_path);
	ck_assert_uint_eq(strlen(err.message), sizeof(err.message) - 1);
	ck_assert_str_eq(err.message + sizeof(err.message) - 3, "??");
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *valid = tcase_create("valid");
	TCase *spans = tcase_create("spans");
	TCase *lookups = tcase_create("lookups");
	TCase *errors = tcase_create("errors");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(valid, setup, teardown);
	tcase_add_test(valid, test_top_level_scalars);
	tcase_add_test(valid, test_every_type_in_object);
	tcase_add_test(valid, test_string_decoding);
	tcase_add_test(valid, test_nul_in_string);
	suite_add_tcase(s, valid);

	tcase_add_checked_fixture(spans, setup, teardown);
	tcase_add_test(spans, test_spans_strings_with_escapes);
	tcase_add_test(spans, test_spans_numbers_and_literals);
	tcase_add_test(spans, test_spans_nested);
	tcase_add_test(spans, test_spans_array_of_objects);
	suite_add_tcase(s, spans);

	tcase_add_checked_fixture(lookups, setup, teardown);
	tcase_add_test(lookups, test_lookups);
	suite_add_tcase(s, lookups);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_test(errors, test_empty_body);
	tcase_add_test(errors, test_whitespace_body);
	tcase_add_test(errors, test_truncated);
	tcase_add_test(errors, test_trailing_garbage);
	tcase_add_test(errors, test_two_values);
	tcase_add_test(errors, test_malformed);
	tcase_add_test(errors, test_invalid_utf8);
	suite_add_tcase(s, errors);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_set_timeout(limits, 60); /* valgrind */
	tcase_add_test(limits, test_depth_limit);
	tcase_add_test(limits, test_depth_limit_objects);
	tcase_add_test(limits, test_depth_zero);
	tcase_add_test(limits, test_megabyte_of_brackets);
	tcase_add_test(limits, test_string_limit);
	tcase_add_test(limits, test_string_limit_zero);
	tcase_add_test(limits, test_megabyte_array_of_numbers);
	tcase_add_test(limits, test_error_message_is_printable_utf8);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
