/* emu_http.c - see emu_http.h.
 *
 * Order of checks on the REST API: route (404), method (405), signature
 * (401), api-version (400), body and fields (400 naming the field), the call
 * or conversation (404).  The signature comes before anything that depends
 * on the request's content, so an unsigned client learns nothing but the
 * shape of the URL space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "acs_sign.h"
#include "emu_calls.h"
#include "emu_deliver.h"
#include "emu_events.h"
#include "emu_http.h"
#include "emu_json.h"
#include "json.h"
#include "log.h"

#define MAX_SEGS        8
#define MAX_SKEW_S      300 /* x-ms-date may be this far from our clock */
#define MAX_TARGETS     16
#define API_VERSION_MAX 64

struct ctx {
	struct emu *e;
	struct evhttp_request *req;
	char *segs[MAX_SEGS]; /* decoded path segments, owned */
	size_t n_segs;
	char *body; /* NUL-terminated copy, owned */
	size_t body_len;
	struct ch_json_doc *doc; /* parsed body, owned */
	const struct ch_json *root;
	struct ch_error err;
	int status; /* what was answered, for the log */
};

/* libevent 2.1 has no public name for a method. */
static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* --- replies ------------------------------------------------------------------ */

static void reply(struct ctx *x, int status, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(x->req);

	evhttp_add_header(h, "Content-Type", "application/json");
	x->status = status;
	evhttp_send_reply(x->req, status, NULL, body);
}

static void reply_error(struct ctx *x)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		x->status = 500;
		evhttp_send_error(x->req, 500, NULL);
		return;
	}
	emu_json_raw(b, "{");
	emu_json_key(b, "code");
	emu_json_str(b, x->err.code);
	emu_json_member(b, "message");
	emu_json_str(b, x->err.message);
	emu_json_raw(b, "}\n");
	if (x->e->opt.verbose)
		ch_log_kv(CH_LOG_DEBUG, "emulator: refused", "status=%d code=%s message=%s",
		          x->err.status, x->err.code, x->err.message);
	reply(x, x->err.status, b);
	evbuffer_free(b);
}

/* --- request pieces ----------------------------------------------------------- */

static int split_path(struct ctx *x)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(x->req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	const char *p = path;

	if (path == NULL || path[0] != '/')
		return ch_error_set(&x->err, 404, "NotFound", "no such path");
	while (*p != '\0') {
		const char *start = ++p;
		size_t len, dec_len = 0;
		char *raw, *dec;

		while (*p != '\0' && *p != '/')
			p++;
		len = (size_t)(p - start);
		if (len == 0 && *p == '\0')
			break; /* a trailing slash */
		if (x->n_segs == MAX_SEGS)
			return ch_error_set(&x->err, 404, "NotFound", "no such path");
		raw = strndup(start, len);
		dec = raw != NULL ? evhttp_uridecode(raw, 0, &dec_len) : NULL;
		free(raw);
		if (dec == NULL)
			return ch_error_set(&x->err, 500, "InternalError", "out of memory");
		x->segs[x->n_segs++] = dec;
		if (strlen(dec) != dec_len || dec_len == 0)
			return ch_error_set(&x->err, 404, "NotFound", "no such path");
	}
	return 0;
}

static bool seg_is(const struct ctx *x, size_t i, const char *name)
{
	return i < x->n_segs && strcasecmp(x->segs[i], name) == 0;
}

static int read_body(struct ctx *x)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(x->req);
	size_t len = evbuffer_get_length(in);

	if (len > EMU_BODY_MAX) {
		ch_error_set(&x->err, 413, "PayloadTooLarge", "request body over %d bytes",
		             EMU_BODY_MAX);
		return -1;
	}
	x->body = malloc(len + 1);
	if (x->body == NULL)
		return ch_error_set(&x->err, 500, "InternalError", "out of memory");
	evbuffer_copyout(in, x->body, len);
	x->body[len] = '\0';
	x->body_len = len;
	return 0;
}

