/* ctl_output.c - print query results as a table, CSV or JSON.
 *
 * The values come from the network (event payloads journaled as sent), so the
 * table format, meant for a terminal, replaces control characters instead of
 * passing escape sequences to the operator's terminal; CSV and JSON carry the
 * values exactly (JSON escapes what it must and replaces invalid UTF-8, so
 * the output always parses).  The JSON escaper is our own: yajl's generator
 * refuses or passes through invalid UTF-8, and we need neither.  yajl is used
 * to re-indent JSON text (events show) and to check an embedded JSON column.
 */
#include "ctl_output.h"

#include <stdarg.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

/* Table cells wider than this (in code points) are cut with an ellipsis: the
 * full values are one --format csv or json away. */
#define TABLE_MAX_WIDTH 100

int ctl_format_parse(const char *text, enum ctl_format *out)
{
	static const char *const names[] = {"table", "csv", "json"};

	for (int i = 0; i < 3; i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum ctl_format)i;
			return 0;
		}
	}
	return -1;
}

int ctl_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct ch_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
		ch_error_set(err, 500, "Database", "cannot query the journal: %s",
		             sqlite3_errmsg(db));
		sqlite3_finalize(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

static int bind_text(sqlite3_stmt *st, const char *name, const char *value)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i == 0)
		return SQLITE_OK;
	return value ? sqlite3_bind_text(st, i, value, -1, SQLITE_TRANSIENT)
	             : sqlite3_bind_null(st, i);
}

static int bind_int(sqlite3_stmt *st, const char *name, bool set, int64_t value)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (i == 0)
		return SQLITE_OK;
	return set ? sqlite3_bind_int64(st, i, value) : sqlite3_bind_null(st, i);
}

int ctl_bind(sqlite3_stmt *st, const struct ctl_filter *f, struct ch_error *err)
{
	/* LIMIT -1 is SQLite's "no limit". */
	int64_t limit = f->limit > 0 ? f->limit : -1;
	int rc = SQLITE_OK;

	rc |= bind_int(st, ":since", f->has_since, f->since_us);
	rc |= bind_int(st, ":until", f->has_until, f->until_us);
	rc |= bind_text(st, ":call", f->call);
	rc |= bind_text(st, ":type", f->type);
	rc |= bind_int(st, ":limit", true, limit);
	rc |= bind_text(st, ":handler", f->handler);
	rc |= bind_int(st, ":event", f->event != 0, f->event);
	if (rc != SQLITE_OK)
		return ch_error_set(err, 500, "Database", "cannot bind a parameter: %s",
		                    sqlite3_errmsg(sqlite3_db_handle(st)));
	return 0;
}

/* 1: a row, 0: done, -1: error. */
static int step(sqlite3_stmt *st, struct ch_error *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return ch_error_set(err, 500, "Database", "cannot read the journal: %s",
	                    sqlite3_errmsg(sqlite3_db_handle(st)));
}

/* A column's text and length; a BLOB (the dedupe key) as lower-case hex in
 * *tmp, which the caller frees.  NULL for SQL NULL (and out of memory). */
static const char *column_text(sqlite3_stmt *st, int i, size_t *len, char **tmp)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b;
	size_t n;

	*tmp = NULL;
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return NULL;
	case SQLITE_BLOB:
		b = sqlite3_column_blob(st, i);
		n = (size_t)sqlite3_column_bytes(st, i);
		if ((*tmp = malloc(2 * n + 1)) == NULL)
			return NULL;
		for (size_t k = 0; k < n; k++) {
			(*tmp)[2 * k] = hex[b[k] >> 4];
			(*tmp)[2 * k + 1] = hex[b[k] & 15];
		}
		(*tmp)[2 * n] = '\0';
		*len = 2 * n;
		return *tmp;
	default: {
		const char *s = (const char *)sqlite3_column_text(st, i);

		*len = (size_t)sqlite3_column_bytes(st, i);
		return s;
	}
	}
}

static bool is_number(sqlite3_stmt *st, int i)
{
	int t = sqlite3_column_type(st, i);

	return t == SQLITE_INTEGER || (t == SQLITE_FLOAT && isfinite(sqlite3_column_double(st, i)));
}

