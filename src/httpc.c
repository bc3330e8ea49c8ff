/* httpc.c - see httpc.h.
 *
 * Why one deadline for the whole exchange rather than a fresh timeout per
 * read: a server that dribbles one byte just inside every timeout would
 * otherwise hold the action sender for as long as it likes.  Every wait gets
 * what is left of timeout_ms, so each wait, and all of them together, stay
 * within it.
 *
 * Why libhttp-parser in response mode: it is already a dependency (the
 * intake parses requests with it), and it knows the three ways a body ends
 * (Content-Length, chunked, the connection closing) and rejects malformed
 * status lines and chunk sizes.  What it does not bound we bound here: the
 * head (HEAD_MAX) and the body (max_response).
 *
 * Writes on a TLS connection go through OpenSSL's socket BIO, i.e. write(2):
 * a peer that has gone away raises SIGPIPE, which callers ignore (the daemon
 * and callhookctl do).  Plain writes use MSG_NOSIGNAL.
 */
#include "httpc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "autoconfig.h" /* PACKAGE_VERSION */
#include "clocks.h"

#define DEFAULT_TIMEOUT_MS 10000
#define HEAD_MAX           16384 /* status line and headers of an answer */
#define REQUEST_HEAD_MAX   65536 /* what we write before the body */

/* --- URLs --------------------------------------------------------------- */

#define bad_url(err, ...) ch_error_set((err), 400, "InvalidUrl", __VA_ARGS__)

static int host_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

int ch_url_parse(const char *url, struct ch_url *out, struct ch_error *err)
{
	const char *p, *auth_end, *port = NULL;
	size_t host_len, port_len = 0, path_len;

	memset(out, 0, sizeof(*out));
	if (url == NULL || *url == '\0')
		return bad_url(err, "%s", "URL is empty");
	if (strncasecmp(url, "https://", 8) == 0) {
		out->tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		p = url + 7;
	} else {
		return bad_url(err, "URL must start with http:// or https:// (got \"%.40s\")", url);
	}
	auth_end = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
		return bad_url(err, "%s", "credentials in the URL are not supported");
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(auth_end - p));
		struct in6_addr a6;

		if (close == NULL)
			return bad_url(err, "%s", "IPv6 address without closing ']'");
		host_len = (size_t)(close - p - 1);
		if (host_len == 0 || host_len >= sizeof(out->host))
			return bad_url(err, "%s", "bad IPv6 address in URL");
		memcpy(out->host, p + 1, host_len);
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return bad_url(err, "bad IPv6 address \"%.60s\" in URL", out->host);
		if (close + 1 < auth_end) {
			if (close[1] != ':')
				return bad_url(err, "%s", "junk after the IPv6 address in URL");
			port = close + 2;
		}
	} else {
		const char *colon = memchr(p, ':', (size_t)(auth_end - p));
		const char *host_end = colon != NULL ? colon : auth_end;

		host_len = (size_t)(host_end - p);
		if (host_len == 0)
			return bad_url(err, "%s", "URL has no host");
		if (host_len >= sizeof(out->host) || host_len > 253)
			return bad_url(err, "%s", "host name in URL is too long");
		for (const char *h = p; h < host_end; h++)
			if (!host_char_ok((unsigned char)*h))
				return bad_url(err, "%s",
				               "host name in URL has a character not allowed");
		memcpy(out->host, p, host_len);
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL) {
		unsigned long n = 0;

		port_len = (size_t)(auth_end - port);
		if (port_len == 0)
			return bad_url(err, "%s", "URL has an empty port");
		if (port_len > 5)
			return bad_url(err, "%s", "port in URL is out of range");
		for (size_t i = 0; i < port_len; i++) {
			if (!isdigit((unsigned char)port[i]))
				return bad_url(err, "%s", "port in URL is not a number");
			n = n * 10 + (unsigned long)(port[i] - '0');
		}
		if (n == 0 || n > 65535)
			return bad_url(err, "%s", "port in URL is out of range");
		snprintf(out->port, sizeof(out->port), "%lu", n);
	} else {
		strcpy(out->port, out->tls ? "443" : "80");
	}

	/* path and query; a fragment never goes on the wire */
	p = auth_end;
	path_len = strcspn(p, "#");
	for (size_t i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 0x20 || c >= 0x7f)
			return bad_url(err, "%s",
			               "URL path has a space, control or non-ASCII character "
			               "(percent-encode it)");
	}
	if (path_len + 2 > sizeof(out->path))
		return bad_url(err, "%s", "URL path is too long");
	if (path_len == 0 || p[0] != '/') {
		out->path[0] = '/';
		memcpy(out->path + 1, p, path_len);
	} else {
		memcpy(out->path, p, path_len);
	}

	{
		int ipv6 = strchr(out->host, ':') != NULL;
		int dflt = strcmp(out->port, out->tls ? "443" : "80") == 0;

		snprintf(out->host_header, sizeof(out->host_header), "%s%s%s%s%s", ipv6 ? "[" : "",
		         out->host, ipv6 ? "]" : "", dflt ? "" : ":", dflt ? "" : out->port);
	}
	return 0;
}

