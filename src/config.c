/* config.c - see config.h
 *
 * The INI syntax is libinih's, with two of its options turned off so values
 * are taken literally: no inline ";" comments (a secret may contain one) and
 * no indented continuation lines.  Comment lines start with '#' or ';'.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ini.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "units.h"

/* Parse state: the first error wins, inih tells us its line afterwards. */
struct load_ctx {
	struct ch_config *cfg;
	struct ch_error err;
	bool failed;
};

void ch_config_init(struct ch_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = strdup(CH_DEFAULT_LISTEN);
	cfg->max_connections = 1024;
	cfg->request_timeout_ms = 30000;
	cfg->idle_timeout_ms = 60000;
	cfg->drain_timeout_ms = 10000;
	cfg->retry_after_s = 5;
	cfg->metrics = CH_METRICS_LOOPBACK;
	cfg->max_conns_per_source = 64;
	cfg->rate_period_s = 1;
	cfg->max_body = 1024 * 1024;
	cfg->max_header = 16 * 1024;
	cfg->max_events = 5000;
	cfg->max_depth = 64;
	cfg->max_id_length = 1024;
	cfg->db_path = strdup(CH_DEFAULT_DB_PATH);
	cfg->synchronous = CH_SYNC_FULL;
	cfg->busy_timeout_ms = 2000;
	cfg->max_batch = 1024;
	cfg->log_level = CH_LOG_INFO;
	cfg->handlers_dir = strdup(CH_HANDLERS_DIR);
	cfg->default_handlers = true;
	cfg->max_attempts = 5;
	cfg->retry_base_ms = 1000;
	cfg->retry_max_ms = 300000;
	cfg->dispatch_batch = 256;
	cfg->handler_share = CH_HANDLER_SHARE_DEFAULT;
}

static void endpoint_free(struct ch_endpoint *ep)
{
	free(ep->path);
	ch_auth_free(&ep->auth);
	for (size_t i = 0; i < ep->n_allowed_origins; i++)
		free(ep->allowed_origins[i]);
	free(ep->allowed_origins);
	free(ep->allowed_rate);
}

void ch_config_free(struct ch_config *cfg)
{
	free(cfg->listen);
	free(cfg->db_path);
	free(cfg->source);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	ch_tls_free(cfg->tls);
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		endpoint_free(&cfg->endpoints[i]);
	free(cfg->endpoints);
	ch_config_handlers_free(cfg);
	ch_config_actions_free(cfg);
	memset(cfg, 0, sizeof(*cfg));
}

