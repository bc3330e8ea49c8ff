/* host.c - the function table handler modules call (struct ch_host).
 *
 * Everything here is a thin, NULL-tolerant view over what the dispatcher
 * prepared: a handler can chain lookups without checking each step.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "host.h"
#include "log.h"
#include "plugin.h"
#include "units.h"
#include "writelock.h"

static _Thread_local const struct ch_event *current;

void ch_host_set_current(const struct ch_event *ev)
{
	current = ev;
	ch_host_actions_reset(); /* action ordinals count per handle() */
}

const struct ch_event *ch_host_current(void)
{
	return current;
}

static const struct ch_json *node(const struct ch_value *v)
{
	return (const struct ch_json *)v;
}

static int64_t ev_id(const struct ch_event *ev)
{
	return ev->journal_id;
}
static const char *ev_type(const struct ch_event *ev)
{
	return ev->type;
}
static const char *ev_format(const struct ch_event *ev)
{
	return ev->format;
}
static const char *ev_time(const struct ch_event *ev)
{
	return ev->time;
}
static int64_t ev_time_us(const struct ch_event *ev)
{
	return ev->time_us;
}
static const char *ev_subject(const struct ch_event *ev)
{
	return ev->subject;
}
static const char *ev_source(const struct ch_event *ev)
{
	return ev->source;
}
static const char *ev_call_id(const struct ch_event *ev)
{
	return ev->call_id;
}
static const char *ev_raw(const struct ch_event *ev, size_t *len)
{
	if (len != NULL)
		*len = ev->raw_len;
	return ev->raw;
}
static const struct ch_value *ev_root(const struct ch_event *ev)
{
	return (const struct ch_value *)ev->root;
}
static const struct ch_value *ev_data(const struct ch_event *ev)
{
	return (const struct ch_value *)ev->data;
}

static const struct ch_value *v_get(const struct ch_value *base, const char *path)
{
	if (base == NULL || path == NULL)
		return NULL;
	if (path[0] == '\0')
		return base;
	return (const struct ch_value *)ch_json_path(node(base), path);
}

static enum ch_value_type v_type(const struct ch_value *v)
{
	static const enum ch_value_type map[] = {
	    [CH_JSON_NULL] = CH_VALUE_NULL,     [CH_JSON_BOOL] = CH_VALUE_BOOL,
	    [CH_JSON_NUMBER] = CH_VALUE_NUMBER, [CH_JSON_STRING] = CH_VALUE_STRING,
	    [CH_JSON_ARRAY] = CH_VALUE_ARRAY,   [CH_JSON_OBJECT] = CH_VALUE_OBJECT,
	};
	return v == NULL ? CH_VALUE_NULL : map[node(v)->type];
}

static const char *v_str(const struct ch_value *base, const char *path)
{
	return ch_json_string(node(v_get(base, path)));
}

static bool v_num(const struct ch_value *base, const char *path, double *out)
{
	const struct ch_json *j = node(v_get(base, path));
	char *end;
	double d;

	if (j == NULL || j->type != CH_JSON_NUMBER)
		return false;
	d = strtod(j->u.str.ptr, &end); /* the number as written, NUL-terminated */
	if (end == j->u.str.ptr || !isfinite(d))
		return false;
	*out = d;
	return true;
}

static bool v_int64(const struct ch_value *base, const char *path, int64_t *out)
{
	const struct ch_json *j = node(v_get(base, path));
	long long n;

	if (j == NULL || j->type != CH_JSON_NUMBER ||
	    strspn(j->u.str.ptr, "-0123456789") != j->u.str.len)
		return false; /* a fraction or exponent is not an exact integer */
	errno = 0;
	n = strtoll(j->u.str.ptr, NULL, 10);
	if (errno == ERANGE)
		return false;
	*out = n;
	return true;
}

static bool v_bool(const struct ch_value *base, const char *path, bool *out)
{
	const struct ch_json *j = node(v_get(base, path));

	if (j == NULL || j->type != CH_JSON_BOOL)
		return false;
	*out = j->u.boolean;
	return true;
}

static size_t v_len(const struct ch_value *v)
{
	const struct ch_json *j = node(v);

	if (j == NULL)
		return 0;
	if (j->type == CH_JSON_ARRAY)
		return j->u.array.n;
	if (j->type == CH_JSON_OBJECT)
		return j->u.object.n;
	return 0;
}

