/* http_conn.c - see http_conn.h for why this exists instead of evhttp.
 *
 * Life of a connection:
 *   READING    parsing a request (or waiting, idle, for the next one)
 *   DISPATCHED the application holds the request; reading is paused
 *   CLOSING    the last answer is being written; close when it is flushed
 *   LINGERING  answer flushed and our side shut down; read and discard what the
 *              client still sends until it closes or a short deadline passes
 * On a TLS port a connection starts with no bufferevent: it waits for its
 * first byte, which tells a TLS handshake from plain HTTP (answered 400),
 * and the handshake must be done within request_timeout.
 * A connection whose socket died while DISPATCHED stays allocated (sock gone)
 * until the application answers, so the request it holds stays valid.
 */
#include "http_conn.h"

#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <yajl/yajl_gen.h>

#include "clocks.h"
#include "log.h"
#include "metrics.h"
#include "sources.h"
#include "tls.h"

#define MAX_HEADERS       128  /* header lines per request */
#define LINGER_MS         2000 /* how long to drain a client after an error answer */
#define LINGER_MAX_BYTES  (4u << 20)
#define REJECT_EXTRA_MIN  16 /* connections past the limit that still get a 429 */
#define SOURCE_EXTRA_MIN  4  /* the same, past one address's limit */
#define ACCEPT_BACKOFF_MS 100

enum conn_state { READING, DISPATCHED, CLOSING, LINGERING };
/* Accepted past a connection limit: the first request is answered 429. */
enum over_limit { OVER_NONE, OVER_TOTAL, OVER_SOURCE };

/* Input a connection buffers unparsed while its request is being answered. */
#define READ_HIGH_WATER (64 * 1024)

struct ch_http_conn {
	struct ch_http_server *srv;
	struct ch_http_conn *prev, *next; /* srv->conns */
	struct bufferevent *bev;  /* NULL before it is made, and once the socket is closed */
	evutil_socket_t fd;       /* the socket while no bufferevent owns it, else -1 */
	struct event *first_byte; /* TLS port: waiting for the client's first byte */
	struct event *timer;      /* idle / request / linger deadline */
	struct event *resume;     /* parse pipelined input after an answer */
	enum conn_state state;
	http_parser parser;
	enum over_limit over;
	bool tls;            /* a TLS bufferevent */
	bool handshake_done; /* TLS: BEV_EVENT_CONNECTED came */
	bool tls_broken;     /* TLS: failed or closed by the peer: no close_notify */
	bool plain_on_tls;   /* plain HTTP on the TLS port: answer 400 */
	bool keyed;          /* source holds the peer's address */
	bool counted;        /* ... and the connection is counted in srv->sources */
	bool loopback;       /* the peer is on a loopback address */
	struct ch_source_key source;
	long retry_after_s; /* Retry-After of this answer when not the configured one */
	bool in_message;    /* a request has started */
	bool headers_done;
	bool keep_alive;
	bool last_was_value; /* header callbacks: a new field starts a new header */
	bool message_done;
	bool peer_closed;        /* the client half-closed while its request was dispatched */
	struct ch_error pending; /* an error found inside a parser callback */
	/* Request line and headers: "url\0name\0value\0name\0value\0..." */
	char *hbuf;
	size_t hlen, hcap;
	size_t url_len;
	size_t header_offsets[MAX_HEADERS][2];
	size_t n_headers;
	struct ch_header headers[MAX_HEADERS];
	char *body;
	size_t body_len, body_cap;
	size_t lingered;
	char remote[64];
	struct ch_http_request req;
};

struct ch_http_server {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *accept_backoff;
	struct ch_http_limits limits;
	SSL_CTX *ssl_ctx; /* our reference; NULL: plain HTTP */
	struct ch_sources *sources;
	ch_http_handler handler;
	void *arg;
	struct ch_http_conn *conns;
	struct evbuffer *answer; /* an answer on its way to the socket (write_response) */
	size_t n_open, n_busy;
	uint64_t next_id;
	bool draining;
};

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

