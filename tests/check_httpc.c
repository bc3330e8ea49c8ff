/* check_httpc.c - the blocking HTTP client (src/httpc.c): URL parsing, and
 * real exchanges with a one-shot server forked by each test on 127.0.0.1:0
 * that records the request it got and answers with canned bytes, over plain
 * TCP or TLS with a throwaway certificate made by the openssl command. */
#include <arpa/inet.h>
#include <check.h>
#include <limits.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "httpc.h"

static char tmpdir[64];
static char cert_ok[128], key_ok[128];       /* names localhost and 127.0.0.1 */
static char cert_other[128], key_other[128]; /* names other.example only */

/* --- URLs --------------------------------------------------------------- */

static void url_ok(const char *s, int tls, const char *host, const char *port, const char *path,
                   const char *host_header)
{
	struct ch_url u;
	struct ch_error err = {0};

	ck_assert_msg(ch_url_parse(s, &u, &err) == 0, "%s: %s", s, err.message);
	ck_assert_int_eq(u.tls, tls);
	ck_assert_str_eq(u.host, host);
	ck_assert_str_eq(u.port, port);
	ck_assert_str_eq(u.path, path);
	ck_assert_str_eq(u.host_header, host_header);
}

static void url_bad(const char *s, const char *words)
{
	struct ch_url u;
	struct ch_error err = {0};

	ck_assert_msg(ch_url_parse(s, &u, &err) == -1, "%s accepted", s);
	ck_assert_int_eq(err.status, 400);
	ck_assert_str_eq(err.code, "InvalidUrl");
	ck_assert_msg(strstr(err.message, words) != NULL, "%s: \"%s\" lacks \"%s\"", s, err.message,
	              words);
}

START_TEST(test_url_good)
{
	url_ok("http://example.com", 0, "example.com", "80", "/", "example.com");
	url_ok("https://example.com", 1, "example.com", "443", "/", "example.com");
	url_ok("HTTPS://acs.communication.azure.com:8443/calling/calls?api-version=1#frag", 1,
	       "acs.communication.azure.com", "8443", "/calling/calls?api-version=1",
	       "acs.communication.azure.com:8443");
	/* the default port, given, is left out of Host like the browsers do */
	url_ok("https://h.example:443/x", 1, "h.example", "443", "/x", "h.example");
	url_ok("http://h.example:443/x", 0, "h.example", "443", "/x", "h.example:443");
	url_ok("http://127.0.0.1:0080", 0, "127.0.0.1", "80", "/", "127.0.0.1");
	url_ok("http://h?a=1", 0, "h", "80", "/?a=1", "h");
	url_ok("http://[::1]:8080/p/q", 0, "::1", "8080", "/p/q", "[::1]:8080");
	url_ok("https://[2001:db8::7]/", 1, "2001:db8::7", "443", "/", "[2001:db8::7]");
	url_ok("http://under_score.local:1/", 0, "under_score.local", "1", "/",
	       "under_score.local:1");
	url_ok("http://h:65535/%20x", 0, "h", "65535", "/%20x", "h:65535");
}
END_TEST

START_TEST(test_url_bad)
{
	char long_host[300];

	url_bad("", "empty");
	url_bad(NULL, "empty");
	url_bad("ftp://h/", "http:// or https://");
	url_bad("example.com/x", "http:// or https://");
	url_bad("http://", "no host");
	url_bad("http:///x", "no host");
	url_bad("http://:80/", "no host");
	url_bad("http://h:/", "empty port");
	url_bad("http://h:0/", "out of range");
	url_bad("http://h:65536/", "out of range");
	url_bad("http://h:123456/", "out of range");
	url_bad("http://h:8a/", "not a number");
	url_bad("http://h:-1/", "not a number");
	url_bad("http://user:pw@h/", "credentials");
	url_bad("http://[::1/", "closing");
	url_bad("http://[]/", "IPv6");
	url_bad("http://[zz::1]/", "IPv6");
	url_bad("http://[::1]x/", "junk");
	url_bad("http://h^x/", "character");
	url_bad("http://h/a b", "space");
	url_bad("http://h/a\r\nX: y", "control");
	url_bad("http://h/caf\xc3\xa9", "non-ASCII");
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	{
		char url[400];

		snprintf(url, sizeof(url), "http://%s/", long_host);
		url_bad(url, "too long");
	}
}
END_TEST

