/* log.h - one line per message on stderr, "LEVEL key=value ..." style.
 *
 * The level is a process-wide setting (a documented singleton): set once at
 * start-up and on reload, read from any thread.  Messages never carry secrets;
 * callers pass paths without query strings.
 */
#ifndef CH_LOG_H
#define CH_LOG_H

#include <stdbool.h>

#include <callhookd/handler.h> /* enum ch_log_level: handlers log with the same levels */

int ch_log_level_parse(const char *text, enum ch_log_level *level);
void ch_log_set_level(enum ch_log_level level);
bool ch_log_enabled(enum ch_log_level level);
void ch_log(enum ch_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whatever the level ("notice"): the few lines scripts depend on, such as the
 * port picked for --listen ADDR:0. */
void ch_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ch_error_log(...) ch_log(CH_LOG_ERROR, __VA_ARGS__)
#define ch_warn(...)      ch_log(CH_LOG_WARN, __VA_ARGS__)
#define ch_info(...)      ch_log(CH_LOG_INFO, __VA_ARGS__)
#define ch_debug(...)                                                                              \
	do {                                                                                       \
		if (ch_log_enabled(CH_LOG_DEBUG))                                                  \
			ch_log(CH_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif
