/* units.h - parsing the numbers people write in config files and flags. */
#ifndef CH_UNITS_H
#define CH_UNITS_H

#include <stdbool.h>
#include <stddef.h>

/* "1048576", "64k", "1M", "2MiB" (powers of 1024) -> bytes; -1 when malformed or > max. */
int ch_parse_size(const char *text, size_t max, size_t *out);
/* "30", "30s", "500ms", "2m" (bare number = seconds) -> milliseconds; -1 when malformed or >
 * max_ms. */
int ch_parse_duration_ms(const char *text, long max_ms, long *out);
/* Decimal integer within [min, max]; -1 otherwise. */
int ch_parse_long(const char *text, long min, long max, long *out);
/* "yes/no/true/false/on/off/1/0"; -1 otherwise. */
int ch_parse_bool(const char *text, bool *out);

#endif