static int replace_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int append_string(char ***list, size_t *n, const char *value)
{
	char **grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (grown == NULL)
		return -1;
	*list = grown;
	if ((grown[*n] = strdup(value)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

static struct ch_endpoint *endpoint_add(struct ch_config *cfg, const char *path)
{
	struct ch_endpoint *grown, *ep;

	grown = realloc(cfg->endpoints, (cfg->n_endpoints + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	cfg->endpoints = grown;
	ep = &grown[cfg->n_endpoints];
	memset(ep, 0, sizeof(*ep));
	ep->auth.mode = CH_AUTH_NONE;
	ep->auth.tolerance_s = 300;
	ep->auth.jwt_clock_skew_s = 60;
	ep->auth.jwt_max_lifetime_s = 600; /* Call Automation tokens live 5 minutes */
	if ((ep->path = strdup(path)) == NULL || (ep->allowed_rate = strdup("*")) == NULL) {
		endpoint_free(ep);
		return NULL;
	}
	cfg->n_endpoints++;
	return ep;
}

const struct ch_endpoint *ch_config_endpoint(const struct ch_config *cfg, const char *path,
                                             size_t path_len)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const char *p = cfg->endpoints[i].path;

		if (strlen(p) == path_len && memcmp(p, path, path_len) == 0)
			return &cfg->endpoints[i];
	}
	return NULL;
}

/* Each setter returns 0, or -1 after describing the problem in ctx->err. */
#define BAD(ctx, ...) ch_error_set(&(ctx)->err, 500, "ConfigError", __VA_ARGS__)

static int set_duration(struct load_ctx *ctx, const char *name, const char *value, long min_ms,
                        long max_ms, long *slot)
{
	long ms;

	if (ch_parse_duration_ms(value, max_ms, &ms) < 0 || ms < min_ms)
		return BAD(ctx,
		           "%s: \"%.64s\" is not a duration between %ld ms and %ld ms (e.g. 30s, "
		           "500ms)",
		           name, value, min_ms, max_ms);
	*slot = ms;
	return 0;
}

static int set_size(struct load_ctx *ctx, const char *name, const char *value, size_t min,
                    size_t max, size_t *slot)
{
	size_t n;

	if (ch_parse_size(value, max, &n) < 0 || n < min)
		return BAD(ctx,
		           "%s: \"%.64s\" is not a size between %zu and %zu bytes (e.g. 64k, 1M)",
		           name, value, min, max);
	*slot = n;
	return 0;
}

static int set_long(struct load_ctx *ctx, const char *name, const char *value, long min, long max,
                    long *slot)
{
	if (ch_parse_long(value, min, max, slot) < 0)
		return BAD(ctx, "%s: \"%.64s\" is not an integer between %ld and %ld", name, value,
		           min, max);
	return 0;
}

/* rate_limit = N/s, N/m (or N/min), or 0 (off). */
static int set_rate(struct load_ctx *ctx, const char *value)
{
	const char *slash = strchr(value, '/');
	char count[24];
	long n;

	if (strcmp(value, "0") == 0) {
		ctx->cfg->rate_limit = 0;
		return 0;
	}
	if (slash == NULL || (size_t)(slash - value) >= sizeof(count) ||
	    (strcmp(slash + 1, "s") != 0 && strcmp(slash + 1, "m") != 0 &&
	     strcmp(slash + 1, "min") != 0))
		return BAD(ctx, "rate_limit: \"%.64s\" is not N/s, N/m or 0 (e.g. 20/s, 600/m)",
		           value);
	memcpy(count, value, (size_t)(slash - value));
	count[slash - value] = '\0';
	if (ch_parse_long(count, 1, 1000000, &n) < 0)
		return BAD(ctx, "rate_limit: \"%.64s\": the count must be 1 to 1000000", value);
	ctx->cfg->rate_limit = n;
	ctx->cfg->rate_period_s = slash[1] == 's' ? 1 : 60;
	return 0;
}

static int server_key(struct load_ctx *ctx, const char *name, const char *value)
{
	struct ch_config *cfg = ctx->cfg;

	if (strcmp(name, "listen") == 0) {
		char host[256], port[16];

		if (ch_split_host_port(value, host, sizeof(host), port, sizeof(port)) < 0)
			return BAD(ctx, "listen: \"%.64s\" is not ADDR:PORT", value);
		return replace_string(&cfg->listen, value);
	}
	if (strcmp(name, "max_connections") == 0)
		return set_long(ctx, name, value, 1, 1000000, &cfg->max_connections);
	if (strcmp(name, "request_timeout") == 0)
		return set_duration(ctx, name, value, 100, 3600000, &cfg->request_timeout_ms);
	if (strcmp(name, "idle_timeout") == 0)
		return set_duration(ctx, name, value, 100, 86400000, &cfg->idle_timeout_ms);
	if (strcmp(name, "drain_timeout") == 0)
		return set_duration(ctx, name, value, 0, 3600000, &cfg->drain_timeout_ms);
	if (strcmp(name, "retry_after") == 0) {
		long ms = 0;

		if (set_duration(ctx, name, value, 1000, 86400000, &ms) < 0)
			return -1;
		cfg->retry_after_s = (ms + 999) / 1000; /* never round a wait down */
		return 0;
	}
	if (strcmp(name, "metrics") == 0) {
		if (strcmp(value, "loopback") == 0)
			cfg->metrics = CH_METRICS_LOOPBACK;
		else if (strcmp(value, "yes") == 0)
			cfg->metrics = CH_METRICS_YES;
		else if (strcmp(value, "no") == 0)
			cfg->metrics = CH_METRICS_NO;
		else
			return BAD(ctx, "metrics: \"%.64s\" is not yes, no or loopback", value);
		return 0;
	}
	if (strcmp(name, "tls_cert") == 0 || strcmp(name, "tls_key") == 0) {
		if (value[0] != '/')
			return BAD(ctx, "%s: \"%.64s\" is not an absolute path", name, value);
		return replace_string(name[4] == 'c' ? &cfg->tls_cert : &cfg->tls_key, value);
	}
	if (strcmp(name, "max_connections_per_source") == 0)
		return set_long(ctx, name, value, 0, 1000000, &cfg->max_conns_per_source);
	if (strcmp(name, "rate_limit") == 0)
		return set_rate(ctx, value);
	if (strcmp(name, "rate_limit_burst") == 0)
		return set_long(ctx, name, value, 1, 1000000, &cfg->rate_burst);
	if (strcmp(name, "limit_loopback") == 0) {
		if (ch_parse_bool(value, &cfg->limit_loopback) < 0)
			return BAD(ctx, "limit_loopback: \"%.64s\" is not yes or no", value);
		return 0;
	}
	return BAD(ctx, "unknown key \"%.64s\" in [server]", name);
}

static int limits_key(struct load_ctx *ctx, const char *name, const char *value)
{
	struct ch_config *cfg = ctx->cfg;

	if (strcmp(name, "max_body") == 0)
		return set_size(ctx, name, value, 1024, (size_t)1 << 30, &cfg->max_body);
	if (strcmp(name, "max_header") == 0)
		return set_size(ctx, name, value, 1024, (size_t)1 << 20, &cfg->max_header);
	if (strcmp(name, "max_events") == 0) {
		long n;

		if (set_long(ctx, name, value, 1, 1000000, &n) < 0)
			return -1;
		cfg->max_events = (size_t)n;
		return 0;
	}
	if (strcmp(name, "max_depth") == 0)
		return set_long(ctx, name, value, 4, 10000, &cfg->max_depth);
	if (strcmp(name, "max_id_length") == 0)
		return set_size(ctx, name, value, 16, 65536, &cfg->max_id_length);
	return BAD(ctx, "unknown key \"%.64s\" in [limits]", name);
}

static int store_key(struct load_ctx *ctx, const char *name, const char *value)
{
	struct ch_config *cfg = ctx->cfg;

	if (strcmp(name, "path") == 0) {
		if (value[0] == '\0')
			return BAD(ctx, "path: must not be empty");
		return replace_string(&cfg->db_path, value);
	}
	if (strcmp(name, "synchronous") == 0) {
		if (strcmp(value, "full") == 0)
			cfg->synchronous = CH_SYNC_FULL;
		else if (strcmp(value, "normal") == 0)
			cfg->synchronous = CH_SYNC_NORMAL;
		else if (strcmp(value, "off") == 0)
			cfg->synchronous = CH_SYNC_OFF;
		else
			return BAD(ctx, "synchronous: \"%.64s\" is not full, normal or off", value);
		return 0;
	}
	if (strcmp(name, "busy_timeout") == 0)
		return set_duration(ctx, name, value, 0, 600000, &cfg->busy_timeout_ms);
	if (strcmp(name, "max_batch") == 0)
		return set_long(ctx, name, value, 1, 100000, &cfg->max_batch);
	return BAD(ctx, "unknown key \"%.64s\" in [store]", name);
}

static int log_key(struct load_ctx *ctx, const char *name, const char *value)
{
	if (strcmp(name, "level") == 0) {
		if (ch_log_level_parse(value, &ctx->cfg->log_level) < 0)
			return BAD(ctx, "level: \"%.64s\" is not error, warn, info or debug",
			           value);
		return 0;
	}
	return BAD(ctx, "unknown key \"%.64s\" in [log]", name);
}

static int endpoint_key(struct load_ctx *ctx, struct ch_endpoint *ep, const char *name,
                        const char *value)
{
	if (strcmp(name, "auth") == 0) {
		if (ch_auth_mode_parse(value, &ep->auth.mode) < 0)
			return BAD(ctx, "auth: \"%.64s\" is not none, secret, hmac or jwt", value);
		return 0;
	}
	if (strcmp(name, "secret") == 0) {
		/* Keys are decoded per mode, so "auth" must come first. */
		if (ep->auth.mode == CH_AUTH_NONE)
			return BAD(ctx,
			           "secret: set auth = secret or auth = hmac before any secret");
		if (ch_auth_add_secret(&ep->auth, value, &ctx->err) < 0)
			return -1;
		return 0;
	}
	if (strcmp(name, "query_param") == 0 || strcmp(name, "header") == 0) {
		if (value[0] == '\0' || strpbrk(value, " \t:=&?#") != NULL)
			return BAD(ctx, "%s: \"%.64s\" is not a usable name", name, value);
		return replace_string(name[0] == 'q' ? &ep->auth.query_param : &ep->auth.header,
		                      value);
	}
	if (strcmp(name, "tolerance") == 0) {
		long ms = 0;

		if (set_duration(ctx, name, value, 1000, 86400000, &ms) < 0)
			return -1;
		ep->auth.tolerance_s = (ms + 999) / 1000;
		return 0;
	}
	if (strcmp(name, "jwks_file") == 0) {
		if (value[0] != '/')
			return BAD(ctx, "jwks_file: \"%.64s\" is not an absolute path", value);
		return replace_string(&ep->auth.jwks_file, value);
	}
	if (strcmp(name, "jwt_issuer") == 0 || strcmp(name, "jwt_audience") == 0) {
		char **slot = name[4] == 'i' ? &ep->auth.jwt_issuer : &ep->auth.jwt_audience;

		if (value[0] == '\0')
			return BAD(ctx, "%s: must not be empty", name);
		return replace_string(slot, value);
	}
	if (strcmp(name, "jwt_clock_skew") == 0 || strcmp(name, "jwt_max_lifetime") == 0) {
		bool skew = name[4] == 'c';
		long min_ms = skew ? 0 : 1000, max_ms = skew ? 300000 : 86400000, ms = 0;

		if (set_duration(ctx, name, value, min_ms, max_ms, &ms) < 0)
			return -1;
		/* Whole seconds, as in the tokens; never round a bound down to 0. */
		*(skew ? &ep->auth.jwt_clock_skew_s : &ep->auth.jwt_max_lifetime_s) =
		    (ms + 999) / 1000;
		return 0;
	}
	if (strcmp(name, "allowed_origin") == 0)
		return append_string(&ep->allowed_origins, &ep->n_allowed_origins, value);
	if (strcmp(name, "allowed_rate") == 0) {
		long rate;

		/* CloudEvents webhook spec: requests per minute, or "*" */
		if (strcmp(value, "*") != 0 && ch_parse_long(value, 1, 1000000000, &rate) < 0)
			return BAD(ctx,
			           "allowed_rate: \"%.64s\" is not a number of requests per "
			           "minute or *",
			           value);
		return replace_string(&ep->allowed_rate, value);
	}
	return BAD(ctx, "unknown key \"%.64s\" in [endpoint %s]", name, ep->path);
}

static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	int rc;

	if (ctx->failed)
		return 1; /* keep the first error; inih still reports its line */
	if (strcmp(section, "server") == 0)
		rc = server_key(ctx, name, value);
	else if (strcmp(section, "limits") == 0)
		rc = limits_key(ctx, name, value);
	else if (strcmp(section, "store") == 0)
		rc = store_key(ctx, name, value);
	else if (strcmp(section, "log") == 0)
		rc = log_key(ctx, name, value);
	else if (strncmp(section, "endpoint ", 9) == 0) {
		const char *path = section + 9;
		struct ch_endpoint *ep;

		while (*path == ' ')
			path++;
		if (path[0] != '/' || strpbrk(path, "?# \t") != NULL)
			rc = BAD(ctx,
			         "[%.64s]: the endpoint path must start with '/' and hold no "
			         "query or spaces",
			         section);
		else if ((ep = (struct ch_endpoint *)ch_config_endpoint(ctx->cfg, path,
		                                                        strlen(path))) == NULL &&
		         (ep = endpoint_add(ctx->cfg, path)) == NULL)
			rc = BAD(ctx, "out of memory");
		else
			rc = endpoint_key(ctx, ep, name, value);
	} else if (strcmp(section, "handlers") == 0 || strncmp(section, "handler ", 8) == 0)
		rc = ch_config_handlers_key(ctx->cfg, section, name, value, &ctx->err);
	else if (strcmp(section, "actions") == 0)
		rc = ch_config_actions_key(ctx->cfg, name, value, &ctx->err);
	else if (section[0] == '\0')
		rc = BAD(ctx, "\"%.64s\" is outside any [section]", name);
	else
		rc = BAD(ctx, "unknown section [%.64s]", section);
	if (rc < 0) {
		ctx->failed = true;
		return 0;
	}
	return 1;
}

static int finish_load(struct load_ctx *ctx, int rc, const char *where, struct ch_error *err)
{
	if (rc == 0)
		return 0;
	if (rc == -1)
		ch_error_set(err, 500, "ConfigError", "%s: cannot open: %m", where);
	else if (rc == -2)
		ch_error_set(err, 500, "ConfigError", "%s: out of memory", where);
	else if (ctx->failed)
		ch_error_set(err, 500, "ConfigError", "%s:%d: %s", where, rc, ctx->err.message);
	else
		ch_error_set(err, 500, "ConfigError",
		             "%s:%d: syntax error (expected [section], key = value or a comment; "
		             "lines are limited to %d characters)",
		             where, rc, ini_max_line - 1);
	return -1; /* ch_error_set keeps the message one printable line */
}

static void set_ini_options(void)
{
	ini_allow_inline_comments = false;
	ini_allow_multiline = false;
}

static bool known_section(const char *name)
{
	return strcmp(name, "server") == 0 || strcmp(name, "limits") == 0 ||
	       strcmp(name, "store") == 0 || strcmp(name, "log") == 0 ||
	       strncmp(name, "endpoint ", 9) == 0 || strcmp(name, "handlers") == 0 ||
	       strncmp(name, "handler ", 8) == 0 || strcmp(name, "actions") == 0;
}

/* What inih does not tell us, checked line by line before it parses:
 * - it splits a line longer than its buffer and reads the rest as a line of
 *   its own, so the tail of a long comment could set a key: refuse long lines;
 * - it calls back only for key = value lines, so a bare "[endpoint /x]" (all
 *   keys at their defaults) would vanish and a misspelt empty "[Server]" would
 *   pass: check every section header, and declare endpoints from theirs.
 * Returns the 1-based line of the first problem (ctx->err says what), or 0. */
static int prescan(struct load_ctx *ctx, const char *text)
{
	const size_t max_len = (size_t)ini_max_line - 2; /* inih keeps room for "\n\0" */
	int line = 1;

	for (const char *p = text; *p != '\0'; line++) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *next = eol ? eol + 1 : p + len;
		char section[256];

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > max_len) {
			BAD(ctx, "line is longer than %zu characters", max_len);
			return line;
		}
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && p[0] == '[') {
			if (len < 3 || p[len - 1] != ']') {
				BAD(ctx, "a section header is written [name]");
				return line;
			}
			memcpy(section, p + 1, len - 2);
			section[len - 2] = '\0';
			if (!known_section(section)) {
				BAD(ctx, "unknown section [%.64s]", section);
				return line;
			}
			/* An endpoint is created by its first key; "auth" is harmless to
			 * repeat with the default it already has. */
			if (strncmp(section, "endpoint ", 9) == 0 &&
			    on_ini_pair(ctx, section, "auth", "none") == 0)
				return line;
			/* A bare [actions] still asks for actions (and so for a
			 * connection string). */
			if (strcmp(section, "actions") == 0)
				ctx->cfg->actions.configured = true;
			/* A bare [handler NAME] loads that handler with its defaults. */
			if (strncmp(section, "handler ", 8) == 0 &&
			    ch_config_handlers_key(ctx->cfg, section, NULL, NULL, &ctx->err) < 0) {
				ctx->failed = true;
				return line;
			}
		}
		p = next;
	}
	return 0;
}

