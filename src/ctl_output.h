/* ctl_output.h - what every callhookctl command shares: the row filters it
 * binds into its queries and the three ways it prints their results.
 *
 * Every query callhookctl runs is a constant SQL string; filters reach it as
 * named parameters (:since, :until, :call, :type, :limit, :handler, :event)
 * that ctl_bind() fills in, NULL when the option was not given, so one
 * statement covers every combination of options without pasting text.
 */
#ifndef CH_CTL_OUTPUT_H
#define CH_CTL_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "error.h"

enum ctl_format {
	CTL_FORMAT_TABLE, /* aligned columns for people */
	CTL_FORMAT_CSV,   /* RFC 4180, header row, CRLF */
	CTL_FORMAT_JSON,  /* one array of objects keyed by column name */
};

/* The exit status of a usage or configuration error (nothing was done). */
#define CTL_EXIT_USAGE 2

/* One line on stderr, "callhookctl: <message> (see callhookctl --help)";
 * returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "table", "csv" or "json"; -1 for anything else. */
int ctl_format_parse(const char *text, enum ctl_format *out);

/* The options that narrow a query; unset ones bind NULL (no restriction). */
struct ctl_filter {
	bool has_since, has_until;
	int64_t since_us;    /* inclusive, microseconds since the epoch */
	int64_t until_us;    /* exclusive */
	const char *call;    /* --call: exact call id */
	const char *type;    /* --type: GLOB pattern over event_type */
	long limit;          /* --limit: rows; 0 = no limit */
	const char *handler; /* --handler */
	int64_t event;       /* --event: journal id; 0 = unset */
};

/* Prepare sql on db; -1 with SQLite's message in err. */
int ctl_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct ch_error *err);
/* Bind every named parameter of st that the filter knows (see above). */
int ctl_bind(sqlite3_stmt *st, const struct ctl_filter *f, struct ch_error *err);

struct ctl_print {
	enum ctl_format format;
	FILE *out;
	/* table format: one "column  value" line per column, for a single record */
	bool vertical;
	/* a column holding JSON text: embedded as a JSON value (not a string) in
	 * json output and pretty-printed in a vertical table; NULL: none */
	const char *json_column;
};

/* Step st to its end and print every row under the statement's column names.
 * *rows (may be NULL) is how many were printed.  -1 with err on a database
 * or write error (the output may then be incomplete). */
int ctl_print_rows(sqlite3_stmt *st, const struct ctl_print *p, long *rows, struct ch_error *err);

/* Write JSON text re-indented by two spaces plus a newline; -1 (nothing
 * guaranteed written) when it is not valid JSON. */
int ctl_json_pretty(const char *text, size_t len, FILE *out);

#endif
