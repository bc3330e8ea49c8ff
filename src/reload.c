/* reload.c - see reload.h */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* base/path for a relative path once detached; a copy of path otherwise. */
static char *from_base(const char *base_dir, const char *path)
{
	char *abs;

	if (base_dir == NULL || path[0] == '/')
		return strdup(path);
	if (asprintf(&abs, "%s/%s", base_dir, path) < 0)
		return NULL;
	return abs;
}

static int rebase(const char *base_dir, char **slot, struct ch_error *err)
{
	char *abs;

	if (base_dir == NULL || *slot == NULL || (*slot)[0] == '/')
		return 0;
	if ((abs = from_base(base_dir, *slot)) == NULL)
		return ch_error_set(err, 500, "ConfigError", "out of memory");
	free(*slot);
	*slot = abs;
	return 0;
}

int ch_config_build(const struct ch_config_source *src, struct ch_config *cfg, struct ch_error *err)
{
	char *path = NULL;
	int rc = -1;

	ch_config_init(cfg);
	if (src->path != NULL && (path = from_base(src->base_dir, src->path)) == NULL) {
		ch_error_set(err, 500, "ConfigError", "out of memory");
		goto out;
	}
	if ((path != NULL && ch_config_load(cfg, path, err) < 0) ||
	    ch_config_override(cfg, src->listen, src->db_path, err) < 0 ||
	    (src->handlers_dir != NULL &&
	     ch_config_set_handlers_dir(cfg, src->handlers_dir, err) < 0) ||
	    rebase(src->base_dir, &cfg->db_path, err) < 0 ||
	    rebase(src->base_dir, &cfg->handlers_dir, err) < 0 || ch_config_finish(cfg, err) < 0)
		goto out;
	if (src->log_level_set)
		cfg->log_level = src->log_level;
	rc = 0;
out:
	free(path);
	if (rc < 0)
		ch_config_free(cfg);
	return rc;
}

static bool same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void add_name(char *out, size_t size, size_t *n, const char *name)
{
	size_t len = strlen(out);

	if (len < size)
		snprintf(out + len, size - len, "%s%s", *n > 0 ? ", " : "", name);
	(*n)++;
}

size_t ch_config_restart_keys(const struct ch_config *running, const struct ch_config *next,
                              char *out, size_t size)
{
	size_t n = 0;

	if (size > 0)
		out[0] = '\0';
	if (!same_text(running->listen, next->listen))
		add_name(out, size, &n, "[server] listen");
	/* A new certificate is a reload; turning TLS on or off changes what the
	 * port speaks (and a lost line must not quietly make it plain HTTP). */
	if ((running->tls_cert == NULL) != (next->tls_cert == NULL))
		add_name(out, size, &n, "[server] tls_cert/tls_key (HTTPS on or off)");
	if (!same_text(running->db_path, next->db_path))
		add_name(out, size, &n, "[store] path");
	if (running->synchronous != next->synchronous)
		add_name(out, size, &n, "[store] synchronous");
	if (running->busy_timeout_ms != next->busy_timeout_ms)
		add_name(out, size, &n, "[store] busy_timeout");
	if (running->max_batch != next->max_batch)
		add_name(out, size, &n, "[store] max_batch");
	return n;
}

static bool same_handler_conf(const struct ch_handler_conf *a, const struct ch_handler_conf *b)
{
	if (!same_text(a->name, b->name) || !same_text(a->module, b->module) ||
	    !same_text(a->events, b->events) || a->n_options != b->n_options)
		return false;
	for (size_t i = 0; i < a->n_options; i++) {
		if (!same_text(a->keys[i], b->keys[i]) || !same_text(a->values[i], b->values[i]))
			return false;
	}
	return true;
}

bool ch_config_same_handlers(const struct ch_config *a, const struct ch_config *b)
{
	if (!same_text(a->handlers_dir, b->handlers_dir) ||
	    a->default_handlers != b->default_handlers || a->max_attempts != b->max_attempts ||
	    a->retry_base_ms != b->retry_base_ms || a->retry_max_ms != b->retry_max_ms ||
	    a->dispatch_batch != b->dispatch_batch || a->handler_share != b->handler_share ||
	    a->n_handlers != b->n_handlers)
		return false;
	for (size_t i = 0; i < a->n_handlers; i++) {
		if (!same_handler_conf(&a->handlers[i], &b->handlers[i]))
			return false;
	}
	return true;
}
