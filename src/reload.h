/* reload.h - building the configuration from its sources, at start-up and
 * again on SIGHUP, and what a reload may change.
 *
 * A reload reads the file again and applies the same command-line overrides
 * as at start-up, into a fresh struct ch_config: the running one is never
 * touched, so a file that does not parse costs nothing but a log line.
 */
#ifndef CH_RELOAD_H
#define CH_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "log.h"

struct ch_config_source {
	const char *path;         /* -c FILE; NULL = built-in defaults only */
	const char *listen;       /* --listen, or the socket systemd passed; NULL = the file's */
	const char *db_path;      /* --db */
	const char *handlers_dir; /* --handlers-dir */
	bool log_level_set;       /* --log-level given */
	enum ch_log_level log_level;
	/* Set when the daemon detaches (and so changes to "/"): relative paths
	 * (the file, the journal, the handlers directory) are taken from this
	 * directory, the one callhookd was started in, at every load. */
	const char *base_dir;
};

/* Load, override and finish a configuration into cfg (initialised here).
 * On failure cfg is left empty (nothing to free) and err holds one line. */
int ch_config_build(const struct ch_config_source *src, struct ch_config *cfg,
                    struct ch_error *err);

/* The settings that cannot change while the daemon runs ([server] listen,
 * HTTPS on or off, and every [store] key: the socket and the journal's
 * connection are made once)
 * and differ between running and next, written into out as "listen, [store]
 * path".  Returns how many there are (0: the reload may go ahead). */
size_t ch_config_restart_keys(const struct ch_config *running, const struct ch_config *next,
                              char *out, size_t size);

/* Do the two ask for the same handler set: the [handlers] keys and every
 * [handler NAME] section, keys and values in file order?  Then a reload
 * keeps the running modules and only asks them to reopen their files. */
bool ch_config_same_handlers(const struct ch_config *a, const struct ch_config *b);

#endif
