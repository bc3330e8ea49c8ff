/* config.h - the daemon's configuration: defaults, the INI file, overrides.
 *
 * Every key is documented in man/callhookd.conf.5; keep the two in step.
 * A ch_config owns all its strings and endpoint auth material; load into a
 * fresh one and swap, so a bad file never damages a running configuration.
 */
#ifndef CH_CONFIG_H
#define CH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "error.h"
#include "log.h"
#include "store.h"

#define CH_DEFAULT_LISTEN  "127.0.0.1:8080"
#define CH_DEFAULT_DB_PATH "var/callhookd.db"
#define CH_DEFAULT_PATH    "/events"

struct ch_endpoint {
	char *path; /* exact request path, e.g. "/events" */
	struct ch_auth auth;
	char **allowed_origins; /* CloudEvents webhook handshake; "*" = any */
	size_t n_allowed_origins;
	char *allowed_rate; /* WebHook-Allowed-Rate answer, "*" by default */
};

struct ch_config {
	/* [server] */
	char *listen; /* "ADDR:PORT"; port 0 picks a free one */
	long max_connections;
	long request_timeout_ms; /* first byte of a request to its last */
	long idle_timeout_ms;    /* keep-alive connection with no request */
	long drain_timeout_ms;   /* SIGTERM: finish in-flight work within this */
	long retry_after_s;      /* Retry-After on 503 and 429 */
	/* [limits] */
	size_t max_body;
	size_t max_header;
	size_t max_events;
	long max_depth;
	size_t max_id_length;
	/* [store] */
	char *db_path;
	enum ch_store_sync synchronous;
	long busy_timeout_ms;
	long max_batch; /* requests per group-commit transaction */
	/* [log] */
	enum ch_log_level log_level;
	/* [endpoint PATH] sections; one default "/events" with auth none when none given */
	struct ch_endpoint *endpoints;
	size_t n_endpoints;
	char *source; /* the file it came from, or NULL for built-in defaults */
};

void ch_config_init(struct ch_config *cfg); /* built-in defaults, no endpoints yet */
/* Read an INI file on top of the defaults; errors name "FILE:LINE: ...". */
int ch_config_load(struct ch_config *cfg, const char *path, struct ch_error *err);
/* Same, from a string (tests). */
int ch_config_load_string(struct ch_config *cfg, const char *text, struct ch_error *err);
/* Apply command-line overrides (NULL = keep). */
int ch_config_override(struct ch_config *cfg, const char *listen, const char *db_path,
                       struct ch_error *err);
/* Final checks after loading and overriding; adds the default endpoint if none. */
int ch_config_finish(struct ch_config *cfg, struct ch_error *err);
void ch_config_free(struct ch_config *cfg);

const struct ch_endpoint *ch_config_endpoint(const struct ch_config *cfg, const char *path,
                                             size_t path_len);

/* Split "ADDR:PORT" / "[v6]:PORT" into host and port; -1 when malformed. */
int ch_split_host_port(const char *listen, char *host, size_t host_size, char *port,
                       size_t port_size);

#endif