/* The body as a JSON object; an empty body counts as {} when allowed. */
static int parse_body(struct ctx *x, bool empty_ok)
{
	static const struct ch_json_limits limits = {16, 4096};
	size_t i = 0;

	while (i < x->body_len && strchr(" \t\r\n", x->body[i]) != NULL)
		i++;
	if (i == x->body_len) {
		if (empty_ok)
			return 0;
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "the request needs a JSON body");
	}
	if (ch_json_parse(x->body, x->body_len, &limits, &x->doc, &x->err) < 0)
		return -1;
	x->root = ch_json_root(x->doc);
	if (x->root->type != CH_JSON_OBJECT)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "the body must be a JSON object");
	return 0;
}

static int verify(struct ctx *x)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(x->req);
	const char *names[] = {"Host", "x-ms-date", "x-ms-content-sha256", "Authorization"};
	const char *vals[4];

	for (int i = 0; i < 4; i++) {
		vals[i] = evhttp_find_header(h, names[i]);
		if (vals[i] == NULL)
			return ch_error_set(&x->err, 401, "Unauthorized", "header %s is missing",
			                    names[i]);
	}
	return ch_acs_verify(x->e->key, x->e->key_len,
	                     method_name(evhttp_request_get_command(x->req)),
	                     evhttp_request_get_uri(x->req), vals[0], vals[1], vals[2], vals[3],
	                     x->body, x->body_len, time(NULL), MAX_SKEW_S, &x->err);
}

static int api_version(struct ctx *x)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(x->req);
	const char *query = u != NULL ? evhttp_uri_get_query(u) : NULL;
	struct evkeyvalq q;
	const char *v;
	int rc = 0;

	TAILQ_INIT(&q);
	if (query == NULL || evhttp_parse_query_str(query, &q) < 0 ||
	    (v = evhttp_find_header(&q, "api-version")) == NULL || v[0] == '\0')
		rc = ch_error_set(&x->err, 400, "MissingApiVersion",
		                  "query parameter \"api-version\" is required");
	else if (strlen(v) > API_VERSION_MAX)
		rc = ch_error_set(&x->err, 400, "InvalidApiVersion",
		                  "query parameter \"api-version\" is too long");
	evhttp_clear_headers(&q);
	return rc;
}

/* --- fields ----------------------------------------------------------------- */

/* A string member: NULL when absent or null and !required. */
static int get_str(struct ctx *x, const struct ch_json *obj, const char *key, const char *field,
                   bool required, size_t max, const char **out)
{
	const struct ch_json *v = ch_json_get_ci(obj, key);

	*out = NULL;
	if (v == NULL || v->type == CH_JSON_NULL) {
		if (required)
			return ch_error_set(&x->err, 400, "InvalidRequest", "field \"%s\": missing",
			                    field);
		return 0;
	}
	if (v->type != CH_JSON_STRING)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": must be a string", field);
	if (v->u.str.len >= max || strlen(v->u.str.ptr) != v->u.str.len)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": longer than %zu bytes or holds a NUL", field,
		                    max - 1);
	if (required && v->u.str.len == 0)
		return ch_error_set(&x->err, 400, "InvalidRequest", "field \"%s\": empty", field);
	*out = v->u.str.ptr;
	return 0;
}

/* {"communicationUser":{"id"}} | {"phoneNumber":{"value"}} |
 * {"microsoftTeamsUser":{"userId"}} | {"rawId"}. */
static int get_ident(struct ctx *x, const struct ch_json *v, const char *field,
                     struct emu_ident *out)
{
	const struct ch_json *inner;
	const char *s = NULL;
	char raw[EMU_RAW_MAX];