static void arm_timer(struct ch_http_conn *c, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

/* Busy: a request is being read, worked on, or answered; shutdown waits for these. */
static bool conn_busy(const struct ch_http_conn *c)
{
	return c->state == DISPATCHED || c->state == CLOSING ||
	       (c->state == READING && c->in_message);
}

/* Every change of state or in_message goes through here, so srv->n_busy stays true. */
static void set_state(struct ch_http_conn *c, enum conn_state state, bool in_message)
{
	bool was_busy = conn_busy(c), busy;

	c->state = state;
	c->in_message = in_message;
	busy = conn_busy(c);
	if (busy && !was_busy)
		c->srv->n_busy++;
	else if (!busy && was_busy)
		c->srv->n_busy--;
}

/* Tell a TLS client we are done (close_notify), so that it can tell our
 * close from a truncation.  Once, best effort, only once everything queued
 * was written, and never after a failure: OpenSSL forbids SSL_shutdown
 * after a fatal error. */
static void tls_close_notify(struct ch_http_conn *c)
{
	SSL *ssl;

	if (!c->tls || !c->handshake_done || c->tls_broken || c->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl != NULL && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(ssl);
	ERR_clear_error();
}

static void close_socket(struct ch_http_conn *c)
{
	if (c->bev != NULL) {
		tls_close_notify(c);
		bufferevent_free(c->bev); /* closes the fd, frees the SSL */
		c->bev = NULL;
	} else if (c->fd >= 0) {
		evutil_closesocket(c->fd);
	}
	c->fd = -1;
	if (c->first_byte != NULL)
		event_del(c->first_byte);
	evtimer_del(c->timer);
	event_del(c->resume);
}

static void conn_free(struct ch_http_conn *c)
{
	struct ch_http_server *srv = c->srv;

	set_state(c, LINGERING, false); /* leaves the busy count */
	close_socket(c);
	if (c->counted)
		ch_sources_closed(srv->sources, &c->source);
	if (c->first_byte != NULL)
		event_free(c->first_byte);
	event_free(c->timer);
	event_free(c->resume);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->n_open--;
	ch_metrics_connection_closed(); /* metrics */
	free(c->hbuf);
	free(c->body);
	free(c);
}

/* The socket is gone.  Free now, unless the application still holds a request. */
static void conn_drop(struct ch_http_conn *c)
{
	if (c->state == DISPATCHED) {
		close_socket(c);
		return;
	}
	conn_free(c);
}

static void reset_request(struct ch_http_conn *c)
{
	c->headers_done = false;
	c->last_was_value = false;
	c->message_done = false;
	c->hlen = 0;
	c->url_len = 0;
	c->n_headers = 0;
	c->body_len = 0;
	c->retry_after_s = 0;
	ch_error_clear(&c->pending);
	memset(&c->req, 0, sizeof(c->req));
}

/* --- writing answers ------------------------------------------------------ */

static void start_linger(struct ch_http_conn *c)
{
	set_state(c, LINGERING, false);
	tls_close_notify(c); /* then the FIN: TLS first, as the client reads it */
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bufferevent_enable(c->bev, EV_READ);
	arm_timer(c, LINGER_MS);
}

static void on_write_done(struct bufferevent *bev, void *arg)
{
	struct ch_http_conn *c = arg;

	if (c->state != CLOSING)
		return;
	/* A client may still be sending a body we refused: drain it rather than
	 * close with unread data, which makes the kernel send a reset that can
	 * destroy our answer before the client reads it. */
	if (!c->message_done)
		start_linger(c);
	else
		conn_free(c);
}

static bool header_value_safe(const char *v)
{
	return strpbrk(v, "\r\n") == NULL;
}

/* The answer goes straight to the socket when it can: a plain connection
 * with nothing queued before it, kept open afterwards.  Handing it to the
 * bufferevent would turn on EPOLLOUT, wait a loop round for it, write, and
 * turn it off again: two epoll_ctl calls per request.  What the socket does
 * not take at once goes to the bufferevent as usual.  A connection that
 * closes after the answer takes the bufferevent path: on_write_done is what
 * closes it. */
static void write_response(struct ch_http_conn *c, int status, const char *content_type,
                           const struct ch_header *extra, size_t n_extra, const char *body,
                           size_t len, bool close_after)
{
	struct evbuffer *queued = bufferevent_get_output(c->bev);
	bool direct = !c->tls && !close_after && evbuffer_get_length(queued) == 0;
	struct evbuffer *out = direct ? c->srv->answer : queued;
	char head[256];
	int n;

	/* One formatted block for the fixed part: each evbuffer_add_printf
	 * formats twice (it measures first). */
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n", status,
	             reason_phrase(status), content_type != NULL ? "Content-Type: " : "",
	             content_type != NULL ? content_type : "", content_type != NULL ? "\r\n" : "",
	             len);
	if (n > 0 && (size_t)n < sizeof(head))
		evbuffer_add(out, head, (size_t)n);
	else /* an absurd content type: format it piecewise */
		evbuffer_add_printf(out,
		                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
		                    status, reason_phrase(status), content_type, len);
	if (c->req.id != 0) {
		n = snprintf(head, sizeof(head), "X-Request-Id: %llu\r\n",
		             (unsigned long long)c->req.id);
		evbuffer_add(out, head, (size_t)n);
	}
	for (size_t i = 0; i < n_extra; i++) {
		if (header_value_safe(extra[i].value) && header_value_safe(extra[i].name))
			evbuffer_add_printf(out, "%s: %s\r\n", extra[i].name, extra[i].value);
	}
	if (close_after)
		evbuffer_add(out, "Connection: close\r\n", 19);
	else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
		evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	evbuffer_add(out, "\r\n", 2);
	if (len > 0 && c->parser.method != HTTP_HEAD) /* HEAD: the length, not the body */
		evbuffer_add(out, body, len);
	if (!direct)
		return;
	/* Errors (EAGAIN, a reset) leave the bytes to the bufferevent, which
	 * reports them the usual way. */
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, bufferevent_getfd(c->bev)) > 0)
		;
	if (evbuffer_get_length(out) > 0)
		bufferevent_write_buffer(c->bev, out);
}

