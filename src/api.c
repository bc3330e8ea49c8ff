/* api.c - see api.h */
#include "api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "metrics_db.h"

#define METRICS_MAX_TEXT (4u << 20) /* far above what the bounded series need */

struct ch_api {
	const struct ch_config *cfg;
	struct ch_writer *writer;
	struct ch_envelope_limits limits;
	struct ch_metrics_db *metrics_db; /* the backlog's read-only connection */
};

/* One POST on its way through the journal writer. */
struct intake {
	struct ch_commit_job job; /* first: the writer hands it back */
	struct ch_http_request *req;
	struct ch_batch batch;
	struct ch_journal_row *rows;
	bool *row_duplicate;         /* the writer's answer per row, for the metrics */
	char *kept;                  /* what rows point to once the batch is freed */
	const char *validation_code; /* points into batch, then into kept */
};

static const struct ch_header allow_post[] = {{"Allow", "POST, OPTIONS"}};
static const struct ch_header allow_get[] = {{"Allow", "GET, HEAD"}};
/* Prometheus text exposition format 0.0.4. */
static const char metrics_type[] = "text/plain; version=0.0.4; charset=utf-8";

struct ch_api *ch_api_new(const struct ch_config *cfg, struct ch_writer *writer)
{
	struct ch_api *api = calloc(1, sizeof(*api));

	if (api == NULL)
		return NULL;
	/* The journal's path cannot change on reload: the connection stays. */
	if ((api->metrics_db = ch_metrics_db_new(cfg->db_path)) == NULL) {
		free(api);
		return NULL;
	}
	api->writer = writer;
	ch_api_set_config(api, cfg);
	return api;
}

void ch_api_set_config(struct ch_api *api, const struct ch_config *cfg)
{
	api->cfg = cfg;
	api->limits.max_depth = (unsigned)cfg->max_depth;
	api->limits.max_events = cfg->max_events;
	api->limits.max_id_len = cfg->max_id_length;
	api->limits.max_type_len = 256;
	ch_metrics_start(cfg); /* the endpoint label set follows the configuration */
}

void ch_api_free(struct ch_api *api)
{
	if (api != NULL)
		ch_metrics_db_free(api->metrics_db);
	free(api);
}

static void respond_json(struct ch_http_request *req, int status, yajl_gen g)
{
	const unsigned char *buf;
	size_t len;

	yajl_gen_get_buf(g, &buf, &len);
	ch_http_respond(req, status, "application/json", NULL, 0, (const char *)buf, len);
}

static void gen_key_string(yajl_gen g, const char *key, const char *value)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_string(g, (const unsigned char *)value, strlen(value));
}

static void gen_key_count(yajl_gen g, const char *key, size_t n)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
	yajl_gen_integer(g, (long long)n);
}

static void respond_status(struct ch_http_request *req, const char *status)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	gen_key_string(g, "status", status);
	yajl_gen_map_close(g);
	respond_json(req, 200, g);
	yajl_gen_free(g);
}

static void respond_accepted(struct ch_http_request *req, size_t accepted, size_t duplicates,
                             const char *validation_code)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_map_open(g);
	if (validation_code != NULL)
		gen_key_string(g, "validationResponse", validation_code);
	gen_key_count(g, "accepted", accepted);
	gen_key_count(g, "duplicates", duplicates);
	yajl_gen_map_close(g);
	respond_json(req, 200, g);
	yajl_gen_free(g);
}

static void respond_simple_error(struct ch_http_request *req, int status, const char *code,
                                 const char *message, const struct ch_header *extra, size_t n_extra)
{
	struct ch_error err;

	ch_error_set(&err, status, code, "%s", message);
	ch_http_respond_error_h(req, &err, extra, n_extra);
}

static void intake_free(struct intake *in)
{
	ch_batch_free(&in->batch);
	free(in->rows);
	free(in->row_duplicate);
	free(in->kept);
	free(in);
}

