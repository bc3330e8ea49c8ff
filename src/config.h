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

#include "acs_sign.h"
#include "auth.h"
#include "error.h"
#include "log.h"
#include "store.h"
#include "tls.h"

#define CH_DEFAULT_LISTEN        "127.0.0.1:8080"
#define CH_DEFAULT_DB_PATH       "var/callhookd.db"
#define CH_DEFAULT_PATH          "/events"
#define CH_HANDLER_SHARE_DEFAULT 8 /* [handlers] share */

struct ch_endpoint {
	char *path; /* exact request path, e.g. "/events" */
	struct ch_auth auth;
	char **allowed_origins; /* CloudEvents webhook handshake; "*" = any */
	size_t n_allowed_origins;
	char *allowed_rate; /* WebHook-Allowed-Rate answer, "*" by default */
};

/* One [handler NAME] section: host keys, and the module's own keys, which
 * the plugin host checks against the module's option table when it loads it. */
struct ch_handler_conf {
	char *name;   /* instance name */
	char *module; /* "module" key: a name looked up in handlers_dir, or a path; NULL = name */
	char *events; /* "events" key: space-separated patterns; NULL = the module's own */
	char **keys, **values; /* every other key, in file order */
	size_t n_options;
};

/* [actions] (config_actions.c): where handler actions go (actions.h). */
struct ch_actions_conf {
	bool configured;                 /* the file has an [actions] section */
	char *connection_string;         /* as written: holds the key, never logged */
	char *connection_string_file;    /* absolute path of a file holding one */
	struct ch_acs_credentials creds; /* parsed from either by ch_config_finish */
	char *api_version;               /* NULL: CH_ACTIONS_DEFAULT_API_VERSION */
	long timeout_ms;                 /* per request */
	long max_attempts;               /* sends of one action before it is failed */
};
#define CH_ACTIONS_DEFAULT_API_VERSION "2021-06-15-preview"

struct ch_config {
	/* [server] */
	char *listen; /* "ADDR:PORT"; port 0 picks a free one */
	long max_connections;
	long request_timeout_ms; /* first byte of a request to its last */
	long idle_timeout_ms;    /* keep-alive connection with no request */
	long drain_timeout_ms;   /* SIGTERM: finish in-flight work within this */
	long retry_after_s;      /* Retry-After on 503 and 429 */
	enum ch_metrics_access {
		CH_METRICS_LOOPBACK, /* GET /metrics answered to loopback peers only */
		CH_METRICS_YES,
		CH_METRICS_NO,
	} metrics;
	char *tls_cert, *tls_key;  /* PEM files: HTTPS when set (both or neither) */
	struct ch_tls *tls;        /* loaded from them by ch_config_finish */
	long max_conns_per_source; /* per client address; 0: no limit */
	long rate_limit;           /* requests per rate_period_s per address; 0: off */
	long rate_period_s;        /* 1 or 60 */
	long rate_burst;           /* bucket size; 0: rate_limit */
	bool limit_loopback;       /* the per-address limits apply to loopback too */
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
	/* [handlers] */
	char *handlers_dir;    /* where module names are looked up */
	bool default_handlers; /* load the built-in history handlers */
	long max_attempts;     /* a delivery is dead after this many attempts */
	long retry_base_ms;    /* first retry backoff; doubles per attempt */
	long retry_max_ms;     /* backoff cap */
	long dispatch_batch;   /* deliveries per handler transaction */
	long handler_share;    /* handlers take at most 1/share of the time intake waits for them */
	/* [handler NAME] sections, in file order */
	struct ch_handler_conf *handlers;
	size_t n_handlers;
	struct ch_actions_conf actions;
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
/* --handlers-dir: overrides [handlers] dir. */
int ch_config_set_handlers_dir(struct ch_config *cfg, const char *dir, struct ch_error *err);
/* The [handler NAME] section called name, or NULL. */
const struct ch_handler_conf *ch_config_handler(const struct ch_config *cfg, const char *name);
/* config_handlers.c: [handlers] and [handler NAME] keys (config.c routes them). */
int ch_config_handlers_key(struct ch_config *cfg, const char *section, const char *name,
                           const char *value, struct ch_error *err);
void ch_config_handlers_free(struct ch_config *cfg);
/* config_actions.c: [actions] keys; the connection string read and parsed at finish. */
int ch_config_actions_key(struct ch_config *cfg, const char *name, const char *value,
                          struct ch_error *err);
int ch_config_actions_finish(struct ch_config *cfg, struct ch_error *err);
void ch_config_actions_free(struct ch_config *cfg);

/* Final checks after loading and overriding; adds the default endpoint if none. */
int ch_config_finish(struct ch_config *cfg, struct ch_error *err);
void ch_config_free(struct ch_config *cfg);

const struct ch_endpoint *ch_config_endpoint(const struct ch_config *cfg, const char *path,
                                             size_t path_len);

/* Split "ADDR:PORT" / "[v6]:PORT" into host and port; -1 when malformed. */
int ch_split_host_port(const char *listen, char *host, size_t host_size, char *port,
                       size_t port_size);

#endif