static void error_body(const struct ch_error *err, struct evbuffer *dst)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;

	yajl_gen_map_open(g);
	yajl_gen_string(g, (const unsigned char *)"code", 4);
	yajl_gen_string(g, (const unsigned char *)err->code, strlen(err->code));
	yajl_gen_string(g, (const unsigned char *)"message", 7);
	yajl_gen_string(g, (const unsigned char *)err->message, strlen(err->message));
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	evbuffer_add(dst, buf, len);
	yajl_gen_free(g);
}

/* Answer with an error found while reading (limits, malformed HTTP) and close. */
static void fail_connection(struct ch_http_conn *c, const struct ch_error *err)
{
	struct evbuffer *body = evbuffer_new();
	char retry[24];
	struct ch_header h = {"Retry-After", retry};

	/* Bytes that start no request never reached on_message_begin: number the
	 * answer anyway, callhookd(8) promises X-Request-Id on every one. */
	if (c->req.id == 0)
		c->req.id = ++c->srv->next_id;
	snprintf(retry, sizeof(retry), "%ld",
	         c->retry_after_s > 0 ? c->retry_after_s : c->srv->limits.retry_after_s);
	error_body(err, body);
	write_response(c, err->status, "application/json", &h,
	               (err->status == 429 || err->status == 503) ? 1 : 0,
	               (const char *)evbuffer_pullup(body, -1), evbuffer_get_length(body), true);
	evbuffer_free(body);
	ch_metrics_http_answer(c->req.path, c->req.path_len, err->status); /* metrics */
	ch_metrics_rejection(err->code);                                   /* metrics */
	ch_log_kv(CH_LOG_DEBUG, "http: refused", "request=%llu remote=%s status=%d code=%s",
	          (unsigned long long)c->req.id, c->remote, err->status, err->code);
	set_state(c, CLOSING, false);
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->timer);
	arm_timer(c, c->srv->limits.request_timeout_ms); /* bound the write too */
}