/* --- a one-shot server -------------------------------------------------- */

/* ANSWER: the canned bytes; SILENT: read the request, never answer;
 * CLOSE_AT_ONCE: read the request and hang up. */
enum mode { ANSWER, SILENT, CLOSE_AT_ONCE };

struct server {
	pid_t pid;
	int port;
	int dump; /* read end: what the server received */
};

/* Read one request (head, then Content-Length bytes of body). */
static size_t read_request(SSL *ssl, int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	char *end = NULL;

	while (len < cap - 1) {
		ssize_t n = ssl != NULL ? SSL_read(ssl, buf + len, (int)(cap - 1 - len))
		                        : read(fd, buf + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			want = (size_t)(end + 4 - buf) +
			       (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (end != NULL && len >= want)
			break;
	}
	buf[len] = '\0';
	return len;
}

static void serve(int lfd, int dump, enum mode mode, const char *answer, size_t answer_len,
                  const char *cert, const char *key)
{
	static char req[65536];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd = accept(lfd, NULL, NULL);
	size_t len;

	if (fd < 0)
		_exit(1);
	if (cert != NULL) {
		const char *sni;

		ctx = SSL_CTX_new(TLS_server_method());
		if (ctx == NULL || SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
			_exit(2);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) != 1) {
			dprintf(dump, "HANDSHAKE FAILED\n");
			_exit(0);
		}
		sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		dprintf(dump, "SNI=%s\n", sni != NULL ? sni : "(none)");
	}
	len = read_request(ssl, fd, req, sizeof(req));
	if (write(dump, req, len) != (ssize_t)len)
		_exit(3);
	close(dump);
	if (mode == CLOSE_AT_ONCE) {
		close(fd);
		_exit(0);
	}
	if (mode == SILENT) {
		sleep(60);
		_exit(0);
	}
	if (ssl != NULL) {
		SSL_write(ssl, answer, (int)answer_len);
		SSL_shutdown(ssl);
	} else if (write(fd, answer, answer_len) < 0) {
		_exit(0); /* the client may rightly hang up on a big answer */
	}
	close(fd);
	_exit(0);
}

static struct server start_tls(enum mode mode, const char *answer, size_t answer_len,
                               const char *cert, const char *key)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	struct server s;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), p[2];

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	ck_assert_int_eq(pipe(p), 0);
	s.port = ntohs(sin.sin_port);
	s.pid = fork();
	ck_assert_int_ge(s.pid, 0);
	if (s.pid == 0) {
		close(p[0]);
		serve(lfd, p[1], mode, answer, answer_len, cert, key);
	}
	close(lfd);
	close(p[1]);
	s.dump = p[0];
	return s;
}

static struct server start(enum mode mode, const char *answer)
{
	return start_tls(mode, answer, answer != NULL ? strlen(answer) : 0, NULL, NULL);
}

static char *read_dump(struct server *s)
{
	static char got[65536];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(got) - 1 && (n = read(s->dump, got + len, sizeof(got) - 1 - len)) > 0)
		len += (size_t)n;
	got[len] = '\0';
	close(s->dump);
	return got;
}

/* Stop the server now; what it received. */
static char *stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	return read_dump(s);
}

/* Let the server finish its answer; what it received. */
static char *finish(struct server *s)
{
	waitpid(s->pid, NULL, 0);
	return read_dump(s);
}

struct result {
	int rc;
	struct ch_http_response resp;
	struct ch_error err;
	double seconds;
};

static struct result exchange(const char *url_text, const char *method, const char *body,
                              const char *const *headers, size_t max, int timeout_ms,
                              const char *ca_file)
{
	struct ch_url url;
	struct ch_error uerr = {0};
	struct result r = {0};
	struct timespec a, b;
	struct ch_http_request req = {
	    .method = method,
	    .url = &url,
	    .headers = headers,
	    .body = body,
	    .body_len = body != NULL ? strlen(body) : 0,
	    .timeout_ms = timeout_ms,
	    .ca_file = ca_file,
	};

	ck_assert_msg(ch_url_parse(url_text, &url, &uerr) == 0, "%s", uerr.message);
	clock_gettime(CLOCK_MONOTONIC, &a);
	r.rc = ch_http_send(&req, max, &r.resp, &r.err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	r.seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return r;
}

static struct result get(struct server *s, size_t max, int timeout_ms)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", s->port);
	return exchange(url, "GET", NULL, NULL, max, timeout_ms, NULL);
}

