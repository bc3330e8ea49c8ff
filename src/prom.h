/* prom.h - Prometheus primitives: a capped text buffer, the text exposition
 * format 0.0.4, and a histogram that several threads may observe into.
 *
 * The format (https://prometheus.io/docs/instrumenting/exposition_formats/):
 * one "# HELP" and one "# TYPE" line per family, then one line per sample,
 * `name{label="value",...} value`.  Label values escape '\', '"' and newline;
 * HELP text escapes '\' and newline.  A histogram is its cumulative
 * `_bucket{le="..."}` series ending with le="+Inf", then `_sum` and `_count`.
 *
 * Histograms count in integer units (nanoseconds, events) so observing is two
 * relaxed atomic additions and no floating point; `per_base` is how many
 * units make the base unit Prometheus wants (1e9 nanoseconds in a second).
 * Dividing by it, an exact power of ten, prints bounds like 0.0005 exactly,
 * where multiplying by 1e-9 would not.
 */
#ifndef CH_PROM_H
#define CH_PROM_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable buffer that never grows past max: an append that would is
 * dropped and sets failed, so a caller checks once at the end. */
struct ch_text {
	char *buf; /* NUL-terminated while not failed */
	size_t len, cap, max;
	bool failed;
};

void ch_text_init(struct ch_text *t, size_t max);
void ch_text_add(struct ch_text *t, const char *s, size_t n);
void ch_text_puts(struct ch_text *t, const char *s);
void ch_text_printf(struct ch_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ch_text_free(struct ch_text *t);

struct ch_label {
	const char *name;  /* a constant of ours: [a-zA-Z_][a-zA-Z0-9_]* */
	const char *value; /* anything: escaped on output */
};

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
void ch_prom_family(struct ch_text *t, const char *name, const char *type, const char *help);
/* One sample line with an integer value (counters: exact past 2^53). */
void ch_prom_u64(struct ch_text *t, const char *name, const struct ch_label *labels,
                 size_t n_labels, uint64_t value);
/* One sample line with a float value: shortest form that reads back the
 * same; +Inf, -Inf and NaN as Prometheus spells them. */
void ch_prom_double(struct ch_text *t, const char *name, const struct ch_label *labels,
                    size_t n_labels, double value);
/* A label value or HELP text with its escapes (exposed for the tests). */
void ch_prom_escape(struct ch_text *t, const char *s, bool label_value);
/* Is name a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)? */
bool ch_prom_valid_name(const char *name);

#define CH_HISTOGRAM_MAX_BOUNDS 20

/* Bucket bounds are inclusive upper limits, ascending, in units; counts[i]
 * holds the observations in (bounds[i-1], bounds[i]] and counts[n_bounds]
 * those above the last bound.  Zero-initialise, then set bounds with
 * CH_HISTOGRAM_INIT. */
struct ch_histogram {
	const uint64_t *bounds;
	size_t n_bounds;
	double per_base; /* units per base unit: 1e9 for nanoseconds, 1 for counts */
	_Atomic uint64_t counts[CH_HISTOGRAM_MAX_BOUNDS + 1];
	_Atomic uint64_t sum; /* in units */
};

#define CH_HISTOGRAM_INIT(b, per)                                                                  \
	{                                                                                          \
		.bounds = (b), .n_bounds = sizeof(b) / sizeof((b)[0]), .per_base = (per)           \
	}

/* Any thread; lock-free. */
void ch_histogram_observe(struct ch_histogram *h, uint64_t value);
/* The _bucket lines (cumulative, le="+Inf" last), _sum and _count of one
 * histogram series; name is the family name.  _count is the +Inf bucket,
 * so the two always agree even while another thread observes. */
void ch_prom_histogram(struct ch_text *t, const char *name, const struct ch_label *labels,
                       size_t n_labels, struct ch_histogram *h);

#endif