void ch_http_respond(struct ch_http_request *req, int status, const char *content_type,
                     const struct ch_header *extra, size_t n_extra, const char *body, size_t len)
{
	struct ch_http_conn *c = req->conn;
	bool close_after;

	/* The application may have used OpenSSL (JWT, HMAC) on this thread: an
	 * error it left queued would make libevent take the next SSL_write's
	 * "try again" for a failure (SSL_get_error reads the queue). */
	ERR_clear_error();
	/* metrics: counted even when nobody is left to read it */
	ch_metrics_http_answer(req->path, req->path_len, status);
	if (c->bev == NULL) { /* the client left while we worked: nobody to tell */
		conn_free(c);
		return;
	}
	close_after = !c->keep_alive || c->peer_closed || c->srv->draining || c->over != OVER_NONE;
	write_response(c, status, content_type, extra, n_extra, body, len, close_after);
	ch_log_kv(CH_LOG_DEBUG, "http: answered",
	          "request=%llu remote=%s method=%s path=%.128s status=%d",
	          (unsigned long long)req->id, c->remote, req->method, req->path, status);
	if (close_after) {
		set_state(c, CLOSING, false);
		bufferevent_disable(c->bev, EV_READ);
		arm_timer(c, c->srv->limits.request_timeout_ms);
		return;
	}
	set_state(c, READING, false);
	reset_request(c);
	http_parser_pause(&c->parser, 0);
	bufferevent_enable(c->bev, EV_READ);
	arm_timer(c, c->srv->limits.idle_timeout_ms);
	/* Input that arrived meanwhile (pipelining) is parsed from the loop, not
	 * from here: the application may be answering from inside its handler. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->resume, 0, 0);
}

void ch_http_respond_error_h(struct ch_http_request *req, const struct ch_error *err,
                             const struct ch_header *extra, size_t n_extra)
{
	struct evbuffer *body = evbuffer_new();
	struct ch_header headers[8];
	char retry[24];
	size_t n = 0;

	ch_metrics_rejection(err->code); /* metrics; the answer is counted by ch_http_respond */
	for (size_t i = 0; i < n_extra && n < 7; i++)
		headers[n++] = extra[i];
	if (err->status == 429 || err->status == 503) {
		snprintf(retry, sizeof(retry), "%ld", req->conn->srv->limits.retry_after_s);
		headers[n++] = (struct ch_header){"Retry-After", retry};
	}
	error_body(err, body);
	ch_http_respond(req, err->status, "application/json", headers, n,
	                (const char *)evbuffer_pullup(body, -1), evbuffer_get_length(body));
	evbuffer_free(body);
}

void ch_http_respond_error(struct ch_http_request *req, const struct ch_error *err)
{
	ch_http_respond_error_h(req, err, NULL, 0);
}

/* --- parsing ---------------------------------------------------------------- */

static int append_hbuf(struct ch_http_conn *c, const char *at, size_t len)
{
	const struct ch_http_limits *lim = &c->srv->limits;

	if (c->hlen + len + 1 > lim->max_header) {
		ch_error_set(&c->pending, 431, "HeadersTooLarge",
		             "request line and headers exceed %zu bytes", lim->max_header);
		return -1;
	}
	if (c->hlen + len + 1 > c->hcap) {
		size_t cap = c->hcap ? c->hcap : 1024;
		char *grown;

		while (cap < c->hlen + len + 1)
			cap *= 2;
		if ((grown = realloc(c->hbuf, cap)) == NULL) {
			ch_error_set(&c->pending, 503, "OutOfMemory", "out of memory");
			return -1;
		}
		c->hbuf = grown;
		c->hcap = cap;
	}
	memcpy(c->hbuf + c->hlen, at, len);
	c->hlen += len;
	return 0;
}

