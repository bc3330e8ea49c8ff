/* fuzz_config.c - libFuzzer target: the INI configuration, as callhookd -c reads it.
 *
 * The input (up to its first NUL, as ch_config_load refuses a file holding
 * one) is loaded over the defaults of a fresh configuration and, when that
 * succeeds, finished, the same calls main() makes.  Checked: the result is 0
 * or -1; a failure is a ConfigError with one printable line of message; a success
 * leaves a configuration the daemon can run on (every value inside its
 * documented range, at least one endpoint, endpoints unique, auth = none only
 * on loopback, usable secrets).  ch_config_free runs every time and
 * LeakSanitizer checks nothing is left behind.
 *
 * ch_config_finish resolves the listen host to check it is loopback.  A
 * fuzzer must not send DNS queries (slow, and the outcome would depend on the
 * network), so this file replaces getaddrinfo with a resolver that knows
 * numeric addresses and "localhost" only.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_config: %s:%d: invariant failed: %s\n", __FILE__,    \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- an offline resolver ----------------------------------------------------- */

static struct addrinfo *new_ai(int family, const void *addr)
{
	struct addrinfo *ai = calloc(1, sizeof(*ai));
	struct sockaddr_storage *ss = calloc(1, sizeof(*ss));

	if (ai == NULL || ss == NULL) {
		free(ai);
		free(ss);
		return NULL;
	}
	ai->ai_family = family;
	ai->ai_socktype = SOCK_STREAM;
	ai->ai_addr = (struct sockaddr *)ss;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		ai->ai_addrlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		ai->ai_addrlen = sizeof(*sin6);
	}
	return ai;
}

void freeaddrinfo(struct addrinfo *res)
{
	while (res != NULL) {
		struct addrinfo *next = res->ai_next;

		free(res->ai_addr);
		free(res);
		res = next;
	}
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	unsigned char addr[sizeof(struct in6_addr)];

	(void)service;
	(void)hints;
	*res = NULL;
	if (node == NULL)
		return EAI_NONAME;
	if (inet_pton(AF_INET, node, addr) == 1)
		*res = new_ai(AF_INET, addr);
	else if (inet_pton(AF_INET6, node, addr) == 1)
		*res = new_ai(AF_INET6, addr);
	else if (strcmp(node, "localhost") == 0) {
		inet_pton(AF_INET, "127.0.0.1", addr);
		*res = new_ai(AF_INET, addr);
		if (*res != NULL) {
			inet_pton(AF_INET6, "::1", addr);
			(*res)->ai_next = new_ai(AF_INET6, addr);
		}
	} else {
		return EAI_NONAME;
	}
	return *res != NULL ? 0 : EAI_MEMORY;
}

