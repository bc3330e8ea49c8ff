/* error.c - see error.h */
#include "error.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0; /* cut short, e.g. by the message's size limit */
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Messages quote bounded pieces of input (a path, a config value), which may
 * hold control characters or bytes that are not UTF-8, and the size limit may
 * cut a character in half.  Every message must stay one printable line of
 * valid UTF-8: it goes into JSON answers, logs and terminals.  Each offending
 * byte becomes '?'. */
static void make_printable(char *msg)
{
	unsigned char *p = (unsigned char *)msg;
	size_t n = strlen(msg);

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(p + i, n - i);

		if (len == 0 || (len == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			p[i++] = '?';
			continue;
		}
		i += len;
	}
}

int ch_error_vset(struct ch_error *err, int status, const char *code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return -1;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	make_printable(err->message);
	return -1;
}

int ch_error_set(struct ch_error *err, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ch_error_vset(err, status, code, fmt, ap);
	va_end(ap);
	return -1;
}

void ch_error_clear(struct ch_error *err)
{
	if (err == NULL)
		return;
	err->status = 0;
	err->code[0] = '\0';
	err->message[0] = '\0';
}