static int terminate_hbuf(struct ch_http_conn *c)
{
	if (append_hbuf(c, "", 0) < 0)
		return -1;
	c->hbuf[c->hlen++] = '\0';
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct ch_http_conn *c = p->data;

	set_state(c, READING, true);
	c->req.received_us = ch_clock_us(CLOCK_REALTIME);
	c->req.id = ++c->srv->next_id;
	arm_timer(c, c->srv->limits.request_timeout_ms);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct ch_http_conn *c = p->data;

	if (append_hbuf(c, at, len) < 0)
		return -1;
	c->url_len += len;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct ch_http_conn *c = p->data;

	if (c->headers_done) /* chunked trailers: bounded by http_parser, not kept */
		return 0;
	if (c->n_headers == 0 && c->hlen == c->url_len && terminate_hbuf(c) < 0)
		return -1; /* end of the URL */
	if (c->last_was_value || c->n_headers == 0) {
		if (c->n_headers > 0 && terminate_hbuf(c) < 0)
			return -1; /* end of the previous value */
		if (c->n_headers == MAX_HEADERS) {
			ch_error_set(&c->pending, 431, "HeadersTooLarge",
			             "more than %d header lines", MAX_HEADERS);
			return -1;
		}
		c->header_offsets[c->n_headers][0] = c->hlen;
		c->n_headers++;
		c->last_was_value = false;
	}
	return append_hbuf(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct ch_http_conn *c = p->data;

	if (c->headers_done)
		return 0;
	if (!c->last_was_value) {
		if (terminate_hbuf(c) < 0)
			return -1; /* end of the name */
		c->header_offsets[c->n_headers - 1][1] = c->hlen;
		c->last_was_value = true;
	}
	return append_hbuf(c, at, len);
}

static const char *find_header(const struct ch_http_conn *c, const char *name)
{
	for (size_t i = 0; i < c->n_headers; i++) {
		if (strcasecmp(c->headers[i].name, name) == 0)
			return c->headers[i].value;
	}
	return NULL;
}

/* Per-source limits apply to c: its address is known, and it is not on
 * loopback unless limit_loopback says so (behind a reverse proxy on the same
 * host every client is loopback, and would share one allowance). */
static bool source_limited(const struct ch_http_conn *c)
{
	return c->keyed && (!c->loopback || c->srv->limits.limit_loopback);
}

/* The request rate of c's address: -1 (c->pending set) past it. */
static int check_rate(struct ch_http_conn *c)
{
	const struct ch_http_limits *lim = &c->srv->limits;
	long wait;

	if (lim->rate_count <= 0 || lim->rate_period_s <= 0 || !source_limited(c))
		return 0;
	wait = ch_sources_take(c->srv->sources, &c->source,
	                       (double)lim->rate_count / (double)lim->rate_period_s,
	                       (double)lim->rate_burst, ch_clock_us(CLOCK_MONOTONIC));
	if (wait == 0)
		return 0;
	c->retry_after_s = wait;
	ch_error_set(&c->pending, 429, "TooManyRequests",
	             "more than %ld requests per %s (burst %ld) from this address; retry in %ld s",
	             lim->rate_count, lim->rate_period_s == 1 ? "second" : "minute",
	             lim->rate_burst, wait);
	return -1;
}

/* The request line and headers are complete: fix up the request, and refuse
 * early what we would refuse anyway, before any body is read. */
static int on_headers_complete(http_parser *p)
{
	struct ch_http_conn *c = p->data;
	const struct ch_http_limits *lim = &c->srv->limits;
	struct ch_http_request *req = &c->req;
	const char *expect;
	char *q;

	/* Terminate what is open: the URL, the last value, or a last name whose
	 * value never came (then the value is the empty string after it). */
	if (terminate_hbuf(c) < 0)
		return -1;
	if (c->n_headers > 0 && !c->last_was_value) {
		c->header_offsets[c->n_headers - 1][1] = c->hlen;
		if (terminate_hbuf(c) < 0)
			return -1;
	}
	c->headers_done = true;
	for (size_t i = 0; i < c->n_headers; i++) {
		c->headers[i].name = c->hbuf + c->header_offsets[i][0];
		c->headers[i].value = c->hbuf + c->header_offsets[i][1];
	}
	req->conn = c;
	req->method = http_method_str((enum http_method)p->method);
	req->path = c->hbuf;
	q = memchr(c->hbuf, '?', c->url_len);
	if (q != NULL) {
		*q = '\0';
		req->query = q + 1;
	}
	req->path_len = strlen(req->path);
	req->headers = c->headers;
	req->n_headers = c->n_headers;
	req->remote = c->remote;
	c->keep_alive = http_should_keep_alive(p) != 0;

	if (c->plain_on_tls) {
		ch_error_set(&c->pending, 400, "BadRequest",
		             "this port speaks HTTPS: send the request over TLS (https://)");
		return -1;
	}
	if (p->http_major != 1) {
		ch_error_set(&c->pending, 505, "HTTPVersionNotSupported",
		             "HTTP/%u.%u is not supported: use HTTP/1.1", p->http_major,
		             p->http_minor);
		return -1;
	}
	if (c->over == OVER_TOTAL) {
		ch_error_set(&c->pending, 429, "TooManyConnections",
		             "more than %ld connections are open; retry later",
		             lim->max_connections);
		return -1;
	}
	if (c->over == OVER_SOURCE) {
		ch_error_set(&c->pending, 429, "TooManyConnections",
		             "more than %ld connections from this address are open; retry later",
		             lim->max_per_source);
		return -1;
	}
	if (check_rate(c) < 0)
		return -1;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > lim->max_body) {
		ch_error_set(&c->pending, 413, "BodyTooLarge",
		             "request body of %llu bytes exceeds the limit of %zu bytes",
		             (unsigned long long)p->content_length, lim->max_body);
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		char *b = malloc(p->content_length + 1);

		if (b == NULL) {
			ch_error_set(&c->pending, 503, "OutOfMemory", "out of memory");
			return -1;
		}
		free(c->body);
		c->body = b;
		c->body_cap = p->content_length + 1;
	}
	expect = find_header(c, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1)
		evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct ch_http_conn *c = p->data;
	size_t max = c->srv->limits.max_body;

	if (c->body_len + len > max) { /* chunked: no length announced */
		ch_error_set(&c->pending, 413, "BodyTooLarge",
		             "request body exceeds the limit of %zu bytes", max);
		return -1;
	}
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *grown;

		while (cap < c->body_len + len + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		if ((grown = realloc(c->body, cap)) == NULL) {
			ch_error_set(&c->pending, 503, "OutOfMemory", "out of memory");
			return -1;
		}
		c->body = grown;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct ch_http_conn *c = p->data;

	c->message_done = true;
	http_parser_pause(p, 1); /* one request at a time; resumed after the answer */
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void dispatch(struct ch_http_conn *c)
{
	struct ch_http_request *req = &c->req;

	set_state(c, DISPATCHED, true);
	evtimer_del(c->timer);
	/* Reading stays on: turning it off and on again cost two epoll_ctl
	 * calls per request.  Bytes that come meanwhile (pipelining) wait in
	 * the input buffer, parsed after the answer; the read watermark
	 * (start_bev) bounds them, and on_event keeps a half-close from
	 * dropping the answer. */
	req->body = c->body != NULL ? c->body : "";
	req->body_len = c->body_len;
	if (c->body != NULL)
		c->body[c->body_len] = '\0';
	c->srv->handler(req, c->srv->arg);
	ERR_clear_error(); /* see ch_http_respond */
}

static void parse_error(struct ch_http_conn *c)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
	struct ch_error err;

	if (c->pending.status != 0) {
		fail_connection(c, &c->pending);
		return;
	}
	if (e == HPE_HEADER_OVERFLOW)
		ch_error_set(&err, 431, "HeadersTooLarge", "request headers are too large");
	else
		ch_error_set(&err, 400, "BadRequest", "malformed HTTP request: %s",
		             http_errno_description(e));
	fail_connection(c, &err);
}

static void process_input(struct ch_http_conn *c)
{
	while (c->state == READING && c->bev != NULL) {
		struct evbuffer *in = bufferevent_get_input(c->bev);
		struct evbuffer_iovec v;
		size_t n;
		enum http_errno e;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		n = http_parser_execute(&c->parser, &parser_settings, v.iov_base, v.iov_len);
		evbuffer_drain(in, n);
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (e == HPE_PAUSED && c->message_done) {
			dispatch(c);
			return;
		}
		if (e != HPE_OK) {
			parse_error(c);
			return;
		}
	}
}

/* --- socket events ------------------------------------------------------------ */

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ch_http_conn *c = arg;

	if (c->state == LINGERING) {
		struct evbuffer *in = bufferevent_get_input(bev);

		c->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (c->lingered > LINGER_MAX_BYTES)
			conn_free(c);
		return;
	}
	process_input(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	process_input(arg);
}

static void log_handshake_failure(struct ch_http_conn *c)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

	/* Scanners and plain-text probes do this all day: debug, not info. */
	ch_log_kv(CH_LOG_DEBUG, "tls: handshake failed", "remote=%s error=%s", c->remote,
	          why != NULL ? why : "connection closed");
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ch_http_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is done */
		c->handshake_done = true;
		/* A connection past a limit keeps its short deadline. */
		if (c->state == READING && !c->in_message && c->over == OVER_NONE)
			arm_timer(c, c->srv->limits.idle_timeout_ms);
		return;
	}
	/* A client that sent its request and shut down its side still gets the
	 * answer (the bufferevent stopped reading at the EOF). */
	if (what == (BEV_EVENT_EOF | BEV_EVENT_READING) && c->state == DISPATCHED) {
		c->peer_closed = true;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (c->tls) {
			c->tls_broken = true;
			if (!c->handshake_done)
				log_handshake_failure(c);
		}
		conn_drop(c);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ch_http_conn *c = arg;
	struct ch_error err;

	if (c->state == READING && c->in_message) {
		ch_error_set(&err, 408, "RequestTimeout",
		             "request not complete within %ld ms (is Content-Length larger than "
		             "the body?)",
		             c->srv->limits.request_timeout_ms);
		fail_connection(c, &err);
		return;
	}
	if (c->srv->ssl_ctx != NULL && !c->handshake_done && !c->plain_on_tls)
		ch_log_kv(CH_LOG_DEBUG, "tls: no handshake in time", "remote=%s timeout_ms=%ld",
		          c->remote, c->srv->limits.request_timeout_ms);
	/* idle keep-alive, a slow handshake, a stuck write, or the end of lingering */
	conn_drop(c);
}