static const struct ch_value *v_at(const struct ch_value *v, size_t i, const char **key)
{
	const struct ch_json *j = node(v);

	if (key != NULL)
		*key = NULL;
	if (j == NULL)
		return NULL;
	if (j->type == CH_JSON_ARRAY && i < j->u.array.n)
		return (const struct ch_value *)j->u.array.items[i];
	if (j->type == CH_JSON_OBJECT && i < j->u.object.n) {
		if (key != NULL)
			*key = j->u.object.keys[i];
		return (const struct ch_value *)j->u.object.values[i];
	}
	return NULL;
}

static const char *v_json(const struct ch_value *v, size_t *len)
{
	const struct ch_json *j = node(v);

	if (j == NULL || current == NULL || j->end > current->raw_len || j->start > j->end) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = j->end - j->start;
	return current->raw + j->start;
}

static const char *c_name(const struct ch_context *ctx)
{
	return ctx->name;
}

static ssize_t option_index(const struct ch_context *ctx, const char *key)
{
	for (size_t i = 0; ctx->options != NULL && ctx->options[i].key != NULL; i++) {
		if (strcmp(ctx->options[i].key, key) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static const char *c_opt_str(const struct ch_context *ctx, const char *key)
{
	ssize_t i = option_index(ctx, key);

	if (i < 0)
		return NULL;
	return ctx->values[i] != NULL ? ctx->values[i] : ctx->options[i].default_value;
}

static int64_t c_opt_int(const struct ch_context *ctx, const char *key)
{
	ssize_t i = option_index(ctx, key);
	const char *text = c_opt_str(ctx, key);
	long n = 0;

	if (i < 0 || text == NULL)
		return 0;
	if (ctx->options[i].type == CH_OPT_DURATION)
		ch_parse_duration_ms(text, 0x7fffffffL, &n);
	else
		ch_parse_long(text, -0x7fffffffL, 0x7fffffffL, &n);
	return n; /* validated when the handler was loaded */
}

static bool c_opt_bool(const struct ch_context *ctx, const char *key)
{
	const char *text = c_opt_str(ctx, key);
	bool b = false;

	if (text != NULL)
		ch_parse_bool(text, &b);
	return b;
}

static struct sqlite3 *c_db(struct ch_context *ctx)
{
	int rc;

	if (!ctx->dispatching)
		return ctx->db;
	if (!ctx->in_txn) { /* the dispatcher commits it, and releases the lock */
		ch_write_lock(-1);
		rc = sqlite3_exec(ctx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ch_write_unlock();
			ctx->db_error = rc;
			return NULL;
		}
		ctx->in_txn = true;
	}
	if (!ctx->in_savepoint) {
		rc = sqlite3_exec(ctx->db, "SAVEPOINT handler", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ctx->db_error = rc;
			return NULL;
		}
		ctx->in_savepoint = true;
	}
	return ctx->db;
}

static void c_log(const struct ch_context *ctx, enum ch_log_level level, const char *fmt, ...)
    CH_PRINTF(3, 4);
static void c_log(const struct ch_context *ctx, enum ch_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (level > CH_LOG_DEBUG || !ch_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ch_log(level, "handler=%s %s", ctx->name, line);
}

static void c_set_error(struct ch_context *ctx, const char *fmt, ...) CH_PRINTF(2, 3);
static void c_set_error(struct ch_context *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
	va_end(ap);
}

const struct ch_host ch_host_table = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_host),
    .event_id = ev_id,
    .event_type = ev_type,
    .event_format = ev_format,
    .event_time = ev_time,
    .event_time_us = ev_time_us,
    .event_subject = ev_subject,
    .event_source = ev_source,
    .event_call_id = ev_call_id,
    .event_raw = ev_raw,
    .event_root = ev_root,
    .event_data = ev_data,
    .get = v_get,
    .type = v_type,
    .str = v_str,
    .num = v_num,
    .int64 = v_int64,
    .boolean = v_bool,
    .len = v_len,
    .at = v_at,
    .json = v_json,
    .name = c_name,
    .opt_str = c_opt_str,
    .opt_int = c_opt_int,
    .opt_bool = c_opt_bool,
    .db = c_db,
    .log = c_log,
    .set_error = c_set_error,
    .play_audio = ch_host_play_audio,
    .cancel_media = ch_host_cancel_media,
    .hangup = ch_host_hangup,
    .invite = ch_host_invite,
    .remove_participant = ch_host_remove_participant,
};
