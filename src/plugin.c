/* plugin.c - see plugin.h
 *
 * Refuse early and say exactly why: a handler that silently fails to load
 * would drop every event it should have derived history from, so anything
 * wrong (file, symbol, ABI version, option, init) stops start-up with one
 * line naming the handler and the module file.
 */
#include "plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "units.h"

/* With no [handler] sections these run: history is the product's purpose. */
static const char *const default_handlers[] = {"callstate", "participants", "dtmf",
                                               "media",     "invite",       NULL};

#define FAIL(err, conf, path, ...) plugin_fail(err, (conf)->name, path, __VA_ARGS__)

static int plugin_fail(struct ch_error *err, const char *name, const char *path, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static int plugin_fail(struct ch_error *err, const char *name, const char *path, const char *fmt,
                       ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ch_error_set(err, 500, "HandlerLoadFailed", "handler \"%s\" (%s): %s", name, path,
	                    why);
}

bool ch_pattern_match(const char *pattern, const char *type)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, type, n - 1) == 0;
	return strcmp(pattern, type) == 0;
}

bool ch_plugin_matches(const struct ch_plugin *p, const char *type)
{
	for (char **pat = p->patterns; *pat != NULL; pat++) {
		if (ch_pattern_match(*pat, type))
			return true;
	}
	return false;
}

int ch_plugin_resolve(const char *dir, const char *module, char *out, size_t size,
                      struct ch_error *err)
{
	int n;

	if (strchr(module, '/') != NULL)
		n = snprintf(out, size, "%s", module);
	else
		n = snprintf(out, size, "%s/%s.so", dir, module);
	if (n < 0 || (size_t)n >= size)
		return ch_error_set(err, 500, "HandlerLoadFailed", "module path is too long: %.64s",
		                    module);
	return 0;
}

/* A pattern is "*", an exact type, or a prefix ending in one '*'. */
static bool valid_pattern(const char *p)
{
	const char *star = strchr(p, '*');

	return p[0] != '\0' && (star == NULL || star[1] == '\0');
}

static int add_pattern(struct ch_plugin *p, size_t *n, const char *text, size_t len,
                       struct ch_error *err)
{
	char **grown = realloc(p->patterns, (*n + 2) * sizeof(char *));

	if (grown == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	p->patterns = grown;
	if ((grown[*n] = strndup(text, len)) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	grown[++*n] = NULL;
	if (!valid_pattern(grown[*n - 1]))
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "event pattern \"%.64s\" is not a type, \"*\" or \"Prefix.*\"",
		                   grown[*n - 1]);
	return 0;
}

/* The config's events key (space- or comma-separated), else the module's own. */
static int set_patterns(struct ch_plugin *p, const char *events, struct ch_error *err)
{
	size_t n = 0;

	if ((p->patterns = calloc(1, sizeof(char *))) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	if (events != NULL) {
		for (const char *s = events; *(s += strspn(s, " \t,")) != '\0';) {
			size_t len = strcspn(s, " \t,");

			if (add_pattern(p, &n, s, len, err) < 0)
				return -1;
			s += len;
		}
	} else {
		for (const char *const *t = p->desc->event_types; t != NULL && *t != NULL; t++) {
			if (add_pattern(p, &n, *t, strlen(*t), err) < 0)
				return -1;
		}
	}
	if (n == 0)
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "subscribes to no event types (set events = ...)");
	return 0;
}

static int check_value(const struct ch_option *o, const char *value)
{
	long n;
	bool b;

	switch (o->type) {
	case CH_OPT_INT:
		return ch_parse_long(value, -0x7fffffffL, 0x7fffffffL, &n);
	case CH_OPT_BOOL:
		return ch_parse_bool(value, &b);
	case CH_OPT_DURATION:
		return ch_parse_duration_ms(value, 0x7fffffffL, &n);
	case CH_OPT_STRING:
	default:
		return 0;
	}
}

static const char *const type_names[] = {
    [CH_OPT_STRING] = "a string",
    [CH_OPT_INT] = "an integer",
    [CH_OPT_BOOL] = "yes or no",
    [CH_OPT_DURATION] = "a duration (e.g. 500ms, 30s, 2m)",
};

/* Match the section's keys against the module's option table. */
static int set_options(struct ch_plugin *p, const struct ch_handler_conf *conf,
                       struct ch_error *err)
{
	const struct ch_option *opts = p->desc->options;
	size_t n = 0;

