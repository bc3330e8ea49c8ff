/* http_conn.h - HTTP/1.1 connections on libevent bufferevents.
 *
 * Why not evhttp: libevent 2.1.12's evhttp answers an oversized body or header
 * block itself, with an HTML page (and 413 where 431 is due), and offers no hook
 * that sees a connection before its first complete request, so connections
 * cannot be counted.  Here libevent still runs the loop, the listener and the
 * sockets, and the nodejs http-parser (Debian libhttp-parser-dev) does the
 * framing, so every limit is ours: counted connections (429 past the limit),
 * header block (431), body (413, announced or chunked), a deadline per request
 * (408, also for a Content-Length larger than what is sent), idle keep-alive
 * connections, and a lingering close so an error answer reaches a client that
 * is still sending instead of being lost to a TCP reset.  The same holds per
 * client address (connections, and a request rate: 429), and over TLS
 * (bufferevent_openssl), where the handshake must finish within the request
 * deadline.
 *
 * One request per connection is handled at a time: reading pauses while the
 * application holds a request (pipelined requests wait in the socket), and
 * resumes once it has answered.  The application must answer every request it
 * is handed, exactly once, even if the client has gone (the answer is then
 * dropped and the connection freed).
 */
#ifndef CH_HTTP_CONN_H
#define CH_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "envelope.h" /* struct ch_header */
#include "error.h"

struct event_base;
struct ch_http_server;
struct ch_http_conn;
struct ch_tls;

struct ch_http_request {
	uint64_t id;        /* unique per process, echoed as X-Request-Id */
	const char *method; /* "POST", "GET"... */
	const char *path;   /* target up to '?' (not decoded), NUL-terminated */
	size_t path_len;
	const char *query; /* after '?', NULL when none; may hold secrets: never log */
	const struct ch_header *headers;
	size_t n_headers;
	const char *body; /* NUL-terminated for convenience; body_len excludes it */
	size_t body_len;
	const char *remote;        /* "ADDR:PORT" of the peer */
	int64_t received_us;       /* when its first byte arrived */
	struct ch_http_conn *conn; /* private */
};

typedef void (*ch_http_handler)(struct ch_http_request *req, void *arg);

struct ch_http_limits {
	size_t max_header;       /* request line + header block, bytes */
	size_t max_body;         /* bytes, after chunked decoding */
	long max_connections;    /* open connections served normally */
	long request_timeout_ms; /* first byte to last byte of one request */
	long idle_timeout_ms;    /* keep-alive connection waiting for a request */
	long retry_after_s;      /* Retry-After on 429 and 503 */
	/* Per client address (an IPv6 client by its /64; see sources.h): */
	long max_per_source; /* open connections served normally; 0: no limit */
	long rate_count;     /* requests per rate_period_s; 0: no limit */
	long rate_period_s;  /* 1 or 60 */
	long rate_burst;     /* requests at once after a quiet time */
	bool limit_loopback; /* apply these two to loopback clients too */
};

struct ch_http_server *ch_http_server_new(struct event_base *base, evutil_socket_t listen_fd,
                                          const struct ch_http_limits *limits,
                                          ch_http_handler handler, void *arg, struct ch_error *err);
/* New limits (SIGHUP), for everything read, accepted or timed from now on;
 * a deadline already running keeps its length.  A request half read may be
 * refused by a lower limit: it was not acknowledged, so its sender retries. */
void ch_http_server_set_limits(struct ch_http_server *srv, const struct ch_http_limits *limits);
/* Serve HTTPS with tls's certificate on connections accepted from now on,
 * or plain HTTP with NULL.  The server takes its own reference, so tls may
 * be freed afterwards; a connection keeps the context it started with. */
void ch_http_server_set_tls(struct ch_http_server *srv, const struct ch_tls *tls);
/* Stop accepting, close idle connections, and close every other one after its
 * current answer.  Used for shutdown. */
void ch_http_server_drain(struct ch_http_server *srv);
/* Connections that are reading a request or waiting for the application. */
size_t ch_http_server_busy(const struct ch_http_server *srv);
size_t ch_http_server_open(const struct ch_http_server *srv);
/* Close everything.  Requests still held by the application must have been answered. */
void ch_http_server_free(struct ch_http_server *srv);

/* Answer a request (exactly once).  extra headers are added verbatim; a value
 * holding CR or LF is dropped.  body may be NULL when len is 0. */
void ch_http_respond(struct ch_http_request *req, int status, const char *content_type,
                     const struct ch_header *extra, size_t n_extra, const char *body, size_t len);
/* Answer with the error shape {"code":...,"message":...}; adds Retry-After to
 * 429 and 503. */
void ch_http_respond_error(struct ch_http_request *req, const struct ch_error *err);
/* Same, with extra headers (e.g. Allow on 405). */
void ch_http_respond_error_h(struct ch_http_request *req, const struct ch_error *err,
                             const struct ch_header *extra, size_t n_extra);

#endif