static int write_error(FILE *out, struct ch_error *err)
{
	if (fflush(out) != 0 || ferror(out))
		return ch_error_set(err, 500, "Output", "cannot write the output: %s",
		                    strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------ JSON */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	/* The second byte rules out overlong forms, surrogates and > U+10FFFF. */
	if (s[0] == 0xE0)
		lo = 0xA0;
	else if (s[0] == 0xED)
		hi = 0x9F;
	else if (s[0] == 0xF0)
		lo = 0x90;
	else if (s[0] == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	}
	return len;
}

static void json_string(FILE *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;

	putc('"', out);
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(s + i, len - i);

		if (n == 0) {
			fputs("\\ufffd", out); /* invalid byte: never emit invalid JSON */
			i++;
			continue;
		}
		if (s[i] == '"' || s[i] == '\\')
			fprintf(out, "\\%c", s[i]);
		else if (s[i] == '\n')
			fputs("\\n", out);
		else if (s[i] == '\r')
			fputs("\\r", out);
		else if (s[i] == '\t')
			fputs("\\t", out);
		else if (s[i] < 0x20 || s[i] == 0x7F)
			fprintf(out, "\\u%04x", s[i]);
		else
			fwrite(s + i, 1, n, out);
		i += n;
	}
	putc('"', out);
}

/* yajl parse callbacks that feed a generator: re-emit JSON text. */
static int re_null(void *g)
{
	return yajl_gen_null(g) == yajl_gen_status_ok;
}
static int re_bool(void *g, int b)
{
	return yajl_gen_bool(g, b) == yajl_gen_status_ok;
}
static int re_number(void *g, const char *s, size_t len)
{
	return yajl_gen_number(g, s, len) == yajl_gen_status_ok;
}
static int re_string(void *g, const unsigned char *s, size_t len)
{
	return yajl_gen_string(g, s, len) == yajl_gen_status_ok;
}
static int re_start_map(void *g)
{
	return yajl_gen_map_open(g) == yajl_gen_status_ok;
}
static int re_end_map(void *g)
{
	return yajl_gen_map_close(g) == yajl_gen_status_ok;
}
static int re_start_array(void *g)
{
	return yajl_gen_array_open(g) == yajl_gen_status_ok;
}
static int re_end_array(void *g)
{
	return yajl_gen_array_close(g) == yajl_gen_status_ok;
}

static const yajl_callbacks regen_callbacks = {
    re_null,      re_bool,   NULL,       NULL,           re_number,    re_string,
    re_start_map, re_string, re_end_map, re_start_array, re_end_array,
};

/* Parse text into g; 0 when it was one complete, valid JSON value. */
static int regenerate(yajl_gen g, const char *text, size_t len)
{
	yajl_handle h = yajl_alloc(&regen_callbacks, NULL, g);
	yajl_status st;

	if (h == NULL)
		return -1;
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	return st == yajl_status_ok ? 0 : -1;
}

/* Re-generate text (compact or indented) and write it; -1 when invalid. */
static int write_json_value(FILE *out, const char *text, size_t len, bool pretty)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t n;
	int rc = -1;

	if (g == NULL)
		return -1;
	if (pretty) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	if (regenerate(g, text, len) == 0 && yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok) {
		/* beautify ends with a newline of its own */
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		fwrite(buf, 1, n, out);
		rc = 0;
	}
	yajl_gen_free(g);
	return rc;
}

int ctl_json_pretty(const char *text, size_t len, FILE *out)
{
	if (write_json_value(out, text, len, true) < 0)
		return -1;
	putc('\n', out);
	return 0;
}

static void json_value(FILE *out, sqlite3_stmt *st, int i, bool embed)
{
	size_t len = 0;
	char *tmp;
	const char *s;

	if (is_number(st, i)) {
		fputs((const char *)sqlite3_column_text(st, i), out);
		return;
	}
	s = column_text(st, i, &len, &tmp);
	if (s == NULL)
		fputs("null", out);
	else if (!embed || write_json_value(out, s, len, false) < 0)
		json_string(out, s, len);
	free(tmp);
}

/* One array, one object per line: easy for jq and for grep alike. */
static int print_json(sqlite3_stmt *st, const struct ctl_print *p, long *rows, struct ch_error *err)
{
	int ncols = sqlite3_column_count(st), r;

	fputc('[', p->out);
	while ((r = step(st, err)) == 1) {
		fputs(*rows > 0 ? ",\n" : "\n", p->out);
		fputc('{', p->out);
		for (int i = 0; i < ncols; i++) {
			const char *name = sqlite3_column_name(st, i);
			bool embed = p->json_column && strcmp(name, p->json_column) == 0;

			if (i > 0)
				fputc(',', p->out);
			json_string(p->out, name, strlen(name));
			fputc(':', p->out);
			json_value(p->out, st, i, embed);
		}
		fputc('}', p->out);
		(*rows)++;
	}
	fputs(*rows > 0 ? "\n]\n" : "]\n", p->out);
	return r;
}

/* ------------------------------------------------------------------- CSV */