static void format_remote(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		evutil_inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	} else {
		snprintf(buf, size, "unix");
	}
}

/* The bufferevent for c->fd: TLS (the handshake starts) or plain. */
static int start_bev(struct ch_http_conn *c, bool tls)
{
	struct ch_http_server *srv = c->srv;

	if (tls) {
		SSL *ssl = SSL_new(srv->ssl_ctx);

		if (ssl == NULL) {
			ERR_clear_error();
			return -1;
		}
		c->bev = bufferevent_openssl_socket_new(
		    srv->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			SSL_free(ssl); /* leaves the fd open: conn_free closes it */
			return -1;
		}
		/* A client that closes without close_notify is only gone, as with
		 * plain TCP: it has sent every request it meant to (each is framed). */
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->tls = true;
	} else if ((c->bev = bufferevent_socket_new(srv->base, c->fd, BEV_OPT_CLOSE_ON_FREE)) ==
	           NULL) {
		return -1;
	}
	c->fd = -1; /* the bufferevent's now */
	bufferevent_setcb(c->bev, on_read, on_write_done, on_event, c);
	/* What a client sends while its request is dispatched waits unparsed
	 * (dispatch): past this much the bufferevent stops reading. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATER);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

/* TLS port: the client speaks first.  A request line starts with a capital
 * letter, a TLS record never does: answer plain HTTP with a plain 400
 * instead of a handshake failure the client cannot read, and leave
 * everything else to OpenSSL.  Waiting for the first byte also spares an
 * idle connection the memory of an SSL object. */
static void on_first_byte(evutil_socket_t fd, short what, void *arg)
{
	struct ch_http_conn *c = arg;
	unsigned char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		event_add(c->first_byte, NULL);
		return;
	}
	if (n <= 0) { /* closed, or failed, before a word */
		conn_free(c);
		return;
	}
	c->plain_on_tls = b >= 'A' && b <= 'Z';
	if (start_bev(c, !c->plain_on_tls && c->srv->ssl_ctx != NULL) < 0)
		conn_free(c);
}