static void expect_error(const struct result *r, int status, const char *code, const char *words)
{
	ck_assert_int_eq(r->rc, -1);
	ck_assert_int_eq(r->err.status, status);
	ck_assert_str_eq(r->err.code, code);
	ck_assert_msg(strstr(r->err.message, words) != NULL, "\"%s\" lacks \"%s\"", r->err.message,
	              words);
	ck_assert_ptr_null(r->resp.body);
}

/* GET the answer a one-shot server gives; it must succeed with status. */
static struct result answered(const char *answer, size_t max, int status)
{
	struct server s = start(ANSWER, answer);
	struct result r = get(&s, max, 5000);

	finish(&s);
	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	ck_assert_int_eq(r.resp.status, status);
	return r;
}

/* GET what a one-shot server in mode gives (its answer capped at max); the
 * exchange must fail with status, code and words. */
static void fails(enum mode mode, const char *answer, size_t max, int status, const char *code,
                  const char *words)
{
	struct server s = start(mode, answer);
	struct result r = get(&s, max, 5000);

	stop(&s);
	expect_error(&r, status, code, words);
}

/* --- plain exchanges ---------------------------------------------------- */

START_TEST(test_content_length)
{
	static const char *const headers[] = {"X-Test: yes", "Content-Type: application/json",
	                                      NULL};
	struct server s = start(ANSWER, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n"
	                                "Content-Type: text/plain\r\n\r\nhelloTRAILING JUNK");
	char url[80], host[40];
	struct result r;
	const char *got;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/calling/calls?api-version=1", s.port);
	r = exchange(url, "POST", "{\"a\":1}", headers, 1024, 5000, NULL);
	got = finish(&s);
	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	ck_assert_int_eq(r.resp.status, 201);
	ck_assert_uint_eq(r.resp.body_len, 5);
	ck_assert_str_eq(r.resp.body, "hello");
	/* the request as sent */
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", s.port);
	ck_assert_msg(strncmp(got, "POST /calling/calls?api-version=1 HTTP/1.1\r\n", 44) == 0, "%s",
	              got);
	ck_assert_ptr_nonnull(strstr(got, host));
	ck_assert_ptr_nonnull(strstr(got, "\r\nContent-Length: 7\r\n"));
	ck_assert_ptr_nonnull(strstr(got, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(got, "\r\nX-Test: yes\r\n"));
	ck_assert_ptr_nonnull(strstr(got, "\r\n\r\n{\"a\":1}"));
	ck_assert_str_eq(got + strlen(got) - 7, "{\"a\":1}");
	ch_http_response_free(&r.resp);
	ck_assert_ptr_null(r.resp.body);
}
END_TEST

START_TEST(test_get_has_no_length)
{
	struct server s = start(ANSWER, "HTTP/1.1 404 Not Found\r\nContent-Length: 47\r\n\r\n"
	                                "{\"code\":\"NotFound\",\"message\":\"no such call 7\"}\n");
	struct result r = get(&s, 1024, 5000);
	const char *got = finish(&s);

	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	/* an error status is an answer, not a failed exchange */
	ck_assert_int_eq(r.resp.status, 404);
	ck_assert_uint_eq(r.resp.body_len, 47);
	ck_assert_ptr_nonnull(strstr(r.resp.body, "no such call 7"));
	ck_assert_ptr_null(strcasestr(got, "content-length"));
	ck_assert_msg(strncmp(got, "GET /x HTTP/1.1\r\n", 17) == 0, "%s", got);
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_chunked)
{
	struct result r = answered("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                           "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
	                           11, 200);

	ck_assert_uint_eq(r.resp.body_len, 11); /* exactly the cap is allowed */
	ck_assert_str_eq(r.resp.body, "hello world");
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_to_eof)
{
	struct result r =
	    answered("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end", 1024, 200);

	ck_assert_str_eq(r.resp.body, "until the end");
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_head)
{
	/* the length describes what a GET would get; no body follows */
	struct server s = start(ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
	char url[64];
	struct result r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", s.port);
	r = exchange(url, "HEAD", NULL, NULL, 10, 5000, NULL);
	finish(&s);
	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	ck_assert_int_eq(r.resp.status, 200);
	ck_assert_uint_eq(r.resp.body_len, 0);
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_empty_and_continue)
{
	struct result r = answered("HTTP/1.1 100 Continue\r\n\r\n"
	                           "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
	                           1024, 202);

	ck_assert_uint_eq(r.resp.body_len, 0);
	ck_assert_str_eq(r.resp.body, "");
	ch_http_response_free(&r.resp);
}
END_TEST

/* The Retry-After of an answer with these header lines, as httpc reads it. */
static long retry_after(const char *headers)
{
	char answer[512];
	struct result r;
	long got;

	snprintf(answer, sizeof(answer),
	         "HTTP/1.1 429 Too Many Requests\r\n%sContent-Length: 2\r\n\r\n{}", headers);
	r = answered(answer, 1024, 429);
	got = r.resp.retry_after_s;
	ch_http_response_free(&r.resp);
	return got;
}

START_TEST(test_retry_after)
{
	char line[128];
	time_t now = time(NULL);
	struct tm tm;
	long got;

	ck_assert_int_eq(retry_after("Retry-After: 120\r\n"), 120);
	ck_assert_int_eq(retry_after("retry-after:   7  \r\n"), 7);
	ck_assert_int_eq(retry_after("Retry-After: 0\r\n"), 0);
	ck_assert_int_eq(retry_after("Retry-After: 99999999999999999999999\r\n"), LONG_MAX);
	/* an IMF-fixdate 30 s ahead, and one in the past */
	gmtime_r(&(time_t){now + 30}, &tm);
	strftime(line, sizeof(line), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	got = retry_after(line);
	ck_assert_msg(got >= 27 && got <= 30, "%ld s for a date 30 s ahead", got);
	gmtime_r(&(time_t){now - 3600}, &tm);
	strftime(line, sizeof(line), "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
	ck_assert_int_eq(retry_after(line), 0);
	/* two: the last one counts */
	ck_assert_int_eq(retry_after("Retry-After: 5\r\nRetry-After: 9\r\n"), 9);
	/* absent, not understood, or another header that only looks like it */
	ck_assert_int_eq(retry_after(""), -1);
	ck_assert_int_eq(retry_after("Retry-After: soon\r\n"), -1);
	ck_assert_int_eq(retry_after("Retry-After: 12abc\r\n"), -1);
	ck_assert_int_eq(retry_after("Retry-After: -5\r\n"), -1);
	ck_assert_int_eq(retry_after("Retry-After: Sun, 06 Nov 1994 08:49:37 PST\r\n"), -1);
	ck_assert_int_eq(retry_after("Retry-After-Not: 5\r\nX-Retry-After: 5\r\n"), -1);
	ck_assert_int_eq(retry_after("Retry: 5\r\n"), -1);
	memset(line, '1', 100);
	memcpy(line, "Retry-After: ", 13);
	memcpy(line + 100, "\r\n", 3);
	ck_assert_int_eq(retry_after(line), -1); /* a value too long to be one */
}
END_TEST

START_TEST(test_retry_after_of_the_final_answer)
{
	struct result r = answered("HTTP/1.1 100 Continue\r\nRetry-After: 5\r\n\r\n"
	                           "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
	                           1024, 503);

	ck_assert_int_eq(r.resp.retry_after_s, -1);
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_over_cap)
{
	static char big[300000];
	int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");

	memset(big + n, 'x', 200000);
	big[n + 200000] = '\0';
	fails(ANSWER, big, 1000, 502, "ResponseTooLarge", "over 1000 bytes");
	fails(ANSWER,
	      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	      10, 502, "ResponseTooLarge", "over 10 bytes");
	fails(ANSWER, "HTTP/1.1 200 OK\r\n\r\n0123456789A", 10, 502, "ResponseTooLarge",
	      "over 10 bytes");
}
END_TEST

START_TEST(test_headers_over_cap)
{
	static char big[40000];
	int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Big: ");

	memset(big + n, 'h', 20000);
	strcpy(big + n + 20000, "\r\nContent-Length: 0\r\n\r\n");
	fails(ANSWER, big, 1000, 502, "BadResponse", "headers over");
}
END_TEST

START_TEST(test_malformed)
{
	fails(ANSWER, "HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n", 1000, 502, "BadResponse",
	      "malformed answer from 127.0.0.1:");
	fails(ANSWER, "SSH-2.0-OpenSSH_9.2\r\n", 1000, 502, "BadResponse", "malformed answer");
	fails(ANSWER, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 1000, 502,
	      "BadResponse", "malformed answer");
}
END_TEST

START_TEST(test_cut_short)
{
	fails(ANSWER, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1000, 502, "BadResponse",
	      "in the middle of the answer");
	fails(CLOSE_AT_ONCE, NULL, 1000, 502, "BadResponse", "without an answer");
}
END_TEST

START_TEST(test_timeout)
{
	struct server s = start(SILENT, NULL);
	struct result r = get(&s, 1000, 300);

	stop(&s);
	expect_error(&r, 504, "UpstreamTimeout", "no answer within 300 ms");
	ck_assert_msg(r.seconds >= 0.25 && r.seconds < 5.0, "took %.2f s", r.seconds);
}
END_TEST

START_TEST(test_refused)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	struct result r;

	/* a port the kernel just handed out, with nobody listening on it */
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(sin.sin_port));
	r = exchange(url, "POST", "{}", NULL, 1000, 5000, NULL);
	close(fd);
	expect_error(&r, 502, "ConnectFailed", "Connection refused");
}
END_TEST

START_TEST(test_bad_request)
{
	static const char *const split[] = {"X-A: 1\r\nX-B: 2", NULL};
	static const char *const nocolon[] = {"just words", NULL};
	static const char *const dup[] = {"content-length: 99", NULL};
	struct result r;

	/* refused before anything is sent: no server needed */
	r = exchange("http://127.0.0.1:9/", "POST", "{}", split, 1000, 5000, NULL);
	expect_error(&r, 400, "InvalidRequest", "X-A: 1");
	r = exchange("http://127.0.0.1:9/", "POST", "{}", nocolon, 1000, 5000, NULL);
	expect_error(&r, 400, "InvalidRequest", "Name: value");
	r = exchange("http://127.0.0.1:9/", "POST", "{}", dup, 1000, 5000, NULL);
	expect_error(&r, 400, "InvalidRequest", "writes itself");
	r = exchange("http://127.0.0.1:9/", "PO ST", NULL, NULL, 1000, 5000, NULL);
	expect_error(&r, 400, "InvalidRequest", "method");
}
END_TEST

/* --- TLS ---------------------------------------------------------------- */

static const char ok_answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";

START_TEST(test_tls_verified)
{
	struct server s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_ok, key_ok);
	char url[80];
	struct result r;
	const char *got;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/t", s.port);
	r = exchange(url, "POST", "{\"b\":2}", NULL, 1000, 5000, cert_ok);
	got = finish(&s);
	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	ck_assert_int_eq(r.resp.status, 200);
	ck_assert_str_eq(r.resp.body, "secret");
	/* no SNI for an address; the request arrived whole */
	ck_assert_msg(strncmp(got, "SNI=(none)\nPOST /t HTTP/1.1\r\n", 29) == 0, "%s", got);
	ck_assert_str_eq(got + strlen(got) - 7, "{\"b\":2}");
	ch_http_response_free(&r.resp);
}
END_TEST

START_TEST(test_tls_name)
{
	struct server s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_ok, key_ok);
	char url[80];
	struct result r;
	const char *got;

	/* by name: SNI sent, the certificate's DNS name checked */
	snprintf(url, sizeof(url), "https://localhost:%d/", s.port);
	r = exchange(url, "GET", NULL, NULL, 1000, 5000, cert_ok);
	got = finish(&s);
	ck_assert_msg(r.rc == 0, "%s", r.err.message);
	ck_assert_str_eq(r.resp.body, "secret");
	ck_assert_msg(strncmp(got, "SNI=localhost\n", 14) == 0, "%s", got);
	ch_http_response_free(&r.resp);
}
END_TEST

