/* units.c - see units.h */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Leading unsigned decimal; rejects signs, spaces and empty input, which
 * strtoul would silently accept. */
static int leading_number(const char *text, unsigned long long *value, const char **rest)
{
	char *end;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	*value = strtoull(text, &end, 10);
	if (errno != 0)
		return -1;
	*rest = end;
	return 0;
}

int ch_parse_size(const char *text, size_t max, size_t *out)
{
	static const struct {
		const char *suffix;
		unsigned long long factor;
	} units[] = {
	    {"", 1},
	    {"b", 1},
	    {"k", 1ULL << 10},
	    {"kb", 1ULL << 10},
	    {"kib", 1ULL << 10},
	    {"m", 1ULL << 20},
	    {"mb", 1ULL << 20},
	    {"mib", 1ULL << 20},
	    {"g", 1ULL << 30},
	    {"gb", 1ULL << 30},
	    {"gib", 1ULL << 30},
	};
	unsigned long long n;
	const char *rest;

	if (leading_number(text, &n, &rest) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(rest, units[i].suffix) != 0)
			continue;
		if (n > max / units[i].factor)
			return -1;
		*out = (size_t)(n * units[i].factor);
		return 0;
	}
	return -1;
}

int ch_parse_duration_ms(const char *text, long max_ms, long *out)
{
	static const struct {
		const char *suffix;
		unsigned long long factor;
	} units[] = {{"", 1000},   {"s", 1000},    {"ms", 1},
	             {"m", 60000}, {"min", 60000}, {"h", 3600000}};
	unsigned long long n;
	const char *rest;

	if (leading_number(text, &n, &rest) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(rest, units[i].suffix) != 0)
			continue;
		if (n > (unsigned long long)max_ms / units[i].factor)
			return -1;
		*out = (long)(n * units[i].factor);
		return 0;
	}
	return -1;
}

int ch_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	/* strtol would also take leading spaces and a '+': "+80" is not a port */
	if (!isdigit((unsigned char)text[0]) &&
	    !(text[0] == '-' && isdigit((unsigned char)text[1])))
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int ch_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}
