/* error.c - see error.h */
#include "error.h"

#include <stdio.h>
#include <string.h>

int ch_error_vset(struct ch_error *err, int status, const char *code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return -1;
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
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