/* --- one connection ----------------------------------------------------- */

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int64_t deadline; /* CLOCK_MONOTONIC ms */
	int timeout_ms;
	const struct ch_url *url;
};

static int timed_out(struct conn *c, const char *what, struct ch_error *err)
{
	return ch_error_set(err, 504, "UpstreamTimeout", "%s:%s: no %s within %d ms", c->url->host,
	                    c->url->port, what, c->timeout_ms);
}

/* Wait until fd is ready for events, within the deadline; what names the
 * wait in the timeout message. */
static int wait_fd(struct conn *c, short events, const char *what, struct ch_error *err)
{
	for (;;) {
		int64_t left = c->deadline - ch_clock_us(CLOCK_MONOTONIC) / 1000;
		struct pollfd pfd = {.fd = c->fd, .events = events};
		int n;

		if (left <= 0)
			return timed_out(c, what, err);
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0; /* POLLERR/POLLHUP too: the next I/O call reports it */
		if (n == 0)
			return timed_out(c, what, err);
		if (errno != EINTR)
			return ch_error_set(err, 502, "ConnectFailed", "poll: %s", strerror(errno));
	}
}

static int connect_one(struct conn *c, const struct addrinfo *ai, int *saved_errno,
                       struct ch_error *err)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (fd < 0) {
		*saved_errno = errno;
		return 1;
	}
	c->fd = fd;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		*saved_errno = errno;
		goto next;
	}
	if (wait_fd(c, POLLOUT, "connection", err) < 0) {
		close(fd);
		c->fd = -1;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr == 0)
		return 0;
	*saved_errno = soerr;
next:
	close(fd);
	c->fd = -1;
	return 1;
}

/* Try every address of the host in turn; the deadline covers them all. */
static int open_socket(struct conn *c, struct ch_error *err)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res, *ai;
	int rc, saved = ECONNREFUSED;

	rc = getaddrinfo(c->url->host, c->url->port, &hints, &res);
	if (rc != 0)
		return ch_error_set(err, 502, "ConnectFailed", "cannot resolve %.200s: %s",
		                    c->url->host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		rc = connect_one(c, ai, &saved, err);
		if (rc <= 0)
			break;
	}
	freeaddrinfo(res);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return ch_error_set(err, 502, "ConnectFailed", "cannot connect to %s:%s: %s",
		                    c->url->host, c->url->port, strerror(saved));
	return 0;
}

/* The first OpenSSL error as text, or fallback. */
static const char *ssl_reason(char *buf, size_t size, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		return fallback;
	ERR_error_string_n(e, buf, size);
	return buf;
}

static int tls_fail(struct conn *c, const char *what, struct ch_error *err)
{
	char reason[160];
	long vr = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;

	if (vr != X509_V_OK)
		return ch_error_set(err, 502, "TlsFailed",
		                    "TLS with %s:%s: certificate not accepted: %s", c->url->host,
		                    c->url->port, X509_verify_cert_error_string(vr));
	return ch_error_set(err, 502, "TlsFailed", "TLS with %s:%s: %s: %s", c->url->host,
	                    c->url->port, what, ssl_reason(reason, sizeof(reason), "failed"));
}

/* After an SSL_* call returned rc: wait as OpenSSL asks (1: call again),
 * or fail. */
static int tls_retry(struct conn *c, int rc, const char *what, struct ch_error *err)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c, POLLIN, what, err) < 0 ? -1 : 1;
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c, POLLOUT, what, err) < 0 ? -1 : 1;
	case SSL_ERROR_SYSCALL:
		if (errno != 0)
			return ch_error_set(err, 502, "TlsFailed", "TLS with %s:%s: %s",
			                    c->url->host, c->url->port, strerror(errno));
		return ch_error_set(err, 502, "TlsFailed", "TLS with %s:%s: connection closed",
		                    c->url->host, c->url->port);
	default:
		return tls_fail(c, what, err);
	}
}