	while (opts != NULL && opts[n].key != NULL)
		n++;
	p->ctx.options = opts;
	p->ctx.n_values = n;
	if (n > 0 && (p->ctx.values = calloc(n, sizeof(char *))) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	for (size_t k = 0; conf != NULL && k < conf->n_options; k++) {
		size_t i = 0;

		while (i < n && strcmp(opts[i].key, conf->keys[k]) != 0)
			i++;
		if (i == n)
			return plugin_fail(err, p->ctx.name, p->module_path,
			                   "unknown option \"%.64s\"", conf->keys[k]);
		if (check_value(&opts[i], conf->values[k]) < 0)
			return plugin_fail(
			    err, p->ctx.name, p->module_path, "%s: \"%.64s\" is not %s",
			    opts[i].key, conf->values[k],
			    type_names[opts[i].type <= CH_OPT_DURATION ? opts[i].type : 0]);
		if ((p->ctx.values[i] = strdup(conf->values[k])) == NULL)
			return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (opts[i].required && p->ctx.values[i] == NULL && opts[i].default_value == NULL)
			return plugin_fail(err, p->ctx.name, p->module_path,
			                   "option \"%s\" is required (%s)", opts[i].key,
			                   opts[i].help != NULL ? opts[i].help : "no default");
	}
	return 0;
}

/* dlopen, find the entry, negotiate the version. */
static int open_module(struct ch_plugin *p, struct ch_error *err)
{
	ch_handler_entry_fn entry;
	const struct ch_handler *d;
	struct stat st;

	if (stat(p->module_path, &st) < 0)
		return plugin_fail(err, p->ctx.name, p->module_path, "no such module file");
	p->dl = dlopen(p->module_path, RTLD_NOW | RTLD_LOCAL);
	if (p->dl == NULL)
		return plugin_fail(err, p->ctx.name, p->module_path, "cannot load: %s", dlerror());
	*(void **)&entry = dlsym(p->dl, CH_HANDLER_ENTRY_SYMBOL);
	if (entry == NULL)
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "not a callhookd handler: no %s() symbol",
		                   CH_HANDLER_ENTRY_SYMBOL);
	d = entry(CH_ABI_MAJOR, CH_ABI_MINOR);
	if (d == NULL)
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "the module refused host ABI %d.%d", CH_ABI_MAJOR, CH_ABI_MINOR);
	if (d->abi_major != CH_ABI_MAJOR || d->abi_minor > CH_ABI_MINOR)
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "built for handler ABI %u.%u, this callhookd has ABI %d.%d",
		                   d->abi_major, d->abi_minor, CH_ABI_MAJOR, CH_ABI_MINOR);
	if (d->size < offsetof(struct ch_handler, reserved) || d->handle == NULL || d->name == NULL)
		return plugin_fail(err, p->ctx.name, p->module_path,
		                   "malformed descriptor (size %u, handle %s)", d->size,
		                   d->handle != NULL ? "set" : "missing");
	p->desc = d;
	return 0;
}

int ch_plugin_load(const struct ch_handler_conf *conf, const char *module_path, struct sqlite3 *db,
                   struct ch_plugin **out, struct ch_error *err)
{
	struct ch_plugin *p = calloc(1, sizeof(*p));
	char *resolved = realpath(module_path, NULL); /* what the handlers table shows */

