/* plugin.h - the plugin host: load handler modules and describe them.
 *
 * A ch_plugin is one configured handler instance ([handler NAME], or one of
 * the built-in defaults): the module it was loaded from, its descriptor, its
 * event-type patterns, its option values and the state init() returned.
 * Loading checks everything a typo could get wrong (missing file, missing
 * entry symbol, ABI version, unknown or ill-typed option, init failure) and
 * fails with one line naming the handler and the module.
 */
#ifndef CH_PLUGIN_H
#define CH_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <callhookd/handler.h>

#include "config.h"
#include "error.h"

struct sqlite3;

/* The table of host functions every module receives (host.c). */
extern const struct ch_host ch_host_table;

/* The host's side of one instance: what struct ch_context is. */
struct ch_context {
	char *name;                      /* instance name: [handler NAME] (owned) */
	const struct ch_option *options; /* the module's declared options, or NULL */
	char **values;                   /* one per declared option, NULL when unset (owned) */
	size_t n_values;
	struct sqlite3 *db; /* its connection, the same from init to fini */
	/* Set by the dispatcher around handle(): db() then opens the write
	 * transaction (if not yet open) and a savepoint for this event. */
	bool dispatching, in_txn, in_savepoint;
	int db_error;    /* SQLite code when db() could not begin */
	char error[512]; /* set_error(): last message */
};

#define CH_DISPATCH_STMTS 10

struct ch_plugin {
	struct ch_context ctx;
	char *module_path;             /* the file it was loaded from (owned) */
	void *dl;                      /* dlopen handle */
	const struct ch_handler *desc; /* the module's static descriptor */
	char **patterns;               /* event-type patterns (owned), NULL-terminated */
	void *state;                   /* what init() returned */
	bool initialised;
	bool owns_db; /* ctx.db was opened for it (closed at unload) */
	/* dispatch.c's prepared statements on ctx.db (finalized at unload), and
	 * whether it has looked for suspects since this instance was loaded. */
	struct sqlite3_stmt *dispatch_stmts[CH_DISPATCH_STMTS];
	bool suspects_checked;
};

/* Does an event type match one pattern: exact, "*" or "prefix*"? */
bool ch_pattern_match(const char *pattern, const char *type);
/* Does it match any of the plugin's patterns? */
bool ch_plugin_matches(const struct ch_plugin *p, const char *type);

/* Resolve a module name to a file: a name with a '/' is a path; otherwise
 * DIR/NAME.so. */
int ch_plugin_resolve(const char *dir, const char *module, char *out, size_t size,
                      struct ch_error *err);

/* Load and initialise one instance.  db is the connection the instance will
 * use from init to fini (borrowed); NULL only checks (dlopen, entry, ABI,
 * options) without calling init.  On failure returns -1 with one readable
 * line in err ("handler \"x\" (/path/x.so): ...") and leaves nothing loaded. */
int ch_plugin_load(const struct ch_handler_conf *conf, const char *module_path, struct sqlite3 *db,
                   struct ch_plugin **out, struct ch_error *err);
/* fini(), dlclose, free.  NULL is fine. */
void ch_plugin_unload(struct ch_plugin *p);

/* Every instance the configuration asks for, in order: the built-in
 * history handlers unless [handlers] defaults = no, then each [handler NAME]
 * (a section named like a default configures that one instead of adding one). */
struct ch_plugin_set {
	struct ch_plugin **items;
	size_t n;
};
/* Each instance gets a connection of its own to cfg->db_path (synchronous=
 * NORMAL: its writes reach the disk with the journal's next fsync, and a
 * process crash loses nothing committed).  check_only: no connection, no
 * init (callhookd -t). */
int ch_plugins_load(const struct ch_config *cfg, bool check_only, struct ch_plugin_set *out,
                    struct ch_error *err);
/* Only the instance called name (callhookctl replay), on the caller's db. */
int ch_plugins_load_one(const struct ch_config *cfg, const char *name, struct sqlite3 *db,
                        struct ch_plugin **out, struct ch_error *err);
void ch_plugins_unload(struct ch_plugin_set *set);

#endif
