/* harness.c - see harness.h */
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "dispatch.h"
#include "envelope.h"
#include "plugin.h"
#include "store.h"

struct ch_harness {
	char dir[64];
	char path[96];
	struct ch_store *store; /* the intake side */
	sqlite3 *db;            /* the handler's connection */
	struct ch_plugin *plugin;
	int64_t received_us;
};

/* Tests run with retries due at once and a small batch, so that batching
 * and several steps are exercised even with a few events. */
static const struct ch_dispatch_options harness_dispatch = {
    .max_attempts = 3, .retry_base_ms = 0, .retry_max_ms = 0, .batch = 4};

/* The [handler NAME] section the options stand for, read by the daemon's
 * own config parser, so the tests load modules exactly as the daemon does. */
static int config_for(struct ch_config *cfg, const char *module, const char *name,
                      const char *const *options, char *err, size_t err_size)
{
	const char *base = strrchr(module, '/');
	char text[8192];
	size_t used;
	struct ch_error e;

	base = base != NULL ? base + 1 : module;
	used = (size_t)snprintf(text, sizeof(text), "[handler %.*s]\nmodule = %s\n",
	                        name != NULL ? (int)strlen(name) : (int)strcspn(base, "."),
	                        name != NULL ? name : base, module);
	for (const char *const *o = options; o != NULL && *o != NULL; o++) {
		const char *eq = strchr(*o, '=');

		ck_assert_msg(eq != NULL, "harness option \"%s\" is not key=value", *o);
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%.*s = %s\n",
		                         (int)(eq - *o), *o, eq + 1);
		ck_assert_uint_lt(used, sizeof(text));
	}
	ch_config_init(cfg);
	if (ch_config_load_string(cfg, text, &e) < 0) {
		snprintf(err, err_size, "%s", e.message);
		return -1;
	}
	return 0;
}

struct ch_plugin *harness_load_plugin(const char *module, const char *name,
                                      const char *const *options, sqlite3 *db)
{
	struct ch_config cfg;
	struct ch_plugin *p;
	struct ch_error e;
	char err[512];

	if (config_for(&cfg, module, name, options, err, sizeof(err)) < 0)
		ck_abort_msg("harness: %s", err);
	if (ch_plugin_load(&cfg.handlers[0], module, db, &p, &e) < 0)
		ck_abort_msg("harness: %s", e.message);
	ch_config_free(&cfg);
	return p;
}

/* rm -rf dir (a name mkdtemp made: no quote in it); 0 when done. */
static int remove_tree(const char *dir)
{
	char cmd[160];

	ck_assert_int_lt(snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir), (int)sizeof(cmd));
	return system(cmd);
}

void harness_free(struct ch_harness *h)
{
	if (h == NULL)
		return;
	ch_plugin_unload(h->plugin);
	sqlite3_close(h->db);
	ch_store_close(h->store);
	if (h->dir[0] != '\0' && remove_tree(h->dir) != 0)
		fprintf(stderr, "harness: could not remove %s\n", h->dir);
	free(h);
}

struct ch_harness *harness_try_new(const char *module, const char *const *options, char *err,
                                   size_t err_size)
{
	struct ch_harness *h = calloc(1, sizeof(*h));
	struct ch_store_options so = {.busy_timeout_ms = 5000};
	struct ch_config cfg;
	struct ch_error e;
	int rc;

	ck_assert_ptr_nonnull(h);
	harness_mkdtemp(h->dir, sizeof(h->dir), "chharness");
	snprintf(h->path, sizeof(h->path), "%s/journal.db", h->dir);
	so.path = h->path;
	if (ch_store_open(&so, &h->store, &e) < 0)
		ck_abort_msg("harness: %s", e.message);
	ck_assert_int_eq(sqlite3_open(h->path, &h->db), SQLITE_OK);
	sqlite3_busy_timeout(h->db, 5000);
	sqlite3_exec(h->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
	if (config_for(&cfg, module, NULL, options, err, err_size) < 0) {
		ch_config_free(&cfg);
		harness_free(h);
		return NULL;
	}
	rc = ch_plugin_load(&cfg.handlers[0], module, h->db, &h->plugin, &e);
	ch_config_free(&cfg);
	if (rc < 0) {
		snprintf(err, err_size, "%s", e.message);
		harness_free(h);
		return NULL;
	}
	if (ch_dispatch_register(h->db, h->plugin, &e) < 0)
		ck_abort_msg("harness: %s", e.message);
	h->received_us = 1700000000000000LL;
	return h;
}

struct ch_harness *harness_new(const char *module, const char *const *options)
{
	char err[512];
	struct ch_harness *h = harness_try_new(module, options, err, sizeof(err));

	if (h == NULL)
		ck_abort_msg("harness: %s", err);
	return h;
}

int harness_post(struct ch_harness *h, const char *body)
{
	struct ch_envelope_input in = {.content_type = "application/json"};
	struct ch_batch batch;
	struct ch_error e;
	int accepted = 0;

	if (ch_envelope_parse(body, strlen(body), &in, NULL, &batch, &e) < 0)
		ck_abort_msg("harness_post: %s: %s", e.code, e.message);
	if (ch_store_begin(h->store, &e) < 0)
		ck_abort_msg("harness_post: %s", e.message);
	for (size_t i = 0; i < batch.n; i++) {
		struct ch_journal_row row;
		bool duplicate = false;

		if (batch.events[i].is_validation)
			continue;
		ch_api_journal_row(&batch.events[i], &row);
		row.received_us = h->received_us++;
		row.remote_addr = "127.0.0.1:1";
		row.endpoint = "/events";
		if (ch_store_append(h->store, &row, &duplicate, &e) < 0)
			ck_abort_msg("harness_post: %s", e.message);
		accepted += !duplicate;
	}
	if (ch_store_commit(h->store, &e) < 0)
		ck_abort_msg("harness_post: %s", e.message);
	ch_batch_free(&batch);
	return accepted;
}

int harness_post_file(struct ch_harness *h, const char *path)
{
	char *body = harness_read_file(path, NULL);
	int n;

	ck_assert_msg(body != NULL, "cannot open %s", path);
	n = harness_post(h, body);
	free(body);
	return n;
}

int harness_post_files(struct ch_harness *h, const char *const *paths)
{
	int total = 0;

	for (const char *const *p = paths; *p != NULL; p++) {
		int n = harness_post_file(h, *p);

		ck_assert_msg(n > 0, "%s: no new event journaled", *p);
		total += n;
	}
	return total;
}

int harness_postf(struct ch_harness *h, const char *fmt, ...)
{
	va_list ap;
	char *body;
	int len, n;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(len, 0);
	body = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(body);
	va_start(ap, fmt);
	ck_assert_int_eq(vsnprintf(body, (size_t)len + 1, fmt, ap), len);
	va_end(ap);
	n = harness_post(h, body);
	free(body);
	return n;
}

int harness_run(struct ch_harness *h)
{
	struct ch_error e;
	long did, settled = 0;
	int64_t before = harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state IN "
	                                "('done','dead')");

	/* Bounded: every step settles or quarantines at least one delivery. */
	for (int i = 0; i < 100000; i++) {
		if (ch_dispatch_step(h->db, h->plugin, &harness_dispatch, &did, &e) < 0)
			ck_abort_msg("harness_run: %s", e.message);
		if (did == 0)
			break;
	}
	settled = harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state IN ('done','dead')") -
	          before;
	return (int)settled;
}