static void csv_field(FILE *out, const char *s, size_t len)
{
	if (s == NULL)
		return; /* NULL: empty; an empty string is "" */
	if (len > 0 && strcspn(s, ",\"\r\n") >= len) {
		fwrite(s, 1, len, out);
		return;
	}
	putc('"', out);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', out);
		putc(s[i], out);
	}
	putc('"', out);
}

static int print_csv(sqlite3_stmt *st, const struct ctl_print *p, long *rows, struct ch_error *err)
{
	int ncols = sqlite3_column_count(st), r;

	for (int i = 0; i < ncols; i++) {
		const char *name = sqlite3_column_name(st, i);

		if (i > 0)
			putc(',', p->out);
		csv_field(p->out, name, strlen(name));
	}
	fputs("\r\n", p->out);
	while ((r = step(st, err)) == 1) {
		for (int i = 0; i < ncols; i++) {
			size_t len = 0;
			char *tmp;
			const char *s = column_text(st, i, &len, &tmp);

			if (i > 0)
				putc(',', p->out);
			csv_field(p->out, s, len);
			free(tmp);
		}
		fputs("\r\n", p->out);
		(*rows)++;
	}
	return r;
}

/* ----------------------------------------------------------------- table */

/* A copy fit for a terminal: control characters (C0, DEL, C1) become '?',
 * line breaks and tabs a space. */
static char *terminal_safe(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	const unsigned char *u = (const unsigned char *)s;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (u[i] == '\n' || u[i] == '\r' || u[i] == '\t')
			*o++ = ' ';
		else if (u[i] < 0x20 || u[i] == 0x7F)
			*o++ = '?';
		else if (u[i] == 0xC2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F)
			*o++ = '?', i++;
		else
			*o++ = (char)u[i];
	}
	*o = '\0';
	return out;
}