/* GET https://host:PORT/ of s, trusting ca (NULL: the system's CAs); s is
 * stopped after. */
static struct result tls_get(struct server *s, const char *host, int timeout_ms, const char *ca)
{
	char url[80];
	struct result r;

	snprintf(url, sizeof(url), "https://%s:%d/", host, s->port);
	r = exchange(url, "GET", NULL, NULL, 1000, timeout_ms, ca);
	stop(s);
	return r;
}

START_TEST(test_tls_untrusted)
{
	struct server s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_ok, key_ok);
	/* the system CAs do not know a throwaway certificate */
	struct result r = tls_get(&s, "127.0.0.1", 5000, NULL);

	expect_error(&r, 502, "TlsFailed", "certificate not accepted");
	ck_assert_ptr_nonnull(strstr(r.err.message, "self-signed"));
}
END_TEST

START_TEST(test_tls_wrong_name)
{
	struct server s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_other, key_other);
	/* trusted, but it names other.example, not the address asked for */
	struct result r = tls_get(&s, "127.0.0.1", 5000, cert_other);

	expect_error(&r, 502, "TlsFailed", "certificate not accepted");
	ck_assert_msg(strstr(r.err.message, "mismatch") != NULL, "%s", r.err.message);

	s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_other, key_other);
	r = tls_get(&s, "localhost", 5000, cert_other);
	expect_error(&r, 502, "TlsFailed", "mismatch");
}
END_TEST

