/* log.h - one line per message on stderr, as key=value pairs (logfmt):
 *
 *   ts=2026-11-25T06:30:28.170Z level=info msg="auth: refused" request=7 remote=127.0.0.1:40112
 *
 * ts is UTC with milliseconds; level is error, warn, info, debug, or notice
 * for the few lines printed whatever the level.  msg is always quoted; other
 * values are quoted when they hold a space, '=', '"', '\' or anything but
 * printable ASCII.  Inside quotes '"' and '\' are escaped with '\', and
 * control and non-ASCII bytes are written \n, \r, \t or \xNN, so input quoted
 * into a line can neither end it nor forge a field.
 *
 * The level is a process-wide setting (a documented singleton): set once at
 * start-up and on reload, read from any thread.  Messages never carry
 * secrets: callers pass paths without query strings and never a header value.
 */
#ifndef CH_LOG_H
#define CH_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include <callhookd/handler.h> /* enum ch_log_level: handlers log with the same levels */

int ch_log_level_parse(const char *text, enum ch_log_level *level);
void ch_log_set_level(enum ch_log_level level);
bool ch_log_enabled(enum ch_log_level level);
/* msg is the formatted text. */
void ch_log(enum ch_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whatever the level ("notice"): the few lines scripts depend on, such as the
 * port picked for --listen ADDR:0. */
void ch_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line with fields: msg is a constant phrase, fields a format of
 * "key=%s key=%llu ..." pairs (it must be a constant too).  Each %s value
 * (with an optional .N or .* precision) is quoted and escaped as needed;
 * %d %i %u %x with an l, ll or z length are written as numbers.  Other
 * conversions print "?" and end the line. */
void ch_log_kv(enum ch_log_level level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define ch_error_log(...) ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...)      ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...)      ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_debug(...)                                                                              \
	do {                                                                                       \
		if (ch_log_enabled(CH_LOG_DEBUG))                                                  \
			ch_log(CH_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

/* For the tests: format a line as it would be written (without ts and the
 * newline) into buf; returns its length. */
size_t ch_log_format_kv(char *buf, size_t size, const char *level, const char *msg,
                        const char *fields, ...) __attribute__((format(printf, 5, 6)));

#endif