static int tls_start(struct conn *c, const char *ca_file, struct ch_error *err)
{
	unsigned char addr[16];
	int is_ip = inet_pton(AF_INET, c->url->host, addr) == 1 ||
	            inet_pton(AF_INET6, c->url->host, addr) == 1;
	int rc;

	ERR_clear_error();
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return tls_fail(c, "cannot create a TLS context", err);
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1)
			return ch_error_set(err, 500, "ConfigError", "cannot load CA file %.200s",
			                    ca_file);
	} else if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
		return tls_fail(c, "cannot load the system CA certificates", err);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return tls_fail(c, "cannot set up the connection", err);
	/* SNI is for names only; the certificate must name the host either way */
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->url->host) != 1)
			return tls_fail(c, "cannot set the expected address", err);
	} else if (SSL_set_tlsext_host_name(c->ssl, c->url->host) != 1 ||
	           SSL_set1_host(c->ssl, c->url->host) != 1) {
		return tls_fail(c, "cannot set the expected host name", err);
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		if (rc == 0)
			return tls_fail(c, "handshake refused", err);
		rc = tls_retry(c, rc, "TLS handshake", err);
		if (rc < 0)
			return -1;
	}
}

static int write_all(struct conn *c, const char *buf, size_t len, struct ch_error *err)
{
	while (len > 0) {
		ssize_t n;

		if (c->ssl != NULL) {
			int rc;

			ERR_clear_error();
			errno = 0;
			rc = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (rc <= 0) {
				if (tls_retry(c, rc, "progress sending the request", err) < 0)
					return -1;
				continue;
			}
			n = rc;
		} else {
			n = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return ch_error_set(err, 502, "ConnectFailed",
					                    "sending to %s:%s: %s", c->url->host,
					                    c->url->port, strerror(errno));
				if (wait_fd(c, POLLOUT, "progress sending the request", err) < 0)
					return -1;
				continue;
			}
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes read into buf (>0), 0 at the end of the stream, -1 on error. */
static ssize_t read_some(struct conn *c, char *buf, size_t cap, struct ch_error *err)
{
	for (;;) {
		if (c->ssl != NULL) {
			int rc, e;

			ERR_clear_error();
			errno = 0;
			rc = SSL_read(c->ssl, buf, (int)cap);
			if (rc > 0)
				return rc;
			e = SSL_get_error(c->ssl, rc);
			if (e == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (tls_retry(c, rc, "answer", err) < 0)
				return -1;
		} else {
			ssize_t n = recv(c->fd, buf, cap, 0);

			if (n >= 0)
				return n;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return ch_error_set(err, 502, "BadResponse",
				                    "reading from %s:%s: %s", c->url->host,
				                    c->url->port, strerror(errno));
			if (wait_fd(c, POLLIN, "answer", err) < 0)
				return -1;
		}
	}
}

static void conn_close(struct conn *c)
{
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
}

/* --- the request -------------------------------------------------------- */

static int token_ok(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	return 1;
}

/* A caller's header line: "Name: value", no line breaks, and none of the
 * headers this file writes itself (two of them would make the request
 * ambiguous to whatever reads it). */
static int header_ok(const char *h)
{
	static const char *const ours[] = {"host", "content-length", "connection",
	                                   "transfer-encoding"};
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h)
		return 0;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if ((size_t)(colon - h) == strlen(ours[i]) &&
		    strncasecmp(h, ours[i], strlen(ours[i])) == 0)
			return 0;
	for (const char *p = h; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return 0; /* CR or LF would let a value inject headers */
	return 1;
}

/* The request line and headers, malloc'ed into *out. */
static int build_head(const struct ch_http_request *req, char **out, size_t *out_len,
                      struct ch_error *err)
{
	char *buf = malloc(REQUEST_HEAD_MAX);
	size_t len = 0;
	int n, send_length = req->body_len > 0 ||
	                     (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0);

#define APPEND(...)                                                                                \
	do {                                                                                       \
		n = snprintf(buf + len, REQUEST_HEAD_MAX - len, __VA_ARGS__);                      \
		if (n < 0 || (size_t)n >= REQUEST_HEAD_MAX - len)                                  \
			goto too_long;                                                             \
		len += (size_t)n;                                                                  \
	} while (0)

	if (buf == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory for a request");
	APPEND("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", req->method, req->url->path,
	       req->url->host_header);
	APPEND("User-Agent: callhookd/%s\r\n", PACKAGE_VERSION);
	if (send_length)
		APPEND("Content-Length: %zu\r\n", req->body_len);
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++) {
		if (!header_ok(*h)) {
			free(buf);
			return ch_error_set(err, 400, "InvalidRequest",
			                    "request header \"%.60s\" is not a Name: value line or "
			                    "is one httpc writes itself",
			                    *h);
		}
		APPEND("%s\r\n", *h);
	}
	APPEND("\r\n");
#undef APPEND
	*out = buf;
	*out_len = len;
	return 0;
too_long:
	free(buf);
	return ch_error_set(err, 400, "InvalidRequest", "request head over %d bytes",
	                    REQUEST_HEAD_MAX);
}

/* --- the answer --------------------------------------------------------- */

struct reader {
	http_parser parser;
	size_t head_bytes;
	char *body;
	size_t len, cap, max;
	int status;
	int done;
	int head_request;    /* the answer to HEAD has no body, whatever it says */
	const char *problem; /* why a callback stopped the parser */
	/* Retry-After, pieced together as the parser hands the head over */
	char name[11];       /* the header being read, while it may be "Retry-After" */
	size_t name_len;     /* over sizeof(name): some other header */
	bool in_value;       /* the last piece was a value: the next name is a new header */
	bool is_retry_after; /* the header being read is Retry-After */
	char retry_after[48];
	size_t retry_after_len; /* sizeof(retry_after): too long to be one */
};

static int on_head_piece(http_parser *p, const char *at, size_t len)
{
	struct reader *r = p->data;

	(void)at;
	r->head_bytes += len;
	if (r->head_bytes > HEAD_MAX) {
		r->problem = "head";
		return 1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct reader *r = p->data;

	if (r->in_value) {
		r->in_value = false;
		r->name_len = 0;
	}
	if (r->name_len <= sizeof(r->name) && len <= sizeof(r->name) - r->name_len) {
		memcpy(r->name + r->name_len, at, len);
		r->name_len += len;
	} else {
		r->name_len = sizeof(r->name) + 1; /* longer than "Retry-After" */
	}
	r->is_retry_after = r->name_len == sizeof(r->name) &&
	                    strncasecmp(r->name, "Retry-After", sizeof(r->name)) == 0;
	return on_head_piece(p, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct reader *r = p->data;

	if (!r->in_value) {
		r->in_value = true;
		if (r->is_retry_after)
			r->retry_after_len = 0; /* a second one: the last one counts */
	}
	if (r->is_retry_after && r->retry_after_len < sizeof(r->retry_after)) {
		if (len < sizeof(r->retry_after) - r->retry_after_len) {
			memcpy(r->retry_after + r->retry_after_len, at, len);
			r->retry_after_len += len;
			r->retry_after[r->retry_after_len] = '\0';
		} else {
			r->retry_after_len = sizeof(r->retry_after);
		}
	}
	return on_head_piece(p, at, len);
}

/* Retry-After's value as seconds from now: delay-seconds, or an IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT", the form RFC 9110 says senders use). */
static long retry_after_seconds(char *v, time_t now)
{
	struct tm tm = {0};
	const char *end;
	size_t n = strlen(v);
	time_t at;

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0'; /* optional whitespace after the value */
	if (isdigit((unsigned char)*v)) {
		unsigned long long s = 0;

		for (end = v; isdigit((unsigned char)*end); end++)
			s = s < LONG_MAX / 10 ? s * 10 + (unsigned)(*end - '0') : LONG_MAX;
		return *end == '\0' ? (long)(s < LONG_MAX ? s : LONG_MAX) : -1;
	}
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0' || (at = timegm(&tm)) == (time_t)-1)
		return -1;
	return at <= now ? 0 : (long)(at - now > LONG_MAX ? LONG_MAX : at - now);
}

static int on_headers_complete(http_parser *p)
{
	struct reader *r = p->data;

	r->status = p->status_code;
	if (p->status_code < 200)
		r->retry_after_len = 0; /* only the final answer's counts */
	r->len = 0;                     /* a 1xx answer's body, if any, is not the final one's */
	return r->head_request && p->status_code >= 200 ? 1 : 0; /* 1: no body follows */
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct reader *r = p->data;

	if (len > r->max - r->len) {
		r->problem = "body";
		return 1;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap;
		char *nb;

		while (cap < r->len + len + 1)
			cap *= 2;
		if (cap > r->max + 1)
			cap = r->max + 1;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			r->problem = "memory";
			return 1;
		}
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, at, len);
	r->len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct reader *r = p->data;

	/* 100 Continue and friends come before the real answer */
	if (p->status_code >= 200) {
		r->done = 1;
		http_parser_pause(p, 1); /* nothing after the answer is ours to parse */
	}
	r->head_bytes = 0;
	return 0;
}

static int parse_fail(struct conn *c, struct reader *r, size_t max, struct ch_error *err)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);

	if (r->problem != NULL && strcmp(r->problem, "body") == 0)
		return ch_error_set(err, 502, "ResponseTooLarge",
		                    "answer from %s:%s has a body over %zu bytes", c->url->host,
		                    c->url->port, max);
	if (r->problem != NULL && strcmp(r->problem, "head") == 0)
		return ch_error_set(err, 502, "BadResponse",
		                    "answer from %s:%s has headers over %d bytes", c->url->host,
		                    c->url->port, HEAD_MAX);
	if (r->problem != NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory for an answer");
	return ch_error_set(err, 502, "BadResponse", "malformed answer from %s:%s: %s",
	                    c->url->host, c->url->port, http_errno_description(e));
}

static int read_answer(struct conn *c, int head_request, size_t max, struct ch_http_response *resp,
                       struct ch_error *err)
{
	static const http_parser_settings settings = {
	    .on_status = on_head_piece,
	    .on_header_field = on_header_field,
	    .on_header_value = on_header_value,
	    .on_headers_complete = on_headers_complete,
	    .on_body = on_body,
	    .on_message_complete = on_message_complete,
	};
	struct reader r = {
	    .max = max, .cap = max < 4096 ? max + 1 : 4096, .head_request = head_request};
	char buf[8192];

	r.body = malloc(r.cap);
	if (r.body == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory for an answer");
	http_parser_init(&r.parser, HTTP_RESPONSE);
	r.parser.data = &r;
	while (!r.done) {
		ssize_t n = read_some(c, buf, sizeof(buf), err);

		if (n < 0)
			goto fail;
		/* n == 0 tells the parser about the EOF: an answer that ends
		 * there (no length given) is complete now, anything else was cut */
		http_parser_execute(&r.parser, &settings, buf, (size_t)n);
		if (r.done)
			break;
		if (n == 0) {
			if (r.status == 0)
				ch_error_set(err, 502, "BadResponse",
				             "%s:%s closed the connection without an answer",
				             c->url->host, c->url->port);
			else
				ch_error_set(
				    err, 502, "BadResponse",
				    "%s:%s closed the connection in the middle of the answer",
				    c->url->host, c->url->port);
			goto fail;
		}
		if (HTTP_PARSER_ERRNO(&r.parser) != HPE_OK) {
			parse_fail(c, &r, max, err);
			goto fail;
		}
	}
	r.body[r.len] = '\0';
	resp->status = r.status;
	resp->body = r.body;
	resp->body_len = r.len;
	resp->retry_after_s = r.retry_after_len > 0 && r.retry_after_len < sizeof(r.retry_after)
	                          ? retry_after_seconds(r.retry_after, time(NULL))
	                          : -1;
	return 0;
fail:
	free(r.body);
	return -1;
}

int ch_http_send(const struct ch_http_request *req, size_t max_response,
                 struct ch_http_response *resp, struct ch_error *err)
{
	struct conn c = {.fd = -1, .url = req->url};
	char *head = NULL;
	size_t head_len = 0;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_s = -1;
	if (!token_ok(req->method))
		return ch_error_set(err, 400, "InvalidRequest", "bad request method");
	if (req->body_len > 0 && req->body == NULL)
		return ch_error_set(err, 400, "InvalidRequest",
		                    "request body length without a body");
	if (build_head(req, &head, &head_len, err) < 0)
		return -1;
	c.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	c.deadline = ch_clock_us(CLOCK_MONOTONIC) / 1000 + c.timeout_ms;
	if (open_socket(&c, err) < 0)
		goto out;
	if (req->url->tls && tls_start(&c, req->ca_file, err) < 0)
		goto out;
	if (write_all(&c, head, head_len, err) < 0 ||
	    write_all(&c, req->body, req->body_len, err) < 0)
		goto out;
	rc = read_answer(&c, strcmp(req->method, "HEAD") == 0, max_response, resp, err);
out:
	free(head);
	conn_close(&c);
	return rc;
}

void ch_http_response_free(struct ch_http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}