/* Count c against its address.  -1: past the limit and the few answered
 * 429 beyond it, close at once. */
static int count_source(struct ch_http_conn *c)
{
	const struct ch_http_limits *lim = &c->srv->limits;
	long cap = lim->max_per_source, n;
	long extra = cap / 8 > SOURCE_EXTRA_MIN ? cap / 8 : SOURCE_EXTRA_MIN;

	if (!c->keyed || (n = ch_sources_opened(c->srv->sources, &c->source)) == 0)
		return 0; /* not an IP peer, or out of memory: not counted */
	c->counted = true;
	if (cap <= 0 || !source_limited(c) || n <= cap)
		return 0;
	if (c->over == OVER_NONE)
		ch_metrics_connection_refused(); /* metrics: answered 429 or closed below */
	if (n > cap + extra)
		return -1;
	if (c->over == OVER_NONE)
		c->over = OVER_SOURCE;
	return 0;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct ch_http_server *srv = arg;
	const struct ch_http_limits *lim = &srv->limits;
	long max = lim->max_connections;
	long extra = max / 8 > REJECT_EXTRA_MIN ? max / 8 : REJECT_EXTRA_MIN;
	struct ch_http_conn *c;
	int one = 1;

	if ((long)srv->n_open >= max)
		ch_metrics_connection_refused(); /* metrics: answered 429 or closed below */
	/* Past the limit a few more get a proper 429; beyond that, close at once
	 * so a flood cannot make us hold file descriptors without bound. */
	if ((long)srv->n_open >= max + extra || (c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->over = (long)srv->n_open >= max ? OVER_TOTAL : OVER_NONE;
	c->timer = evtimer_new(srv->base, on_timer, c);
	c->resume = event_new(srv->base, -1, 0, on_resume, c);
	if (c->timer == NULL || c->resume == NULL) {
		evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		if (c->resume)
			event_free(c->resume);
		free(c);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	format_remote(sa, c->remote, sizeof(c->remote));
	c->loopback = ch_source_is_loopback(sa);
	c->keyed = ch_source_key_of(sa, &c->source);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_open++;
	ch_metrics_connection_opened(); /* metrics */
	if (count_source(c) < 0) {
		conn_free(c);
		return;
	}
	if (srv->ssl_ctx != NULL) {
		c->first_byte = event_new(srv->base, fd, EV_READ, on_first_byte, c);
		if (c->first_byte == NULL || event_add(c->first_byte, NULL) < 0) {
			conn_free(c);
			return;
		}
		arm_timer(c, lim->request_timeout_ms); /* the handshake's deadline */
		return;
	}
	if (start_bev(c, false) < 0) {
		conn_free(c);
		return;
	}
	/* A connection past a limit gets its 429 or goes: it does not idle. */
	arm_timer(c, c->over != OVER_NONE ? lim->request_timeout_ms : lim->idle_timeout_ms);
}

static void on_accept_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct ch_http_server *srv = arg;

	if (srv->listener != NULL)
		evconnlistener_enable(srv->listener);
}

static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct ch_http_server *srv = arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};

	/* EMFILE and friends: pause accepting briefly instead of spinning. */
	ch_warn("http: accept failed: %s; pausing %d ms", evutil_socket_error_to_string(e),
	        ACCEPT_BACKOFF_MS);
	evconnlistener_disable(lev);
	evtimer_add(srv->accept_backoff, &tv);
}