int harness_post_ga(struct ch_harness *h, const char *id, const char *type, const char *call,
                    const char *time, const char *data_members)
{
	return harness_postf(h,
	                     "[{\"id\":\"%s\",\"source\":\"calling/callConnections/%s\","
	                     "\"type\":\"Microsoft.Communication.%s\",\"specversion\":\"1.0\","
	                     "\"time\":\"%s\",\"data\":{%s%s\"callConnectionId\":\"%s\"}}]",
	                     id, call, type, time, data_members, data_members[0] != '\0' ? "," : "",
	                     call);
}

int harness_replay(struct ch_harness *h)
{
	ck_assert_int_eq(sqlite3_exec(h->db,
	                              "UPDATE deliveries SET state = 'pending', attempts = 0", NULL,
	                              NULL, NULL),
	                 SQLITE_OK);
	return harness_run(h);
}

const char *harness_path(struct ch_harness *h)
{
	return h->path;
}

sqlite3 *harness_db(struct ch_harness *h)
{
	return h->db;
}

int64_t harness_int(struct ch_harness *h, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	ck_assert_msg(sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(h->db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

char *harness_text(struct ch_harness *h, const char *sql)
{
	sqlite3_stmt *st;
	char *v = NULL;

	ck_assert_msg(sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(h->db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* Append len bytes of s to the string *buf of *n bytes (malloc'd). */
static void append(char **buf, size_t *n, const char *s, size_t len)
{
	char *p = realloc(*buf, *n + len + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p + *n, s, len);
	*n += len;
	p[*n] = '\0';
	*buf = p;
}

char *harness_rows(struct ch_harness *h, const char *sql)
{
	sqlite3_stmt *st;
	char *out = NULL;
	size_t n = 0;
	int rc;

	ck_assert_msg(sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
	              sqlite3_errmsg(h->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out != NULL)
			append(&out, &n, ";", 1);
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const char *v = (const char *)sqlite3_column_text(st, i);

			if (i > 0)
				append(&out, &n, "|", 1);
			if (v == NULL)
				append(&out, &n, "-", 1);
			else
				append(&out, &n, v, (size_t)sqlite3_column_bytes(st, i));
		}
	}
	ck_assert_msg(rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h->db));
	sqlite3_finalize(st);
	return out;
}

/* got (freed here) against want for the query sql. */
static void assert_same(const char *sql, char *got, const char *want)
{
	if (want == NULL)
		ck_assert_msg(got == NULL, "%s: got \"%s\", want NULL", sql, got);
	else
		ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"",
		              sql, got != NULL ? got : "(null)", want);
	free(got);
}

void harness_assert_text(struct ch_harness *h, const char *sql, const char *want)
{
	assert_same(sql, harness_text(h, sql), want);
}

void harness_assert_rows(struct ch_harness *h, const char *sql, const char *want)
{
	assert_same(sql, harness_rows(h, sql), want);
}

void harness_assert_init_fails(const char *module, const char *const *options, ...)
{
	char err[512] = "";
	const char *needle;
	va_list ap;

	ck_assert_ptr_null(harness_try_new(module, options, err, sizeof(err)));
	va_start(ap, options);
	while ((needle = va_arg(ap, const char *)) != NULL)
		ck_assert_msg(strstr(err, needle) != NULL, "\"%s\" not in: %s", needle, err);
	va_end(ap);
}

char *harness_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long size;

	if (f == NULL)
		return NULL;
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	buf = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	if (len != NULL)
		*len = (size_t)size;
	return buf;
}

void harness_mkdtemp(char *dir, size_t size, const char *name)
{
	ck_assert_int_lt(snprintf(dir, size, "/tmp/%s.XXXXXX", name), (int)size);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

void harness_rmdir(const char *dir)
{
	ck_assert_int_eq(remove_tree(dir), 0);
}
