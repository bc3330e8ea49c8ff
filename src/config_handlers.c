/* config_handlers.c - the [handlers] and [handler NAME] sections.
 *
 * The host keys are checked here; a module's own keys are only collected,
 * because what they mean is declared by the module (its option table), which
 * the plugin host checks when it loads it (plugin.c).
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "units.h"

#define BAD(err, ...) ch_error_set(err, 500, "ConfigError", __VA_ARGS__)
#define MAX_NAME_LEN  64

static int set_text(char **slot, const char *value, struct ch_error *err)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return BAD(err, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

static int handlers_key(struct ch_config *cfg, const char *name, const char *value,
                        struct ch_error *err)
{
	long ms;

	if (strcmp(name, "dir") == 0) {
		if (value[0] == '\0')
			return BAD(err, "[handlers] dir: must not be empty");
		return set_text(&cfg->handlers_dir, value, err);
	}
	if (strcmp(name, "defaults") == 0) {
		if (ch_parse_bool(value, &cfg->default_handlers) < 0)
			return BAD(err, "[handlers] defaults: \"%.64s\" is not yes or no", value);
		return 0;
	}
	if (strcmp(name, "max_attempts") == 0) {
		if (ch_parse_long(value, 1, 1000, &cfg->max_attempts) < 0)
			return BAD(err, "[handlers] max_attempts: \"%.64s\" is not 1..1000", value);
		return 0;
	}
	if (strcmp(name, "batch") == 0) {
		if (ch_parse_long(value, 1, 10000, &cfg->dispatch_batch) < 0)
			return BAD(err, "[handlers] batch: \"%.64s\" is not 1..10000", value);
		return 0;
	}
	if (strcmp(name, "share") == 0) {
		if (ch_parse_long(value, 1, 100, &cfg->handler_share) < 0)
			return BAD(err, "[handlers] share: \"%.64s\" is not 1..100", value);
		return 0;
	}
	if (strcmp(name, "retry_base") == 0 || strcmp(name, "retry_max") == 0) {
		if (ch_parse_duration_ms(value, 86400000L, &ms) < 0)
			return BAD(err, "[handlers] %s: \"%.64s\" is not a duration (e.g. 1s, 5m)",
			           name, value);
		*(strcmp(name, "retry_base") == 0 ? &cfg->retry_base_ms : &cfg->retry_max_ms) = ms;
		return 0;
	}
	return BAD(err, "unknown key \"%.64s\" in [handlers]", name);
}

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MAX_NAME_LEN)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
	       n;
}

static struct ch_handler_conf *handler_find_or_add(struct ch_config *cfg, const char *name,
                                                   struct ch_error *err)
{
	struct ch_handler_conf *grown, *h = (struct ch_handler_conf *)ch_config_handler(cfg, name);

	if (h != NULL)
		return h;
	grown = realloc(cfg->handlers, (cfg->n_handlers + 1) * sizeof(*grown));
	if (grown == NULL) {
		BAD(err, "out of memory");
		return NULL;
	}
	cfg->handlers = grown;
	h = &grown[cfg->n_handlers];
	memset(h, 0, sizeof(*h));
	if ((h->name = strdup(name)) == NULL) {
		BAD(err, "out of memory");
		return NULL;
	}
	cfg->n_handlers++;
	return h;
}

static int handler_option(struct ch_handler_conf *h, const char *name, const char *value,
                          struct ch_error *err)
{
	char **keys, **values;

	for (size_t i = 0; i < h->n_options; i++) {
		if (strcmp(h->keys[i], name) == 0)
			return BAD(err, "[handler %s] %.64s: set twice", h->name, name);
	}
	keys = realloc(h->keys, (h->n_options + 1) * sizeof(*keys));
	if (keys == NULL)
		return BAD(err, "out of memory");
	h->keys = keys;
	values = realloc(h->values, (h->n_options + 1) * sizeof(*values));
	if (values == NULL)
		return BAD(err, "out of memory");
	h->values = values;
	keys[h->n_options] = strdup(name);
	values[h->n_options] = strdup(value);
	if (keys[h->n_options] == NULL || values[h->n_options] == NULL) {
		free(keys[h->n_options]);
		free(values[h->n_options]);
		return BAD(err, "out of memory");
	}
	h->n_options++;
	return 0;
}

int ch_config_handlers_key(struct ch_config *cfg, const char *section, const char *name,
                           const char *value, struct ch_error *err)
{
	struct ch_handler_conf *h;
	const char *instance;

	if (strcmp(section, "handlers") == 0)
		return handlers_key(cfg, name, value, err);
	instance = section + strlen("handler ");
	while (*instance == ' ')
		instance++;
	if (!valid_name(instance))
		return BAD(err, "[%.80s]: a handler name is 1 to %d letters, digits, '_' or '-'",
		           section, MAX_NAME_LEN);
	if ((h = handler_find_or_add(cfg, instance, err)) == NULL)
		return -1;
	if (name == NULL) /* the section header alone declares it */
		return 0;
	if (strcmp(name, "module") == 0) {
		if (value[0] == '\0')
			return BAD(err, "[handler %s] module: must not be empty", h->name);
		return set_text(&h->module, value, err);
	}
	if (strcmp(name, "events") == 0) {
		if (strspn(value, " \t") == strlen(value))
			return BAD(err, "[handler %s] events: needs at least one pattern", h->name);
		return set_text(&h->events, value, err);
	}
	return handler_option(h, name, value, err);
}

const struct ch_handler_conf *ch_config_handler(const struct ch_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_handlers; i++) {
		if (strcmp(cfg->handlers[i].name, name) == 0)
			return &cfg->handlers[i];
	}
	return NULL;
}

int ch_config_set_handlers_dir(struct ch_config *cfg, const char *dir, struct ch_error *err)
{
	if (dir[0] == '\0')
		return BAD(err, "--handlers-dir: must not be empty");
	return set_text(&cfg->handlers_dir, dir, err);
}

void ch_config_handlers_free(struct ch_config *cfg)
{
	for (size_t i = 0; i < cfg->n_handlers; i++) {
		struct ch_handler_conf *h = &cfg->handlers[i];

		for (size_t j = 0; j < h->n_options; j++) {
			free(h->keys[j]);
			free(h->values[j]);
		}
		free(h->keys);
		free(h->values);
		free(h->name);
		free(h->module);
		free(h->events);
	}
	free(cfg->handlers);
	free(cfg->handlers_dir);
	cfg->handlers = NULL;
	cfg->n_handlers = 0;
	cfg->handlers_dir = NULL;
}