static bool loopback(const char *listen)
{
	char host[256], port[16];
	struct in_addr a4;
	struct in6_addr a6;

	REQUIRE(ch_split_host_port(listen, host, sizeof(host), port, sizeof(port)) == 0);
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* ---- invariants ---------------------------------------------------------------- */

static void check_error(const struct ch_error *err)
{
	size_t n = strnlen(err->message, sizeof(err->message));

	REQUIRE(err->status == 500 && strcmp(err->code, "ConfigError") == 0);
	REQUIRE(n > 0 && n < sizeof(err->message));
	for (size_t i = 0; i < n; i++) /* one printable line: no CR, LF or escape */
		REQUIRE((unsigned char)err->message[i] >= 0x20 && err->message[i] != 0x7f);
}

static void check_endpoint(const struct ch_config *cfg, const struct ch_endpoint *ep)
{
	const struct ch_auth *a = &ep->auth;

	REQUIRE(ep->path != NULL && ep->path[0] == '/' && strpbrk(ep->path, "?# \t") == NULL);
	REQUIRE(ch_config_endpoint(cfg, ep->path, strlen(ep->path)) == ep); /* unique */
	REQUIRE(ep->n_allowed_origins >= 1 && ep->allowed_rate != NULL);
	for (size_t i = 0; i < ep->n_allowed_origins; i++)
		REQUIRE(ep->allowed_origins[i] != NULL);
	if (a->mode == CH_AUTH_NONE)
		REQUIRE(loopback(cfg->listen));
	if (a->mode == CH_AUTH_SECRET || a->mode == CH_AUTH_HMAC)
		REQUIRE(a->n_keys >= 1);
	if (a->mode == CH_AUTH_SECRET)
		REQUIRE(a->query_param != NULL || a->header != NULL);
	if (a->mode == CH_AUTH_JWT)
		REQUIRE(a->jwks_file != NULL && a->jwks_file[0] == '/' && a->jwks != NULL);
	for (size_t i = 0; i < a->n_keys; i++)
		REQUIRE(a->keys[i].bytes != NULL && a->keys[i].len >= 16);
	REQUIRE(a->tolerance_s >= 1 && a->tolerance_s <= 86400);
}

static void check_handlers(const struct ch_config *cfg)
{
	for (size_t i = 0; i < cfg->n_handlers; i++) {
		const struct ch_handler_conf *h = &cfg->handlers[i];

		REQUIRE(h->name != NULL && h->name[0] != '\0' && strlen(h->name) <= 64);
		REQUIRE(ch_config_handler(cfg, h->name) == h); /* unique */
		for (size_t k = 0; k < h->n_options; k++)
			for (size_t j = k + 1; j < h->n_options; j++)
				REQUIRE(strcmp(h->keys[k], h->keys[j]) != 0);
	}
	REQUIRE(cfg->handlers_dir != NULL && cfg->handlers_dir[0] != '\0');
	REQUIRE(cfg->max_attempts >= 1 && cfg->max_attempts <= 1000);
	REQUIRE(cfg->dispatch_batch >= 1 && cfg->dispatch_batch <= 10000);
}

/* Every value within the range callhookd.conf(5) documents. */
static void check_config(const struct ch_config *cfg)
{
	char host[256], port[16];

	REQUIRE(cfg->listen != NULL);
	REQUIRE(ch_split_host_port(cfg->listen, host, sizeof(host), port, sizeof(port)) == 0);
	REQUIRE(cfg->max_connections >= 1 && cfg->max_connections <= 1000000);
	REQUIRE(cfg->request_timeout_ms >= 100 && cfg->request_timeout_ms <= 3600000);
	REQUIRE(cfg->idle_timeout_ms >= 100 && cfg->idle_timeout_ms <= 86400000);
	REQUIRE(cfg->drain_timeout_ms >= 0 && cfg->drain_timeout_ms <= 3600000);
	REQUIRE(cfg->retry_after_s >= 1 && cfg->retry_after_s <= 86400);
	REQUIRE(cfg->max_body >= 1024 && cfg->max_body <= (size_t)1 << 30);
	REQUIRE(cfg->max_header >= 1024 && cfg->max_header <= (size_t)1 << 20);
	REQUIRE(cfg->max_events >= 1 && cfg->max_events <= 1000000);
	REQUIRE(cfg->max_depth >= 4 && cfg->max_depth <= 10000);
	REQUIRE(cfg->max_id_length >= 16 && cfg->max_id_length <= 65536);
	REQUIRE(cfg->db_path != NULL && cfg->db_path[0] != '\0');
	REQUIRE(cfg->busy_timeout_ms >= 0 && cfg->busy_timeout_ms <= 600000);
	REQUIRE(cfg->max_batch >= 1 && cfg->max_batch <= 100000);
	REQUIRE(cfg->n_endpoints >= 1);
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		check_endpoint(cfg, &cfg->endpoints[i]);
	check_handlers(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ch_config cfg;
	struct ch_error err = {0};
	char *text = malloc(size + 1);
	int rc;

	REQUIRE(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	ch_config_init(&cfg);
	rc = ch_config_load_string(&cfg, text, &err);
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0) {
		rc = ch_config_finish(&cfg, &err);
		REQUIRE(rc == 0 || rc == -1);
	}
	if (rc == 0)
		check_config(&cfg);
	else
		check_error(&err);
	ch_config_free(&cfg);
	free(text);
	return 0;
}