START_TEST(test_tls_plain_server)
{
	struct server s = start(SILENT, NULL);
	/* https to a server that never speaks TLS: the handshake times out */
	struct result r = tls_get(&s, "127.0.0.1", 300, cert_ok);

	expect_error(&r, 504, "UpstreamTimeout", "TLS handshake");
}
END_TEST

START_TEST(test_tls_bad_ca_file)
{
	struct server s = start_tls(ANSWER, ok_answer, strlen(ok_answer), cert_ok, key_ok);
	struct result r = tls_get(&s, "127.0.0.1", 5000, "/nonexistent/ca.pem");

	expect_error(&r, 500, "ConfigError", "/nonexistent/ca.pem");
}
END_TEST

/* --- set-up ------------------------------------------------------------- */

static void make_cert(const char *name, const char *san, char *cert, char *key)
{
	char cmd[1024];

	snprintf(cert, 128, "%s/%s.pem", tmpdir, name);
	snprintf(key, 128, "%s/%s.key", tmpdir, name);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout %s -out %s -days 1 -subj /CN=%s -addext subjectAltName=%s "
	         ">/dev/null 2>&1",
	         key, cert, name, san);
	if (system(cmd) != 0) {
		fprintf(stderr, "check_httpc: cannot make a certificate with openssl(1)\n");
		exit(1);
	}
}

static Suite *suite(void)
{
	Suite *s = suite_create("httpc");
	TCase *tc = tcase_create("url");

	tcase_add_test(tc, test_url_good);
	tcase_add_test(tc, test_url_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("plain");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_get_has_no_length);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_to_eof);
	tcase_add_test(tc, test_empty_and_continue);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_retry_after_of_the_final_answer);
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_over_cap);
	tcase_add_test(tc, test_headers_over_cap);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_cut_short);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_bad_request);
	suite_add_tcase(s, tc);
	tc = tcase_create("tls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tls_verified);
	tcase_add_test(tc, test_tls_name);
	tcase_add_test(tc, test_tls_untrusted);
	tcase_add_test(tc, test_tls_wrong_name);
	tcase_add_test(tc, test_tls_plain_server);
	tcase_add_test(tc, test_tls_bad_ca_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;
	char cmd[128];

	/* TLS writes go through write(2); a server that hangs up must not kill us */
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_httpc.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_cert("localhost", "DNS:localhost,IP:127.0.0.1", cert_ok, key_ok);
	make_cert("other.example", "DNS:other.example", cert_other, key_other);
	sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "check_httpc: cannot remove %s\n", tmpdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