static size_t kept_size(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

static const char *keep(char **cursor, const char *s)
{
	char *copy = *cursor;
	size_t n = kept_size(s);

	if (s == NULL)
		return NULL;
	memcpy(copy, s, n);
	*cursor += n;
	return copy;
}

/* Binary-mode CloudEvents are synthesised into the batch; the rest are spans of the body. */
static bool raw_in_body(const struct intake *in, const struct ch_journal_row *r)
{
	const char *body = in->req->body;

	return r->raw >= body && r->raw + r->raw_len <= body + in->req->body_len;
}

/* Copy what the rows point to out of the parsed batch and free the batch.
 * The JSON tree can be tens of times the body for hostile input, and a
 * request may wait for its commit: what waits is then the body plus this. */
static int detach_from_batch(struct intake *in, size_t n)
{
	size_t need = kept_size(in->validation_code);
	char *cursor;

	for (size_t i = 0; i < n; i++) {
		const struct ch_journal_row *r = &in->rows[i];

		need += kept_size(r->type) + kept_size(r->id) + kept_size(r->source) +
		        kept_size(r->subject) + kept_size(r->call_id) + kept_size(r->event_time) +
		        32 + (raw_in_body(in, r) ? 0 : r->raw_len);
	}
	need += n > 0 ? kept_size(in->rows[0].endpoint) : 0;
	if ((cursor = in->kept = malloc(need ? need : 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct ch_journal_row *r = &in->rows[i];

		r->type = keep(&cursor, r->type);
		r->id = keep(&cursor, r->id);
		r->source = keep(&cursor, r->source);
		r->subject = keep(&cursor, r->subject);
		r->call_id = keep(&cursor, r->call_id);
		r->event_time = keep(&cursor, r->event_time);
		r->dedupe_key = memcpy(cursor, r->dedupe_key, 32);
		cursor += 32;
		if (!raw_in_body(in, r)) {
			r->raw = memcpy(cursor, r->raw, r->raw_len);
			cursor += r->raw_len;
		}
	}
	/* The endpoint path belongs to the configuration, which a reload may
	 * free while this request waits for its commit. */
	if (n > 0) {
		const char *endpoint = keep(&cursor, in->rows[0].endpoint);

		for (size_t i = 0; i < n; i++)
			in->rows[i].endpoint = endpoint;
	}
	in->validation_code = keep(&cursor, in->validation_code);
	ch_batch_free(&in->batch);
	return 0;
}

/* Only after COMMIT: what a failed transaction rolled back was never journaled. */
static void count_events(const struct intake *in)
{
	ch_metrics_duplicates(in->job.duplicates);
	for (size_t i = 0; i < in->job.n_rows; i++) {
		if (!in->row_duplicate[i])
			ch_metrics_event(in->rows[i].type, in->rows[i].format);
	}
}

static void on_committed(struct ch_commit_job *job, void *arg)
{
	struct intake *in = (struct intake *)job;

	if (job->err.status != 0) {
		ch_http_respond_error(in->req, &job->err);
	} else {
		count_events(in);
		respond_accepted(in->req, job->accepted, job->duplicates, in->validation_code);
	}
	intake_free(in);
}

static const char *header(const struct ch_http_request *req, const char *name)
{
	return ch_header_get(req->headers, req->n_headers, name);
}

void ch_api_journal_row(const struct ch_parsed_event *ev, struct ch_journal_row *row)
{
	row->format = ch_format_name(ev->format);
	row->type = ev->type;
	row->id = ev->id;
	row->source = ev->source;
	row->subject = ev->subject;
	row->call_id = ev->call_id;
	row->event_time = ev->time;
	row->event_time_us = ev->time_us;
	row->dedupe_key = ev->dedupe_key;
	row->raw = ev->raw;
	row->raw_len = ev->raw_len;
}

static void post_events(struct ch_api *api, const struct ch_endpoint *ep,
                        struct ch_http_request *req)
{
	struct ch_envelope_input input = {
	    .content_type = header(req, "Content-Type"),
	    .headers = req->headers,
	    .n_headers = req->n_headers,
	};
	struct ch_auth_request areq = {
	    .query = req->query,
	    .headers = req->headers,
	    .n_headers = req->n_headers,
	    .body = req->body,
	    .body_len = req->body_len,
	    .now_s = (int64_t)time(NULL),
	};
	struct ch_error err;
	struct intake *in;
	size_t n = 0;

	if (ch_auth_check(&ep->auth, &areq, &err) < 0) {
		/* RFC 6750 section 3: a bearer-token 401 names its scheme. */
		static const struct ch_header bearer = {"WWW-Authenticate",
		                                        "Bearer error=\"invalid_token\""};
		bool jwt_401 = ep->auth.mode == CH_AUTH_JWT && err.status == 401;

		/* The message says what was wrong, never the credential (auth.h). */
		ch_log_kv(CH_LOG_INFO, "auth: refused",
		          "request=%llu remote=%s endpoint=%s error=%s",
		          (unsigned long long)req->id, req->remote, ep->path, err.message);
		ch_http_respond_error_h(req, &err, jwt_401 ? &bearer : NULL, jwt_401 ? 1 : 0);
		return;
	}
	if ((in = calloc(1, sizeof(*in))) == NULL) {
		respond_simple_error(req, 503, "OutOfMemory", "out of memory", NULL, 0);
		return;
	}
	in->req = req;
	if (ch_envelope_parse(req->body, req->body_len, &input, &api->limits, &in->batch, &err) <
	    0) {
		ch_log_kv(CH_LOG_DEBUG, "intake: rejected",
		          "request=%llu remote=%s endpoint=%s status=%d code=%s error=%s",
		          (unsigned long long)req->id, req->remote, ep->path, err.status, err.code,
		          err.message);
		ch_http_respond_error(req, &err);
		intake_free(in);
		return;
	}
	in->rows = calloc(in->batch.n, sizeof(*in->rows));
	in->row_duplicate = calloc(in->batch.n, sizeof(*in->row_duplicate));
	if (in->rows == NULL || in->row_duplicate == NULL) {
		respond_simple_error(req, 503, "OutOfMemory", "out of memory", NULL, 0);
		intake_free(in);
		return;
	}
	for (size_t i = 0; i < in->batch.n; i++) {
		const struct ch_parsed_event *ev = &in->batch.events[i];
		struct ch_journal_row *row = &in->rows[n];

		/* The handshake is answered, not journaled: it is not a call event. */
		if (ev->is_validation) {
			in->validation_code = ev->validation_code;
			continue;
		}
		ch_api_journal_row(ev, row);
		row->received_us = req->received_us;
		row->remote_addr = req->remote;
		row->endpoint = ep->path;
		ch_log_kv(CH_LOG_DEBUG, "intake: event", "request=%llu type=%s call=%s",
		          (unsigned long long)req->id, ev->type, ev->call_id);
		n++;
	}
	if (in->validation_code != NULL)
		ch_log_kv(CH_LOG_INFO, "intake: answered Event Grid subscription validation",
		          "request=%llu remote=%s endpoint=%s", (unsigned long long)req->id,
		          req->remote, ep->path);
	if (n == 0) { /* a validation request alone: nothing to make durable */
		respond_accepted(req, 0, 0, in->validation_code);
		intake_free(in);
		return;
	}
	if (detach_from_batch(in, n) < 0) {
		respond_simple_error(req, 503, "OutOfMemory", "out of memory", NULL, 0);
		intake_free(in);
		return;
	}
	in->job.rows = in->rows;
	in->job.n_rows = n;
	in->job.row_duplicate = in->row_duplicate;
	in->job.done = on_committed;
	in->job.arg = api;
	ch_writer_submit(api->writer, &in->job);
}

static bool origin_allowed(const struct ch_endpoint *ep, const char *origin)
{
	for (size_t i = 0; i < ep->n_allowed_origins; i++) {
		if (strcmp(ep->allowed_origins[i], "*") == 0 ||
		    strcasecmp(ep->allowed_origins[i], origin) == 0)
			return true;
	}
	return false;
}

/* CloudEvents HTTP webhook spec, section 4: abuse protection.  Consent is the
 * WebHook-Allowed-Origin header; refusing is withholding it (we also say 403). */
static void options_handshake(const struct ch_endpoint *ep, struct ch_http_request *req)
{
	const char *origin = header(req, "WebHook-Request-Origin");
	struct ch_header h[3];

	if (origin == NULL) {
		ch_http_respond(req, 204, NULL, allow_post, 1, NULL, 0);
		return;
	}
	if (!origin_allowed(ep, origin)) {
		ch_log_kv(CH_LOG_INFO, "handshake: refused origin",
		          "request=%llu remote=%s endpoint=%s", (unsigned long long)req->id,
		          req->remote, ep->path);
		respond_simple_error(req, 403, "OriginNotAllowed",
		                     "this WebHook-Request-Origin is not in allowed_origin",
		                     allow_post, 1);
		return;
	}
	h[0] = allow_post[0];
	h[1] = (struct ch_header){"WebHook-Allowed-Origin", origin};
	h[2] = (struct ch_header){"WebHook-Allowed-Rate", ep->allowed_rate};
	ch_log_kv(CH_LOG_INFO, "handshake: CloudEvents webhook validation answered",
	          "request=%llu remote=%s endpoint=%s", (unsigned long long)req->id, req->remote,
	          ep->path);
	ch_http_respond(req, 200, NULL, h, 3, NULL, 0);
}

static bool method_is(const struct ch_http_request *req, const char *m)
{
	return strcmp(req->method, m) == 0;
}

/* 127.0.0.0/8 or ::1 (also IPv4-mapped), as http_conn.c writes the peer. */
static bool remote_is_loopback(const char *remote)
{
	return strncmp(remote, "127.", 4) == 0 || strncmp(remote, "[::1]:", 6) == 0 ||
	       strncmp(remote, "[::ffff:127.", 12) == 0;
}

/* GET /metrics: Prometheus text.  Everything but the backlog is read from
 * counters; the backlog costs a small read-only query per handler. */
static void serve_metrics(struct ch_api *api, struct ch_http_request *req)
{
	struct ch_metrics_scrape scrape = {
	    .store_up = ch_writer_healthy(api->writer),
	    .backlog = ch_metrics_db_backlog,
	    .arg = api->metrics_db,
	};
	struct ch_text text;

	if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
		respond_simple_error(req, 405, "MethodNotAllowed", "use GET", allow_get, 1);
		return;
	}
	if (api->cfg->metrics == CH_METRICS_LOOPBACK && !remote_is_loopback(req->remote)) {
		respond_simple_error(req, 403, "Forbidden",
		                     "/metrics is served to loopback clients only (see [server] "
		                     "metrics in callhookd.conf(5))",
		                     NULL, 0);
		return;
	}
	ch_text_init(&text, METRICS_MAX_TEXT);
	if (ch_metrics_render(&text, &scrape) < 0)
		respond_simple_error(req, 503, "OutOfMemory", "out of memory", NULL, 0);
	else
		ch_http_respond(req, 200, metrics_type, NULL, 0, text.buf, text.len);
	ch_text_free(&text);
}

void ch_api_handle(struct ch_http_request *req, void *arg)
{
	struct ch_api *api = arg;
	const struct ch_endpoint *ep = ch_config_endpoint(api->cfg, req->path, req->path_len);
	struct ch_error err;

	if (ep != NULL) {
		if (method_is(req, "POST"))
			post_events(api, ep, req);
		else if (method_is(req, "OPTIONS"))
			options_handshake(ep, req);
		else
			respond_simple_error(req, 405, "MethodNotAllowed",
			                     "use POST to deliver events", allow_post, 1);
		return;
	}
	if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0) {
		if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
			respond_simple_error(req, 405, "MethodNotAllowed", "use GET", allow_get, 1);
			return;
		}
		if (strcmp(req->path, "/healthz") == 0 || ch_writer_healthy(api->writer)) {
			respond_status(req, strcmp(req->path, "/healthz") == 0 ? "ok" : "ready");
			return;
		}
		ch_error_set(&err, 503, "StoreUnavailable", "the journal does not take writes");
		ch_http_respond_error(req, &err);
		return;
	}
	if (strcmp(req->path, "/metrics") == 0 && api->cfg->metrics != CH_METRICS_NO) {
		serve_metrics(api, req);
		return;
	}
	ch_error_set(&err, 404, "NotFound", "no endpoint at %.128s", req->path);
	ch_http_respond_error(req, &err);
}