	if (v == NULL || v->type != CH_JSON_OBJECT)
		return ch_error_set(&x->err, 400, "InvalidRequest", "field \"%s\": %s", field,
		                    v == NULL ? "missing" : "must be an identifier object");
	if ((inner = ch_json_get_ci(v, "communicationUser")) != NULL) {
		if (get_str(x, inner, "id", field, true, EMU_RAW_MAX - 20, &s) < 0)
			return ch_error_set(&x->err, 400, "InvalidRequest",
			                    "field \"%s.communicationUser.id\": must be a "
			                    "non-empty string of at most 235 bytes",
			                    field);
		snprintf(raw, sizeof(raw), "%s", s);
	} else if ((inner = ch_json_get_ci(v, "phoneNumber")) != NULL) {
		if (get_str(x, inner, "value", field, true, EMU_RAW_MAX - 20, &s) < 0)
			return ch_error_set(&x->err, 400, "InvalidRequest",
			                    "field \"%s.phoneNumber.value\": must be a non-empty "
			                    "string of at most 235 bytes",
			                    field);
		snprintf(raw, sizeof(raw), "4:%s", s);
	} else if ((inner = ch_json_get_ci(v, "microsoftTeamsUser")) != NULL) {
		if (get_str(x, inner, "userId", field, true, EMU_RAW_MAX - 20, &s) < 0)
			return ch_error_set(&x->err, 400, "InvalidRequest",
			                    "field \"%s.microsoftTeamsUser.userId\": must be a "
			                    "non-empty string of at most 235 bytes",
			                    field);
		snprintf(raw, sizeof(raw), "8:orgid:%s", s);
	} else {
		if (get_str(x, v, "rawId", field, false, EMU_RAW_MAX - 20, &s) < 0 || s == NULL ||
		    s[0] == '\0')
			return ch_error_set(
			    &x->err, 400, "InvalidRequest",
			    "field \"%s\": needs communicationUser.id, phoneNumber.value, "
			    "microsoftTeamsUser.userId or rawId",
			    field);
		snprintf(raw, sizeof(raw), "%s", s);
	}
	if (emu_ident_from_raw(raw, out, &x->err) < 0) {
		return ch_error_set(&x->err, 400, "InvalidRequest", "field \"%s\": %s", field,
		                    "not a usable identifier");
	}
	return 0;
}

/* An array of identifiers; *n set; at least one. */
static int get_idents(struct ctx *x, const char *key, struct emu_ident *out, size_t *n)
{
	const struct ch_json *a = ch_json_get_ci(x->root, key);
	char field[48];

	*n = 0;
	if (a == NULL || a->type == CH_JSON_NULL)
		return ch_error_set(&x->err, 400, "InvalidRequest", "field \"%s\": missing", key);
	if (a->type != CH_JSON_ARRAY || a->u.array.n == 0)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": must be a non-empty array of identifiers", key);
	if (a->u.array.n > MAX_TARGETS)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": at most %d identifiers", key, MAX_TARGETS);
	for (size_t i = 0; i < a->u.array.n; i++) {
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if (get_ident(x, a->u.array.items[i], field, &out[i]) < 0)
			return -1;
	}
	*n = a->u.array.n;
	return 0;
}

/* An optional array whose strings must each be one of allowed[]. */
static int get_enum_list(struct ctx *x, const char *key, const char *const *allowed)
{
	const struct ch_json *a = ch_json_get_ci(x->root, key);

	if (a == NULL || a->type == CH_JSON_NULL)
		return 0;
	if (a->type != CH_JSON_ARRAY)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": must be an array of strings", key);
	for (size_t i = 0; i < a->u.array.n; i++) {
		const char *s = ch_json_string(a->u.array.items[i]);
		bool ok = false;

		for (size_t k = 0; s != NULL && allowed[k] != NULL; k++)
			ok = ok || strcasecmp(s, allowed[k]) == 0;
		if (!ok)
			return ch_error_set(&x->err, 400, "InvalidRequest",
			                    "field \"%s[%zu]\": not one of the known values", key,
			                    i);
	}
	return 0;
}

static int get_bool(struct ctx *x, const char *key, bool *out)
{
	const struct ch_json *v = ch_json_get_ci(x->root, key);

	*out = false;
	if (v == NULL || v->type == CH_JSON_NULL)
		return 0;
	if (v->type != CH_JSON_BOOL)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"%s\": must be true or false", key);
	*out = v->u.boolean;
	return 0;
}