static int load_text(struct ch_config *cfg, const char *text, const char *where,
                     struct ch_error *err)
{
	struct load_ctx ctx = {.cfg = cfg};
	int rc;

	set_ini_options();
	rc = prescan(&ctx, text);
	if (rc != 0)
		ctx.failed = true;
	if (rc == 0)
		rc = ini_parse_string(text, on_ini_pair, &ctx);
	return finish_load(&ctx, rc, where, err);
}

int ch_config_load(struct ch_config *cfg, const char *path, struct ch_error *err)
{
	enum { MAX_CONFIG = 1 << 20 };
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;
	int rc;

	if (f == NULL)
		return ch_error_set(err, 500, "ConfigError", "%s: cannot open: %m", path);
	text = malloc(MAX_CONFIG + 1);
	if (text == NULL) {
		fclose(f);
		return ch_error_set(err, 500, "ConfigError", "out of memory");
	}
	n = fread(text, 1, MAX_CONFIG + 1, f);
	if (ferror(f) || n > MAX_CONFIG || memchr(text, '\0', n) != NULL) {
		rc = ch_error_set(err, 500, "ConfigError", "%s: %s", path,
		                  ferror(f)        ? "read error"
		                  : n > MAX_CONFIG ? "larger than 1 MiB"
		                                   : "holds a NUL byte: not a text file");
	} else {
		text[n] = '\0';
		rc = replace_string(&cfg->source, path) < 0
		         ? ch_error_set(err, 500, "ConfigError", "out of memory")
		         : load_text(cfg, text, path, err);
	}
	free(text);
	fclose(f);
	return rc;
}