struct ch_http_server *ch_http_server_new(struct event_base *base, evutil_socket_t listen_fd,
                                          const struct ch_http_limits *limits,
                                          ch_http_handler handler, void *arg, struct ch_error *err)
{
	struct ch_http_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		return NULL;
	}
	srv->base = base;
	srv->limits = *limits;
	srv->handler = handler;
	srv->arg = arg;
	/* http_parser's own cap must sit above ours, so ours answers first (431). */
	http_parser_set_max_header_size((uint32_t)(limits->max_header * 2 + 80 * 1024));
	srv->accept_backoff = evtimer_new(base, on_accept_backoff, srv);
	srv->answer = evbuffer_new();
	srv->sources =
	    ch_sources_new(limits->max_connections < CH_SOURCES_MIN / CH_SOURCES_PER_CONNECTION
	                       ? CH_SOURCES_MIN
	                       : (size_t)limits->max_connections * CH_SOURCES_PER_CONNECTION);
	srv->listener = evconnlistener_new(
	    base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (srv->listener == NULL || srv->accept_backoff == NULL || srv->sources == NULL ||
	    srv->answer == NULL) {
		ch_error_set(err, 500, "ListenFailed", "cannot watch the listening socket");
		ch_http_server_free(srv);
		return NULL;
	}
	evconnlistener_set_error_cb(srv->listener, on_accept_error);
	return srv;
}

void ch_http_server_set_limits(struct ch_http_server *srv, const struct ch_http_limits *limits)
{
	srv->limits = *limits;
	http_parser_set_max_header_size((uint32_t)(limits->max_header * 2 + 80 * 1024));
}

void ch_http_server_set_tls(struct ch_http_server *srv, const struct ch_tls *tls)
{
	SSL_CTX *ctx = tls != NULL ? ch_tls_ctx(tls) : NULL;

	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	SSL_CTX_free(srv->ssl_ctx); /* connections hold their own references */
	srv->ssl_ctx = ctx;
	if (tls == NULL)
		return;
	if (ch_tls_expired(tls))
		ch_log_kv(CH_LOG_WARN, "tls: serving an expired certificate",
		          "cert=%s subject=%s not_after=%s", ch_tls_cert_path(tls),
		          ch_tls_subject(tls), ch_tls_not_after(tls));
	else
		ch_log_kv(CH_LOG_INFO, "tls: serving certificate",
		          "cert=%s subject=%s not_after=%s", ch_tls_cert_path(tls),
		          ch_tls_subject(tls), ch_tls_not_after(tls));
}

void ch_http_server_drain(struct ch_http_server *srv)
{
	struct ch_http_conn *c, *next;

	srv->draining = true;
	/* Close the socket, not just stop accepting: new connections are then
	 * refused at once instead of waiting in the backlog to be reset at exit. */
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == READING && !c->in_message)
			conn_free(c);
	}
}

size_t ch_http_server_busy(const struct ch_http_server *srv)
{
	return srv->n_busy;
}

size_t ch_http_server_open(const struct ch_http_server *srv)
{
	return srv->n_open;
}

void ch_http_server_free(struct ch_http_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		conn_free(srv->conns);
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	if (srv->accept_backoff != NULL)
		event_free(srv->accept_backoff);
	ch_sources_free(srv->sources);
	if (srv->answer != NULL)
		evbuffer_free(srv->answer);
	SSL_CTX_free(srv->ssl_ctx);
	free(srv);
}