static bool any_phone(const struct emu_ident *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i].kind == EMU_PHONE)
			return true;
	}
	return false;
}

/* alternateCallerId: {"value": "+1..."}; required when calling phone numbers. */
static int get_alternate(struct ctx *x, bool required)
{
	const struct ch_json *v = ch_json_get_ci(x->root, "alternateCallerId");
	const char *s;

	if (v == NULL || v->type == CH_JSON_NULL) {
		if (required)
			return ch_error_set(
			    &x->err, 400, "InvalidRequest",
			    "field \"alternateCallerId\": missing (required to call a "
			    "phone number)");
		return 0;
	}
	if (v->type != CH_JSON_OBJECT)
		return ch_error_set(&x->err, 400, "InvalidRequest",
		                    "field \"alternateCallerId\": must be {\"value\": \"+...\"}");
	return get_str(x, v, "value", "alternateCallerId.value", true, 64, &s);
}

/* --- the REST API --------------------------------------------------------------- */

static void reply_call_leg(struct ctx *x, const struct emu_call *c)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(x->req, 500, NULL);
		return;
	}
	emu_json_raw(b, "{");
	emu_json_key(b, "callLegId");
	emu_json_str(b, c->id);
	emu_json_raw(b, "}\n");
	reply(x, 200, b); /* the seed answers 200 Success with the call leg id */
	evbuffer_free(b);
}

static void reply_empty(struct ctx *x, int status)
{
	reply(x, status, NULL);
}

/* POST /calling/calls, POST /calling/conversations/{id}/join */
static int create_call(struct ctx *x, const char *conv_id)
{
	static const char *const modalities[] = {"audio", "video", NULL};
	static const char *const events[] = {"participantsUpdated", "dtmfReceived", NULL};
	struct emu_ident source, targets[MAX_TARGETS];
	size_t n_targets = 0;
	const char *callback, *subject;
	struct emu_call *c;

	if (parse_body(x, false) < 0 ||
	    get_ident(x, ch_json_get_ci(x->root, "source"), "source", &source) < 0 ||
	    (conv_id == NULL && get_idents(x, "targets", targets, &n_targets) < 0) ||
	    get_str(x, x->root, "subject", "subject", false, EMU_TEXT_MAX, &subject) < 0 ||
	    get_str(x, x->root, "callbackUri", "callbackUri", true, EMU_URI_MAX, &callback) < 0 ||
	    get_enum_list(x, "requestedModalities", modalities) < 0 ||
	    get_enum_list(x, "requestedCallEvents", events) < 0 || get_alternate(x, false) < 0)
		return -1;
	c = emu_call_create(x->e, &source, targets, n_targets, conv_id, callback, &x->err);
	if (c == NULL)
		return -1;
	reply_call_leg(x, c);
	return 0;
}

static void reply_media(struct ctx *x, const char *id, const char *status, const char *context)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(x->req, 500, NULL);
		return;
	}
	emu_json_raw(b, "{");
	emu_json_key(b, "id");
	emu_json_str(b, id);
	emu_json_member(b, "status");
	emu_json_str(b, status);
	emu_json_member(b, "operationContext");
	emu_json_str(b, context);
	emu_json_raw(b, ",\"resultInfo\":{\"code\":202,\"subcode\":0,"
	                "\"message\":\"Action is accepted.\"}}\n");
	reply(x, 202, b);
	evbuffer_free(b);
}

