/* config_actions.c - the [actions] section: where handler actions are sent.
 *
 * The connection string holds the access key, so it is parsed here once (at
 * start-up and on each reload, fail closed) and no message ever quotes it.
 * It comes from the file itself or, for systemd credentials and secret
 * stores, from a file of its own (connection_string_file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config.h"
#include "smallfile.h"
#include "units.h"

#define MAX_CONNECTION_STRING 4096
#define MAX_API_VERSION       64

static int replace(char **slot, const char *value, struct ch_error *err)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return ch_error_set(err, 500, "ConfigError", "out of memory");
	if (*slot != NULL) {
		OPENSSL_cleanse(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = copy;
	return 0;
}

int ch_config_actions_key(struct ch_config *cfg, const char *name, const char *value,
                          struct ch_error *err)
{
	struct ch_actions_conf *a = &cfg->actions;

	a->configured = true;
	if (strcmp(name, "connection_string") == 0) {
		if (value[0] == '\0')
			return ch_error_set(err, 500, "ConfigError", "%s: must not be empty", name);
		if (strlen(value) > MAX_CONNECTION_STRING)
			return ch_error_set(err, 500, "ConfigError",
			                    "connection_string: longer than %d characters",
			                    MAX_CONNECTION_STRING);
		return replace(&a->connection_string, value, err);
	}
	if (strcmp(name, "connection_string_file") == 0) {
		if (value[0] != '/')
			return ch_error_set(
			    err, 500, "ConfigError",
			    "connection_string_file: \"%.64s\" is not an absolute path", value);
		return replace(&a->connection_string_file, value, err);
	}
	if (strcmp(name, "api_version") == 0) {
		size_t n = strlen(value);

		/* It goes into every request's query string as is. */
		if (n == 0 || n > MAX_API_VERSION ||
		    strspn(value,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != n)
			return ch_error_set(err, 500, "ConfigError",
			                    "api_version: \"%.64s\" is not a version such as "
			                    "2021-06-15-preview",
			                    value);
		return replace(&a->api_version, value, err);
	}
	if (strcmp(name, "timeout") == 0) {
		if (ch_parse_duration_ms(value, 300000, &a->timeout_ms) < 0 || a->timeout_ms < 100)
			return ch_error_set(err, 500, "ConfigError",
			                    "timeout: \"%.64s\" is not a duration from 100ms to 5m",
			                    value);
		return 0;
	}
	if (strcmp(name, "max_attempts") == 0) {
		if (ch_parse_long(value, 1, 100, &a->max_attempts) < 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "max_attempts: \"%.64s\" is not a number from 1 to 100",
			                    value);
		return 0;
	}
	return ch_error_set(err, 500, "ConfigError", "unknown key \"%.64s\" in [actions]", name);
}

int ch_config_actions_finish(struct ch_config *cfg, struct ch_error *err)
{
	struct ch_actions_conf *a = &cfg->actions;
	struct ch_error perr;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!a->configured)
		return 0;
	if (a->timeout_ms == 0)
		a->timeout_ms = 10000;
	if (a->max_attempts == 0)
		a->max_attempts = 5;
	if (a->connection_string != NULL && a->connection_string_file != NULL)
		return ch_error_set(err, 500, "ConfigError",
		                    "[actions] set connection_string or connection_string_file, "
		                    "not both");
	if (a->connection_string == NULL && a->connection_string_file == NULL)
		return ch_error_set(err, 500, "ConfigError",
		                    "[actions] needs connection_string or connection_string_file");
	if (a->connection_string_file != NULL) {
		struct stat st;

		if (ch_read_small_file(a->connection_string_file, a->connection_string_file,
		                       MAX_CONNECTION_STRING, &text, &len, &st, &perr) < 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "[actions] connection_string_file: %s", perr.message);
		/* An editor's or echo's final newline is not part of it. */
		while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = '\0';
	}
	rc = ch_acs_parse_connection_string(text != NULL ? text : a->connection_string, &a->creds,
	                                    &perr);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	if (rc < 0)
		return ch_error_set(err, 500, "ConfigError", "[actions] %s%s%s", perr.message,
		                    a->connection_string_file ? " in " : "",
		                    a->connection_string_file ? a->connection_string_file : "");
	return 0;
}

void ch_config_actions_free(struct ch_config *cfg)
{
	struct ch_actions_conf *a = &cfg->actions;

	if (a->connection_string != NULL)
		OPENSSL_cleanse(a->connection_string, strlen(a->connection_string));
	free(a->connection_string);
	free(a->connection_string_file);
	free(a->api_version);
	OPENSSL_cleanse(&a->creds, sizeof(a->creds));
	memset(a, 0, sizeof(*a));
}
