/* timefmt.c - RFC 3339 date-times <-> microseconds since the Unix epoch.
 *
 * The conversion is plain proleptic-Gregorian arithmetic (Howard Hinnant's
 * days_from_civil / civil_from_days) so that it depends on neither the
 * process time zone, the locale nor timegm's platform quirks, and behaves
 * the same for 1601 and 2101.
 *
 * What is accepted (RFC 3339 section 5.6, plus one tolerance):
 *   YYYY-MM-DD ('T'|'t') HH:MM:SS [ '.' 1*DIGIT ] [ 'Z' | 'z' | ('+'|'-') HH:MM ]
 * - Fractions of any length are accepted and truncated to microseconds: the
 *   .NET senders write 7 digits ("...39.0157964Z"), others 6 or 9.
 * - A time with no offset at all ("2021-05-05T20:08:39.0157964") is taken as
 *   UTC.  RFC 3339 requires the offset, but sloppy .NET senders serialise
 *   DateTimeKind.Unspecified values without one, and every such value we
 *   have seen was UTC; refusing the event would lose it for good (Event Grid
 *   does not retry a 400), while a wrong zone only skews one column.
 * - "-00:00" (RFC 3339: "offset unknown") is treated as UTC as well.
 * - Second 60 is a leap second.  POSIX time has no slot for it, so it folds
 *   into the following second, exactly as timegm would: 23:59:60.5Z becomes
 *   00:00:00.5 of the next day.  Events are never refused for it.
 * - Years are 0001..9999 as written, and the instant must also lie within
 *   0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z after applying the
 *   offset, so that the normalised text is always four-digit and parses again.
 */
#include "timefmt.h"

#include <stdbool.h>
#include <stdint.h>

#define US_PER_SEC  INT64_C(1000000)
#define SEC_PER_DAY INT64_C(86400)

/* 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in microseconds. */
#define MIN_US (INT64_C(-62135596800) * US_PER_SEC)
#define END_US (INT64_C(253402300800) * US_PER_SEC)

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Exactly n ASCII digits at p; no sign, no spaces (sscanf would allow both). */
static bool digits(const char *p, int n, int *value)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*value = v;
	return true;
}

int ch_time_parse(const char *text, size_t len, int64_t *us)
{
	int year, mon, day, hour, min, sec, oh = 0, om = 0;
	int64_t frac = 0, offset_sec = 0, t;
	size_t i;

	/* "YYYY-MM-DDTHH:MM:SS" is 19 bytes; everything after is optional. */
	if (text == NULL || len < 19)
		return -1;
	if (!digits(text, 4, &year) || text[4] != '-' || !digits(text + 5, 2, &mon) ||
	    text[7] != '-' || !digits(text + 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
	    !digits(text + 11, 2, &hour) || text[13] != ':' || !digits(text + 14, 2, &min) ||
	    text[16] != ':' || !digits(text + 17, 2, &sec))
		return -1;
	if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 60)
		return -1;

	i = 19;
	if (i < len && text[i] == '.') {
		size_t first = ++i;

		for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
			/* Keep six digits; the rest are checked but dropped. */
			if (i - first < 6)
				frac = frac * 10 + (text[i] - '0');
		}
		if (i == first)
			return -1; /* "." with no digit */
		for (size_t k = i - first; k < 6; k++)
			frac *= 10;
	}

	if (i == len) {
		/* No offset: taken as UTC, see the comment at the top. */
	} else if ((text[i] == 'Z' || text[i] == 'z') && i + 1 == len) {
		/* UTC */
	} else if ((text[i] == '+' || text[i] == '-') && len - i == 6 &&
	           digits(text + i + 1, 2, &oh) && text[i + 3] == ':' &&
	           digits(text + i + 4, 2, &om)) {
		if (oh > 23 || om > 59)
			return -1;
		offset_sec = (int64_t)oh * 3600 + om * 60;
		if (text[i] == '-')
			offset_sec = -offset_sec;
	} else {
		return -1;
	}

	/* Local wall time minus its offset is UTC. */
	t = days_from_civil(year, mon, day) * SEC_PER_DAY + hour * 3600 + min * 60 + sec -
	    offset_sec;
	t = t * US_PER_SEC + frac;
	if (t < MIN_US || t >= END_US)
		return -1;
	*us = t;
	return 0;
}

/* Zero-padded decimal of exactly width digits; the clamping below keeps
 * every value within its width (snprintf could not be shown to fit). */
static void put_digits(char *p, int64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

void ch_time_format(int64_t us, char buf[CH_TIME_TEXT_SIZE])
{
	int64_t secs, days, rem, frac, y;
	int m, d;

	/* Clamp rather than overflow buf: ch_time_parse never yields values
	 * outside this range, so only a caller's arithmetic bug gets here. */
	if (us < MIN_US)
		us = MIN_US;
	if (us >= END_US)
		us = END_US - 1;

	/* Floor division: -1 us is 1969-12-31T23:59:59.999999Z. */
	secs = us / US_PER_SEC;
	frac = us % US_PER_SEC;
	if (frac < 0) {
		frac += US_PER_SEC;
		secs--;
	}
	days = secs / SEC_PER_DAY;
	rem = secs % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	put_digits(buf, y, 4);
	buf[4] = '-';
	put_digits(buf + 5, m, 2);
	buf[7] = '-';
	put_digits(buf + 8, d, 2);
	buf[10] = 'T';
	put_digits(buf + 11, rem / 3600, 2);
	buf[13] = ':';
	put_digits(buf + 14, rem / 60 % 60, 2);
	buf[16] = ':';
	put_digits(buf + 17, rem % 60, 2);
	buf[19] = '.';
	put_digits(buf + 20, frac, 6);
	buf[26] = 'Z';
	buf[27] = '\0';
}