static int call_op(struct ctx *x)
{
	struct emu_call *c = emu_call_find(x->e, x->segs[2]);
	const char *op = x->segs[3];

	if (strcasecmp(op, "Hangup") == 0) {
		if (parse_body(x, true) < 0 || emu_call_usable(c, x->segs[2], &x->err) < 0)
			return -1;
		emu_call_hangup(c);
		reply_empty(x, 202);
		return 0;
	}
	if (strcasecmp(op, "PlayAudio") == 0) {
		const char *uri, *context, *resource;
		char id[EMU_ID_LEN];
		bool loop;

		if (parse_body(x, false) < 0 ||
		    get_str(x, x->root, "audioFileUri", "audioFileUri", true, EMU_TEXT_MAX, &uri) <
		        0 ||
		    get_bool(x, "loop", &loop) < 0 ||
		    get_str(x, x->root, "operationContext", "operationContext", false, EMU_TEXT_MAX,
		            &context) < 0 ||
		    get_str(x, x->root, "resourceId", "resourceId", false, EMU_TEXT_MAX,
		            &resource) < 0 ||
		    emu_call_usable(c, x->segs[2], &x->err) < 0 ||
		    emu_call_play(c, uri, loop, context, id, &x->err) < 0)
			return -1;
		reply_media(x, id, "notStarted", context);
		return 0;
	}
	if (strcasecmp(op, "CancelMediaProcessing") == 0) {
		const char *context;
		char id[EMU_ID_LEN];

		if (parse_body(x, true) < 0 ||
		    (x->root != NULL && get_str(x, x->root, "operationContext", "operationContext",
		                                false, EMU_TEXT_MAX, &context) < 0) ||
		    emu_call_usable(c, x->segs[2], &x->err) < 0)
			return -1;
		if (x->root == NULL)
			context = NULL;
		emu_call_cancel_media(c);
		emu_uuid(id);
		reply_media(x, id, "completed", context);
		return 0;
	}
	return ch_error_set(&x->err, 404, "NotFound", "no such operation \"%.64s\"", op);
}

/* POST .../participants on a call leg or a conversation. */
static int invite(struct ctx *x, struct emu_conv *v, struct emu_call *origin)
{
	struct emu_ident ids[MAX_TARGETS];
	const char *context, *callback;
	size_t n;

	if (parse_body(x, false) < 0 || get_idents(x, "participants", ids, &n) < 0 ||
	    get_str(x, x->root, "operationContext", "operationContext", false, EMU_TEXT_MAX,
	            &context) < 0 ||
	    get_str(x, x->root, "callbackUri", "callbackUri", false, EMU_URI_MAX, &callback) < 0 ||
	    get_alternate(x, origin != NULL && any_phone(ids, n)) < 0)
		return -1;
	if (v == NULL)
		return ch_error_set(&x->err, 404, "ConversationNotFound",
		                    "no conversation \"%.200s\"", x->segs[2]);
	if (emu_conv_invite(v, origin, ids, n, context, &x->err) < 0)
		return -1;
	reply_empty(x, 202);
	return 0;
}

/* The method a REST path takes: EVHTTP_REQ_POST or EVHTTP_REQ_DELETE; 0 when
 * the path is not one of the seed's. */
static enum evhttp_cmd_type rest_route(const struct ctx *x)
{
	bool calls = seg_is(x, 1, "calls"), convs = seg_is(x, 1, "conversations");

	if (calls && x->n_segs == 2)
		return EVHTTP_REQ_POST;
	if (calls && x->n_segs == 4 &&
	    (seg_is(x, 3, "Hangup") || seg_is(x, 3, "PlayAudio") ||
	     seg_is(x, 3, "CancelMediaProcessing") || seg_is(x, 3, "participants")))
		return EVHTTP_REQ_POST;
	if (convs && x->n_segs == 4 && (seg_is(x, 3, "join") || seg_is(x, 3, "participants")))
		return EVHTTP_REQ_POST;
	if ((calls || convs) && x->n_segs == 5 && seg_is(x, 3, "participants"))
		return EVHTTP_REQ_DELETE;
	return 0;
}

