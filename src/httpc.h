/* httpc.h - a small blocking HTTP/1.1 client for the requests callhookd
 * sends (Call Automation actions from the daemon's action sender thread,
 * callhookctl call).  One request per connection, http:// or https://
 * (OpenSSL, peer verified against the system CAs or ca_file, TLS 1.2+),
 * every wait bounded by timeout_ms, the response capped at max_response
 * bytes.  Blocking on purpose: it never runs on the intake event loop.
 */
#ifndef CH_HTTPC_H
#define CH_HTTPC_H

#include <stddef.h>

#include "error.h"

struct ch_url {
	int tls;               /* https */
	char host[256];        /* without brackets for IPv6 literals */
	char port[6];          /* "80"/"443" when the URL has none */
	char path[2048];       /* path and query, "/" when empty */
	char host_header[270]; /* host[:port] as the Host header and ACS signing want it */
};

/* Split "http[s]://host[:port][/path[?query]]"; -1 with a readable error. */
int ch_url_parse(const char *url, struct ch_url *out, struct ch_error *err);

struct ch_http_request {
	const char *method;
	const struct ch_url *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;
	size_t body_len;
	int timeout_ms;      /* connect, each read and write; 0 means 10 s */
	const char *ca_file; /* https: NULL for the system default */
};

struct ch_http_response {
	int status;
	char *body; /* owned by the response, NUL-terminated; free with ch_http_response_free */
	size_t body_len;
	/* Retry-After (RFC 9110 10.2.3), seconds or an HTTP-date, as seconds from
	 * now (0 for a date in the past); -1 when absent or not understood. */
	long retry_after_s;
};

/* Send one request and read the whole answer (Content-Length or chunked).
 * 0 with *resp filled for any HTTP status; -1 with err (status 502/504) when
 * the exchange failed: DNS, connect, TLS, timeout, a malformed answer, or a
 * body over max_response. */
int ch_http_send(const struct ch_http_request *req, size_t max_response,
                 struct ch_http_response *resp, struct ch_error *err);
void ch_http_response_free(struct ch_http_response *resp);

#endif