/* Code points, as an approximation of the display width. */
static size_t width_of(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* Every cell of the result, for measuring before printing. */
struct grid {
	int ncols;
	size_t nrows, cap;
	char **cells;   /* nrows * ncols, owned; NULL = SQL NULL */
	bool *numeric;  /* per column: every non-NULL value is a number */
	size_t *widths; /* per column, capped at TABLE_MAX_WIDTH */
};

static void grid_free(struct grid *g)
{
	for (size_t i = 0; i < g->nrows * (size_t)g->ncols; i++)
		free(g->cells[i]);
	free(g->cells);
	free(g->numeric);
	free(g->widths);
}

static int grid_add_row(struct grid *g, sqlite3_stmt *st, struct ch_error *err)
{
	size_t base = g->nrows * (size_t)g->ncols;

	if (g->nrows == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		char **cells = realloc(g->cells, cap * (size_t)g->ncols * sizeof(*cells));

		if (cells == NULL)
			return ch_error_set(err, 500, "Output", "out of memory");
		g->cells = cells;
		g->cap = cap;
	}
	/* The row belongs to the grid before it is filled: grid_free frees
	 * whatever a failure leaves in it. */
	for (int i = 0; i < g->ncols; i++)
		g->cells[base + (size_t)i] = NULL;
	g->nrows++;
	for (int i = 0; i < g->ncols; i++) {
		size_t len = 0;
		char *tmp, *cell = NULL;
		const char *s = column_text(st, i, &len, &tmp);

		if (s != NULL)
			cell = terminal_safe(s, len);
		free(tmp);
		if (s != NULL && cell == NULL)
			return ch_error_set(err, 500, "Output", "out of memory");
		g->cells[base + (size_t)i] = cell;
		if (cell != NULL && !is_number(st, i))
			g->numeric[i] = false;
	}
	return 0;
}

static void pad(FILE *out, size_t n)
{
	while (n-- > 0)
		putc(' ', out);
}

/* One line of the table.  Padding is held back until something follows it,
 * so no line ends in blanks. */
struct line {
	FILE *out;
	size_t pending; /* spaces owed before the next text */
};

static void emit(struct line *l, const char *s, size_t n)
{
	if (n == 0)
		return;
	pad(l->out, l->pending);
	l->pending = 0;
	fwrite(s, 1, n, l->out);
}

/* A cell in a column of width w; cut with an ellipsis beyond the cap. */
static void print_cell(struct line *l, const char *s, size_t w, bool right)
{
	size_t cw = width_of(s), n = 0, shown = 0;

	if (cw > TABLE_MAX_WIDTH) {
		for (; s[n] && shown < TABLE_MAX_WIDTH - 1; n++) {
			if (((unsigned char)s[n + 1] & 0xC0) != 0x80)
				shown++;
		}
		emit(l, s, n);
		emit(l, "\xe2\x80\xa6", 3); /* U+2026 HORIZONTAL ELLIPSIS */
		l->pending += 2;
		return;
	}
	if (right)
		l->pending += w - cw;
	emit(l, s, strlen(s));
	l->pending += (right ? 0 : w - cw) + 2; /* and the gap to the next column */
}

static void print_grid(FILE *out, sqlite3_stmt *st, const struct grid *g)
{
	struct line l = {.out = out};

	for (int i = 0; i < g->ncols; i++)
		print_cell(&l, sqlite3_column_name(st, i), g->widths[i],
		           g->numeric[i] && g->nrows > 0);
	putc('\n', out);
	for (int i = 0; i < g->ncols; i++) {
		for (size_t k = 0; k < g->widths[i]; k++)
			putc('-', out);
		fputs(i == g->ncols - 1 ? "\n" : "  ", out);
	}
	for (size_t r = 0; r < g->nrows; r++) {
		l.pending = 0;
		for (int i = 0; i < g->ncols; i++) {
			const char *cell = g->cells[r * (size_t)g->ncols + (size_t)i];

			print_cell(&l, cell ? cell : "", g->widths[i], g->numeric[i]);
		}
		putc('\n', out);
	}
}

static void measure(struct grid *g, sqlite3_stmt *st)
{
	for (int i = 0; i < g->ncols; i++) {
		size_t w = width_of(sqlite3_column_name(st, i));

		for (size_t r = 0; r < g->nrows; r++) {
			const char *cell = g->cells[r * (size_t)g->ncols + (size_t)i];
			size_t cw = cell ? width_of(cell) : 0;

			if (cw > w)
				w = cw;
		}
		g->widths[i] = w > TABLE_MAX_WIDTH ? TABLE_MAX_WIDTH : w;
	}
}

static int print_table(sqlite3_stmt *st, const struct ctl_print *p, long *rows,
                       struct ch_error *err)
{
	struct grid g = {.ncols = sqlite3_column_count(st)};
	int r;

	g.numeric = malloc((size_t)g.ncols * sizeof(*g.numeric) + 1);
	g.widths = calloc((size_t)g.ncols + 1, sizeof(*g.widths));
	if (g.numeric == NULL || g.widths == NULL) {
		grid_free(&g);
		return ch_error_set(err, 500, "Output", "out of memory");
	}
	for (int i = 0; i < g.ncols; i++)
		g.numeric[i] = true;
	while ((r = step(st, err)) == 1) {
		if (grid_add_row(&g, st, err) < 0) {
			r = -1;
			break;
		}
	}
	if (r == 0) {
		measure(&g, st);
		print_grid(p->out, st, &g);
		*rows = (long)g.nrows;
	}
	grid_free(&g);
	return r;
}

/* One record as "name  value" lines; the JSON column last-style, indented. */
static int print_vertical(sqlite3_stmt *st, const struct ctl_print *p, long *rows,
                          struct ch_error *err)
{
	int ncols = sqlite3_column_count(st), r;
	size_t w = 0;

	for (int i = 0; i < ncols; i++) {
		size_t n = strlen(sqlite3_column_name(st, i));

		w = n > w ? n : w;
	}
	while ((r = step(st, err)) == 1) {
		if ((*rows)++ > 0)
			putc('\n', p->out);
		for (int i = 0; i < ncols; i++) {
			const char *name = sqlite3_column_name(st, i);
			size_t len = 0;
			char *tmp, *safe;
			const char *s = column_text(st, i, &len, &tmp);

			fputs(name, p->out);
			if (s != NULL && p->json_column && strcmp(name, p->json_column) == 0) {
				putc('\n', p->out);
				if (ctl_json_pretty(s, len, p->out) == 0) {
					free(tmp);
					continue;
				}
			} else {
				pad(p->out, w + 2 - strlen(name));
			}
			safe = s ? terminal_safe(s, len) : NULL;
			fprintf(p->out, "%s\n", safe ? safe : "");
			free(safe);
			free(tmp);
		}
	}
	return r;
}

int ctl_print_rows(sqlite3_stmt *st, const struct ctl_print *p, long *rows, struct ch_error *err)
{
	long n = 0;
	int r;

	switch (p->format) {
	case CTL_FORMAT_JSON:
		r = print_json(st, p, &n, err);
		break;
	case CTL_FORMAT_CSV:
		r = print_csv(st, p, &n, err);
		break;
	case CTL_FORMAT_TABLE:
	default:
		r = p->vertical ? print_vertical(st, p, &n, err) : print_table(st, p, &n, err);
		break;
	}
	if (rows != NULL)
		*rows = n;
	if (r < 0)
		return -1;
	return write_error(p->out, err);
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("callhookctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see callhookctl --help)\n", stderr);
	return CTL_EXIT_USAGE;
}