int ch_config_load_string(struct ch_config *cfg, const char *text, struct ch_error *err)
{
	return load_text(cfg, text, "(string)", err);
}

int ch_split_host_port(const char *listen, char *host, size_t host_size, char *port,
                       size_t port_size)
{
	const char *colon, *h = listen;
	size_t hlen;
	long p;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			return -1;
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= host_size || ch_parse_long(colon + 1, 0, 65535, &p) < 0 ||
	    strlen(colon + 1) >= port_size)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

int ch_config_override(struct ch_config *cfg, const char *listen, const char *db_path,
                       struct ch_error *err)
{
	char host[256], port[16];

	if (listen != NULL) {
		if (ch_split_host_port(listen, host, sizeof(host), port, sizeof(port)) < 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "--listen: \"%.64s\" is not ADDR:PORT", listen);
		if (replace_string(&cfg->listen, listen) < 0)
			return ch_error_set(err, 500, "ConfigError", "out of memory");
	}
	if (db_path != NULL) {
		if (db_path[0] == '\0')
			return ch_error_set(err, 500, "ConfigError", "--db: must not be empty");
		if (replace_string(&cfg->db_path, db_path) < 0)
			return ch_error_set(err, 500, "ConfigError", "out of memory");
	}
	return 0;
}

/* Does every address the listen host resolves to sit on loopback? */
static bool listen_is_loopback(const char *listen)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res, *ai;
	bool loopback = true;

	if (ch_split_host_port(listen, host, sizeof(host), port, sizeof(port)) < 0)
		return false;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const void *)ai->ai_addr;

			loopback &= (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;

			loopback &= IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		} else {
			loopback = false;
		}
	}
	freeaddrinfo(res);
	return loopback;
}