static int calling(struct ctx *x, enum evhttp_cmd_type cmd)
{
	enum evhttp_cmd_type allowed = rest_route(x);
	bool calls = seg_is(x, 1, "calls"), convs = seg_is(x, 1, "conversations");
	bool post_only = allowed == EVHTTP_REQ_POST;
	struct emu_call *c = NULL;
	struct emu_conv *v = NULL;

	if (allowed == 0)
		return ch_error_set(&x->err, 404, "NotFound", "no such path");
	if (cmd != allowed) {
		evhttp_add_header(evhttp_request_get_output_headers(x->req), "Allow",
		                  post_only ? "POST" : "DELETE");
		return ch_error_set(&x->err, 405, "MethodNotAllowed", "use %s on this path",
		                    post_only ? "POST" : "DELETE");
	}
	if (read_body(x) < 0 || verify(x) < 0 || api_version(x) < 0)
		return -1;

	if (calls && x->n_segs == 2)
		return create_call(x, NULL);
	if (convs && seg_is(x, 3, "join")) {
		if (strlen(x->segs[2]) >= EMU_CONV_MAX)
			return ch_error_set(&x->err, 400, "InvalidRequest",
			                    "conversation id too long");
		return create_call(x, x->segs[2]);
	}
	if (calls) {
		c = emu_call_find(x->e, x->segs[2]);
		if (x->n_segs == 4 && !seg_is(x, 3, "participants"))
			return call_op(x);
		if (emu_call_usable(c, x->segs[2], &x->err) < 0)
			return -1;
		v = c->conv;
	} else {
		v = emu_conv_find(x->e, x->segs[2]);
	}
	if (x->n_segs == 4)
		return invite(x, v, c);
	/* DELETE .../participants/{participantId} */
	if (parse_body(x, true) < 0)
		return -1;
	if (v == NULL)
		return ch_error_set(&x->err, 404, "ConversationNotFound",
		                    "no conversation \"%.200s\"", x->segs[2]);
	if (emu_conv_remove(v, c, x->segs[4], NULL, &x->err) < 0)
		return -1;
	reply_empty(x, 202);
	return 0;
}

/* --- the control surface ------------------------------------------------------- */

static void reply_call(struct ctx *x, int status, const struct emu_call *c)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(x->req, 500, NULL);
		return;
	}
	emu_call_json(c, b);
	reply(x, status, b);
	evbuffer_free(b);
}

static int events(struct ctx *x)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(x->req);
	const char *query = u != NULL ? evhttp_uri_get_query(u) : NULL;
	const char *since_s = NULL, *limit_s = NULL;
	unsigned long long since = 0, limit = EMU_LOG_MAX;
	struct evkeyvalq q;
	struct evbuffer *b;
	char *end;
	int rc = 0;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) == 0) {
		since_s = evhttp_find_header(&q, "since");
		limit_s = evhttp_find_header(&q, "limit");
	}
	if (since_s != NULL) {
		since = strtoull(since_s, &end, 10);
		if (since_s[0] < '0' || since_s[0] > '9' || *end != '\0')
			rc = ch_error_set(&x->err, 400, "InvalidRequest",
			                  "query parameter \"since\": not a sequence number");
	}
	if (rc == 0 && limit_s != NULL) {
		limit = strtoull(limit_s, &end, 10);
		if (limit_s[0] < '1' || limit_s[0] > '9' || *end != '\0' || limit > EMU_LOG_MAX)
			rc = ch_error_set(&x->err, 400, "InvalidRequest",
			                  "query parameter \"limit\": 1 to %d", EMU_LOG_MAX);
	}
	evhttp_clear_headers(&q);
	if (rc < 0)
		return -1;
	b = evbuffer_new();
	if (b == NULL)
		return ch_error_set(&x->err, 500, "InternalError", "out of memory");
	emu_deliver_records_json(x->e, since, limit, b);
	reply(x, 200, b);
	evbuffer_free(b);
	return 0;
}

