/* log.c - see log.h */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static atomic_int current_level = CH_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int ch_log_level_parse(const char *text, enum ch_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(text, level_names[i]) == 0) {
			*level = (enum ch_log_level)i;
			return 0;
		}
	}
	return -1;
}

void ch_log_set_level(enum ch_log_level level)
{
	atomic_store(&current_level, level);
}

bool ch_log_enabled(enum ch_log_level level)
{
	return (int)level <= atomic_load(&current_level);
}

static void write_line(const char *label, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

void ch_log(enum ch_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!ch_log_enabled(level))
		return;
	va_start(ap, fmt);
	write_line(level_names[level], fmt, ap);
	va_end(ap);
}

void ch_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_line("notice", fmt, ap);
	va_end(ap);
}

static void write_line(const char *label, const char *fmt, va_list ap)
{
	char line[1024];
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (long)tv.tv_usec / 1000, label);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* One fputs per line: lines from different threads never interleave. */
	flockfile(stderr);
	fputs(line, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
}
