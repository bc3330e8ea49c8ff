/* error.h - the one error value every layer returns.
 *
 * It carries what the HTTP layer needs to answer (status), a stable code a
 * sender's script can match on, and one readable line for a person.  Messages
 * may quote bounded pieces of input, never a secret.
 */
#ifndef CH_ERROR_H
#define CH_ERROR_H

#include <stdarg.h>

struct ch_error {
	int status;        /* HTTP status to answer with; 0 means no error */
	char code[40];     /* stable machine code, e.g. "InvalidEvent" */
	char message[256]; /* one readable line */
};

/* Record an error; returns -1 so callers can write `return ch_error_set(...)`. */
int ch_error_set(struct ch_error *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ch_error_vset(struct ch_error *err, int status, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
void ch_error_clear(struct ch_error *err);

#endif
