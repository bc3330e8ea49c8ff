/* prom.c - see prom.h */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ch_text_init(struct ch_text *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
}

static bool reserve(struct ch_text *t, size_t more)
{
	size_t cap;
	char *grown;

	if (t->failed)
		return false;
	if (t->len + more + 1 <= t->cap)
		return true;
	if (t->len + more + 1 > t->max) {
		t->failed = true;
		return false;
	}
	cap = t->cap ? t->cap : 4096;
	while (cap < t->len + more + 1)
		cap *= 2;
	if (cap > t->max)
		cap = t->max;
	if ((grown = realloc(t->buf, cap)) == NULL) {
		t->failed = true;
		return false;
	}
	t->buf = grown;
	t->cap = cap;
	return true;
}

void ch_text_add(struct ch_text *t, const char *s, size_t n)
{
	if (!reserve(t, n))
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void ch_text_puts(struct ch_text *t, const char *s)
{
	ch_text_add(t, s, strlen(s));
}

void ch_text_printf(struct ch_text *t, const char *fmt, ...)
{
	char small[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ch_text_add(t, small, (size_t)n);
		return;
	}
	if (!reserve(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void ch_text_free(struct ch_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

void ch_prom_escape(struct ch_text *t, const char *s, bool label_value)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '\n')
			esc = "\\n";
		else if (*s == '"' && label_value)
			esc = "\\\"";
		if (esc == NULL)
			continue;
		ch_text_add(t, run, (size_t)(s - run));
		ch_text_puts(t, esc);
		run = s + 1;
	}
	ch_text_add(t, run, (size_t)(s - run));
}

bool ch_prom_valid_name(const char *name)
{
	for (const char *p = name; *p != '\0'; p++) {
		bool letter =
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';

		if (!letter && !(p > name && *p >= '0' && *p <= '9'))
			return false;
	}
	return name[0] != '\0';
}

void ch_prom_family(struct ch_text *t, const char *name, const char *type, const char *help)
{
	ch_text_printf(t, "# HELP %s ", name);
	ch_prom_escape(t, help, false);
	ch_text_printf(t, "\n# TYPE %s %s\n", name, type);
}

static void series(struct ch_text *t, const char *name, const struct ch_label *labels, size_t n)
{
	ch_text_puts(t, name);
	for (size_t i = 0; i < n; i++) {
		ch_text_puts(t, i == 0 ? "{" : ",");
		ch_text_puts(t, labels[i].name);
		ch_text_puts(t, "=\"");
		ch_prom_escape(t, labels[i].value, true);
		ch_text_puts(t, "\"");
	}
	if (n > 0)
		ch_text_puts(t, "}");
}

/* Go's strconv.ParseFloat reads C's %g output; prefer 15 digits (0.1 rather
 * than 0.10000000000000001) when they read back the same. */
static void format_double(char buf[32], double v)
{
	if (isnan(v)) {
		strcpy(buf, "NaN");
	} else if (isinf(v)) {
		strcpy(buf, v > 0 ? "+Inf" : "-Inf");
	} else {
		snprintf(buf, 32, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, 32, "%.17g", v);
	}
}

void ch_prom_u64(struct ch_text *t, const char *name, const struct ch_label *labels,
                 size_t n_labels, uint64_t value)
{
	series(t, name, labels, n_labels);
	ch_text_printf(t, " %llu\n", (unsigned long long)value);
}

void ch_prom_double(struct ch_text *t, const char *name, const struct ch_label *labels,
                    size_t n_labels, double value)
{
	char buf[32];

	format_double(buf, value);
	series(t, name, labels, n_labels);
	ch_text_printf(t, " %s\n", buf);
}

void ch_histogram_observe(struct ch_histogram *h, uint64_t value)
{
	size_t i = 0;

	while (i < h->n_bounds && value > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
}

void ch_prom_histogram(struct ch_text *t, const char *name, const struct ch_label *labels,
                       size_t n_labels, struct ch_histogram *h)
{
	struct ch_label with_le[8];
	char metric[128], le[32];
	uint64_t total = 0;
	size_t n = n_labels < 7 ? n_labels : 7;

	if (n > 0)
		memcpy(with_le, labels, n * sizeof(*labels));
	with_le[n].name = "le";
	with_le[n].value = le;
	snprintf(metric, sizeof(metric), "%s_bucket", name);
	for (size_t i = 0; i <= h->n_bounds; i++) {
		total += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < h->n_bounds)
			format_double(le, (double)h->bounds[i] / h->per_base);
		else
			strcpy(le, "+Inf");
		ch_prom_u64(t, metric, with_le, n + 1, total);
	}
	snprintf(metric, sizeof(metric), "%s_sum", name);
	ch_prom_double(t, metric, labels, n,
	               (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / h->per_base);
	snprintf(metric, sizeof(metric), "%s_count", name);
	ch_prom_u64(t, metric, labels, n, total);
}