static int control(struct ctx *x, enum evhttp_cmd_type cmd)
{
	struct emu_call *c;
	const char *op, *who;
	bool ended;

	if (x->n_segs == 2 && seg_is(x, 1, "events")) {
		if (cmd != EVHTTP_REQ_GET) {
			evhttp_add_header(evhttp_request_get_output_headers(x->req), "Allow",
			                  "GET");
			return ch_error_set(&x->err, 405, "MethodNotAllowed",
			                    "use GET on this path");
		}
		return events(x);
	}
	if (!seg_is(x, 1, "calls") || x->n_segs < 3 || x->n_segs > 4)
		return ch_error_set(&x->err, 404, "NotFound", "no such path");
	op = x->n_segs == 4 ? x->segs[3] : NULL;
	if (op != NULL && strcasecmp(op, "dtmf") != 0 && strcasecmp(op, "join") != 0 &&
	    strcasecmp(op, "leave") != 0 && strcasecmp(op, "mute") != 0 &&
	    strcasecmp(op, "unmute") != 0 && strcasecmp(op, "hangup") != 0)
		return ch_error_set(&x->err, 404, "NotFound", "no such control \"%.64s\"", op);
	if (cmd != (op == NULL ? EVHTTP_REQ_GET : EVHTTP_REQ_POST)) {
		evhttp_add_header(evhttp_request_get_output_headers(x->req), "Allow",
		                  op == NULL ? "GET" : "POST");
		return ch_error_set(&x->err, 405, "MethodNotAllowed", "use %s on this path",
		                    op == NULL ? "GET" : "POST");
	}
	c = emu_call_find(x->e, x->segs[2]);
	if (c == NULL)
		return ch_error_set(&x->err, 404, "CallNotFound", "no call leg \"%.64s\"",
		                    x->segs[2]);
	if (op == NULL) {
		reply_call(x, 200, c);
		return 0;
	}
	if (read_body(x) < 0 || parse_body(x, strcasecmp(op, "hangup") == 0) < 0)
		return -1;
	ended = c->state == EMU_TERMINATING || c->state == EMU_TERMINATED;
	if (ended)
		return ch_error_set(&x->err, 409, "CallEnded", "call leg \"%s\" has ended", c->id);
	if (strcasecmp(op, "hangup") == 0) {
		emu_call_hangup(c);
	} else if (strcasecmp(op, "dtmf") == 0) {
		const char *tones;

		if (get_str(x, x->root, "tones", "tones", true, EMU_TONES_MAX + 1, &tones) < 0 ||
		    emu_call_dtmf(c, tones, &x->err) < 0)
			return -1;
	} else {
		if (get_str(x, x->root, "participant", "participant", true, EMU_RAW_MAX - 2, &who) <
		    0)
			return -1;
		if (strcasecmp(op, "join") == 0) {
			struct emu_ident id;

			if (emu_ident_from_raw(who, &id, &x->err) < 0)
				return -1;
			if (emu_conv_join(c, &id, &x->err) < 0)
				return -1;
		} else if (strcasecmp(op, "leave") == 0) {
			if (emu_conv_leave(c, who, &x->err) < 0)
				return -1;
		} else if (emu_conv_mute(c->conv, who, strcasecmp(op, "mute") == 0, &x->err) < 0) {
			return -1;
		}
	}
	reply_call(x, 202, c);
	return 0;
}

/* --- entry ------------------------------------------------------------------------ */

void emu_http_handle(struct evhttp_request *req, void *arg)
{
	struct ctx x = {.e = arg, .req = req};
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int rc;

	ch_error_clear(&x.err);
	if (split_path(&x) < 0)
		rc = -1;
	else if (seg_is(&x, 0, "calling"))
		rc = calling(&x, cmd);
	else if (seg_is(&x, 0, "emulator"))
		rc = control(&x, cmd);
	else
		rc = ch_error_set(&x.err, 404, "NotFound", "no such path");
	if (rc < 0) {
		if (x.err.status == 0)
			ch_error_set(&x.err, 500, "InternalError", "unexpected failure");
		reply_error(&x);
	}
	if (x.e->opt.verbose)
		ch_log_kv(CH_LOG_DEBUG, "emulator: request", "method=%s uri=%s status=%d",
		          method_name(cmd), evhttp_request_get_uri(req), x.status);
	for (size_t i = 0; i < x.n_segs; i++)
		free(x.segs[i]);
	free(x.body);
	if (x.doc != NULL)
		ch_json_doc_free(x.doc);
}