	*out = NULL;
	if (p == NULL || (p->ctx.name = strdup(conf->name)) == NULL ||
	    (p->module_path = resolved ? resolved : strdup(module_path)) == NULL) {
		if (p == NULL || p->ctx.name == NULL)
			free(resolved);
		ch_plugin_unload(p);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	p->ctx.db = db;
	if (open_module(p, err) < 0 || set_patterns(p, conf->events, err) < 0 ||
	    set_options(p, conf, err) < 0) {
		ch_plugin_unload(p);
		return -1;
	}
	if (db != NULL && p->desc->init != NULL) {
		p->ctx.error[0] = '\0';
		if (p->desc->init(&ch_host_table, &p->ctx, &p->state) != 0) {
			plugin_fail(err, p->ctx.name, p->module_path, "init failed: %s",
			            p->ctx.error[0] != '\0' ? p->ctx.error : "(no reason given)");
			ch_plugin_unload(p);
			return -1;
		}
	}
	p->initialised = db != NULL;
	*out = p;
	return 0;
}

void ch_plugin_unload(struct ch_plugin *p)
{
	if (p == NULL)
		return;
	if (p->initialised && p->desc->fini != NULL)
		p->desc->fini(p->state);
	if (p->dl != NULL)
		dlclose(p->dl);
	for (char **pat = p->patterns; pat != NULL && *pat != NULL; pat++)
		free(*pat);
	free(p->patterns);
	for (size_t i = 0; i < p->ctx.n_values; i++)
		free(p->ctx.values[i]);
	free(p->ctx.values);
	for (size_t i = 0; i < CH_DISPATCH_STMTS; i++)
		sqlite3_finalize(p->dispatch_stmts[i]);
	if (p->owns_db)
		sqlite3_close(p->ctx.db);
	free(p->ctx.name);
	free(p->module_path);
	free(p);
}

/* A connection for one instance.  NORMAL: in WAL mode a commit survives a
 * process crash; the journal's own FULL commits fsync the log these writes
 * are in, and derived rows can be rebuilt from the journal anyway. */
static int open_connection(const struct ch_config *cfg, sqlite3 **db, struct ch_error *err)
{
	int rc =
	    sqlite3_open_v2(cfg->db_path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(*db, (int)cfg->busy_timeout_ms);
	if (rc == SQLITE_OK)
		/* wal_autocheckpoint=0: the daemon's checkpointer thread
		 * (checkpoint.c) does them; left on, the connection that commits
		 * past 1000 WAL pages copies them back while it still holds the
		 * write lock, and intake waits behind it. */
		rc = sqlite3_exec(*db,
		                  "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
		                  "PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=0",
		                  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		ch_error_set(err, 503, "StoreUnavailable", "%s: %s", cfg->db_path,
		             *db != NULL ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	return 0;
}

static int set_append(struct ch_plugin_set *set, struct ch_plugin *p, struct ch_error *err)
{
	struct ch_plugin **grown = realloc(set->items, (set->n + 1) * sizeof(*grown));

	if (grown == NULL) {
		ch_plugin_unload(p);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	set->items = grown;
	set->items[set->n++] = p;
	return 0;
}

static int load_conf(const struct ch_config *cfg, const struct ch_handler_conf *conf,
                     bool check_only, struct ch_plugin_set *set, struct ch_error *err)
{
	char path[4096];
	sqlite3 *db = NULL;
	struct ch_plugin *p;

	if (ch_plugin_resolve(cfg->handlers_dir, conf->module ? conf->module : conf->name, path,
	                      sizeof(path), err) < 0)
		return -1;
	if (!check_only && open_connection(cfg, &db, err) < 0)
		return -1;
	if (ch_plugin_load(conf, path, db, &p, err) < 0) {
		sqlite3_close(db);
		return -1;
	}
	p->owns_db = db != NULL;
	return set_append(set, p, err);
}

int ch_plugins_load(const struct ch_config *cfg, bool check_only, struct ch_plugin_set *out,
                    struct ch_error *err)
{
	out->items = NULL;
	out->n = 0;
	if (cfg->default_handlers) {
		for (const char *const *name = default_handlers; *name != NULL; name++) {
			struct ch_handler_conf bare = {.name = (char *)*name};
			const struct ch_handler_conf *conf = ch_config_handler(cfg, *name);

			if (load_conf(cfg, conf != NULL ? conf : &bare, check_only, out, err) < 0)
				goto fail;
		}
	}
	for (size_t i = 0; i < cfg->n_handlers; i++) {
		const struct ch_handler_conf *conf = &cfg->handlers[i];
		bool is_default = false;

		for (const char *const *name = default_handlers; *name != NULL; name++)
			is_default |= cfg->default_handlers && strcmp(*name, conf->name) == 0;
		if (!is_default && load_conf(cfg, conf, check_only, out, err) < 0)
			goto fail;
	}
	return 0;
fail:
	ch_plugins_unload(out);
	return -1;
}

int ch_plugins_load_one(const struct ch_config *cfg, const char *name, struct sqlite3 *db,
                        struct ch_plugin **out, struct ch_error *err)
{
	struct ch_handler_conf bare = {.name = (char *)name};
	const struct ch_handler_conf *conf = ch_config_handler(cfg, name);
	char path[4096];

	if (conf == NULL) {
		bool is_default = false;

		for (const char *const *d = default_handlers; *d != NULL; d++)
			is_default |= strcmp(*d, name) == 0;
		if (!is_default)
			return ch_error_set(err, 500, "UnknownHandler",
			                    "handler \"%.64s\" is neither configured nor built in",
			                    name);
		conf = &bare;
	}
	if (ch_plugin_resolve(cfg->handlers_dir, conf->module ? conf->module : conf->name, path,
	                      sizeof(path), err) < 0)
		return -1;
	return ch_plugin_load(conf, path, db, out, err);
}

void ch_plugins_unload(struct ch_plugin_set *set)
{
	for (size_t i = set->n; i > 0; i--)
		ch_plugin_unload(set->items[i - 1]);
	free(set->items);
	set->items = NULL;
	set->n = 0;
}
