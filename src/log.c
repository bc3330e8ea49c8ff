/* log.c - see log.h */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/types.h> /* ssize_t */
#include <time.h>

#define LINE_MAX_BYTES 2048
#define MSG_MAX_BYTES  1024
#define TAIL           5 /* room kept for `..."` and the newline */

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

/* --- building one line ------------------------------------------------------- */

/* A line under construction: appends past the end are cut, never overrun. */
struct line {
	char *buf;
	size_t len, cap; /* len + TAIL <= cap until full */
	bool full;       /* something was cut: add nothing more */
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->full)
		return;
	if (n > l->cap - TAIL - l->len) {
		n = l->cap - TAIL - l->len;
		l->full = true;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_line(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static bool plain_byte(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
}

/* A value: bare when it is one plain word, else quoted with escapes.  A value
 * too long for the line is cut inside its quotes and ends with "...". */
static void put_value(struct line *l, const char *s, size_t n, bool force_quotes)
{
	static const char hex[] = "0123456789abcdef";
	bool quote = force_quotes || n == 0;

	if (l->full)
		return;
	for (size_t i = 0; i < n && !quote; i++)
		quote = !plain_byte((unsigned char)s[i]);
	if (!quote) {
		put(l, s, n);
		return;
	}
	put(l, "\"", 1);
	for (size_t i = 0; i < n && !l->full; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[4] = {'\\', (char)c, 0, 0};
		size_t len = 2;

		if (c == '\n')
			esc[1] = 'n';
		else if (c == '\r')
			esc[1] = 'r';
		else if (c == '\t')
			esc[1] = 't';
		else if (c < ' ' || c >= 0x7f) {
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			len = 4;
		} else if (c != '"' && c != '\\') {
			esc[0] = (char)c;
			len = 1;
		}
		if (l->len + len + TAIL > l->cap) {
			memcpy(l->buf + l->len, "...", 3); /* TAIL keeps room for it */
			l->len += 3;
			l->full = true;
		} else {
			memcpy(l->buf + l->len, esc, len);
			l->len += len;
		}
	}
	l->buf[l->len++] = '"'; /* TAIL keeps room for it, too */
}

static void put_number(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_number(struct line *l, const char *fmt, ...)
{
	char num[32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, num, (size_t)n < sizeof(num) ? (size_t)n : sizeof(num) - 1);
}

/* The fields format: literal text is copied, each conversion writes its
 * argument.  Formats are constants of ours; the compiler checks them
 * against their arguments as printf formats (log.h). */
static void put_fields(struct line *l, const char *fmt, va_list ap)
{
	const char *p = fmt;

	while (*p != '\0') {
		const char *pct = strchr(p, '%');
		int prec = -1, longs = 0;
		bool size_t_len = false;

		if (pct == NULL) {
			puts_line(l, p);
			return;
		}
		put(l, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == '%') {
			put(l, "%", 1);
			p++;
			continue;
		}
		if (*p == '.') {
			p++;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			} else {
				for (prec = 0; *p >= '0' && *p <= '9'; p++)
					prec = prec * 10 + (*p - '0');
			}
		}
		for (; *p == 'l' && longs < 2; p++)
			longs++;
		if (*p == 'z') {
			size_t_len = true;
			p++;
		}
		switch (*p++) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (s == NULL)
				s = "";
			put_value(l, s, strnlen(s, prec >= 0 ? (size_t)prec : SIZE_MAX), false);
			break;
		}
		case 'd':
		case 'i':
			if (size_t_len)
				put_number(l, "%zd", va_arg(ap, ssize_t));
			else if (longs == 2)
				put_number(l, "%lld", va_arg(ap, long long));
			else if (longs == 1)
				put_number(l, "%ld", va_arg(ap, long));
			else
				put_number(l, "%d", va_arg(ap, int));
			break;
		case 'u':
		case 'x': {
			unsigned long long v;

			if (size_t_len)
				v = va_arg(ap, size_t);
			else if (longs == 2)
				v = va_arg(ap, unsigned long long);
			else if (longs == 1)
				v = va_arg(ap, unsigned long);
			else
				v = va_arg(ap, unsigned);
			put_number(l, p[-1] == 'u' ? "%llu" : "%llx", v);
			break;
		}
		default: /* the argument's type is unknown: nothing after it is safe */
			put(l, "?", 1);
			return;
		}
	}
}

/* "ts=... level=... msg=..." into buf. */
static void begin(struct line *l, char *buf, size_t size, const char *level, const char *msg)
{
	struct timeval tv;
	struct tm tm;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, size,
	             "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (long)tv.tv_usec / 1000, level);
	*l = (struct line){buf, n > 0 ? (size_t)n : 0, size, false};
	put_value(l, msg, strlen(msg), true);
}

static void emit(struct line *l)
{
	l->buf[l->len++] = '\n'; /* TAIL keeps room for it */
	/* One write per line: lines from different threads never interleave. */
	flockfile(stderr);
	fwrite(l->buf, 1, l->len, stderr);
	funlockfile(stderr);
}

static void write_text(const char *level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void write_text(const char *level, const char *fmt, va_list ap)
{
	char msg[MSG_MAX_BYTES], buf[LINE_MAX_BYTES];
	struct line l;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	begin(&l, buf, sizeof(buf), level, msg);
	emit(&l);
}

void ch_log(enum ch_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!ch_log_enabled(level))
		return;
	va_start(ap, fmt);
	write_text(level_names[level], fmt, ap);
	va_end(ap);
}

void ch_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_text("notice", fmt, ap);
	va_end(ap);
}

void ch_log_kv(enum ch_log_level level, const char *msg, const char *fields, ...)
{
	char buf[LINE_MAX_BYTES];
	struct line l;
	va_list ap;

	if (!ch_log_enabled(level))
		return;
	begin(&l, buf, sizeof(buf), level_names[level], msg);
	put(&l, " ", 1);
	va_start(ap, fields);
	put_fields(&l, fields, ap);
	va_end(ap);
	emit(&l);
}

size_t ch_log_format_kv(char *buf, size_t size, const char *level, const char *msg,
                        const char *fields, ...)
{
	struct line l = {buf, 0, size, false};
	va_list ap;

	if (size < TAIL + 1)
		return 0;
	puts_line(&l, "level=");
	puts_line(&l, level);
	puts_line(&l, " msg=");
	put_value(&l, msg, strlen(msg), true);
	put(&l, " ", 1);
	va_start(ap, fields);
	put_fields(&l, fields, ap);
	va_end(ap);
	buf[l.len] = '\0';
	return l.len;
}