int ch_config_finish(struct ch_config *cfg, struct ch_error *err)
{
	if (cfg->n_endpoints == 0 && endpoint_add(cfg, CH_DEFAULT_PATH) == NULL)
		return ch_error_set(err, 500, "ConfigError", "out of memory");
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct ch_endpoint *ep = &cfg->endpoints[i];
		struct ch_error aerr;

		if (ep->auth.mode == CH_AUTH_NONE && !listen_is_loopback(cfg->listen))
			return ch_error_set(
			    err, 500, "ConfigError",
			    "[endpoint %s]: auth = none is only allowed when listening "
			    "on loopback, not on %s",
			    ep->path, cfg->listen);
		if (ch_auth_prepare(&ep->auth, &aerr) < 0) /* jwt: reads the key set */
			return ch_error_set(err, 500, "ConfigError", "[endpoint %s]: %s", ep->path,
			                    aerr.message);
		if (ep->n_allowed_origins == 0 &&
		    append_string(&ep->allowed_origins, &ep->n_allowed_origins, "*") < 0)
			return ch_error_set(err, 500, "ConfigError", "out of memory");
	}
	if (ch_config_actions_finish(cfg, err) < 0)
		return -1;
	if (cfg->max_header < 1024 || cfg->max_body < 1024)
		return ch_error_set(err, 500, "ConfigError", "limits are too small");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		return ch_error_set(err, 500, "ConfigError",
		                    "[server] %s without %s: set both for HTTPS, or neither",
		                    cfg->tls_cert != NULL ? "tls_cert" : "tls_key",
		                    cfg->tls_cert != NULL ? "tls_key" : "tls_cert");
	/* Read now, so that -t, start-up and a reload all fail closed on a bad file. */
	if (cfg->tls_cert != NULL && cfg->tls == NULL) {
		struct ch_error terr;

		if (ch_tls_new(cfg->tls_cert, cfg->tls_key, &cfg->tls, &terr) < 0)
			return ch_error_set(err, 500, "ConfigError", "[server] %s", terr.message);
	}
	return 0;
}
