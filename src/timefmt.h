/* timefmt.h - RFC 3339 date-times <-> microseconds since the Unix epoch.
 * Pure arithmetic, no time zone, locale or lock: it runs once per event. */
#ifndef CH_TIMEFMT_H
#define CH_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define CH_TIME_TEXT_SIZE 28 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" and its NUL */

/* RFC 3339 date-time ("2021-05-05T20:08:39.0157964Z", "...+00:00", any number
 * of fraction digits, truncated) to microseconds.  Returns 0 or -1.  What is
 * tolerated beyond RFC 3339 is listed at the top of timefmt.c. */
int ch_time_parse(const char *text, size_t len, int64_t *us);
/* Microseconds as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC), clamped to years
 * 0001..9999 so the text is always fixed-width and parses again. */
void ch_time_format(int64_t us, char buf[CH_TIME_TEXT_SIZE]);

#endif
