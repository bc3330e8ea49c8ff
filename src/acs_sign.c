/* acs_sign.c - see acs_sign.h.
 *
 * Everything here is byte-exact with what the Azure SDKs sign (the string to
 * sign, the RFC 1123 date, standard padded base64), because the real service
 * checks our requests and the emulator checks them the way the service does.
 * The date is formatted and parsed by hand: strftime's %a and %b follow the
 * locale, and the signature must not.
 */
#include "acs_sign.h"

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base64.h"
#include "timefmt.h"

#define SIGNED_HEADERS "x-ms-date;host;x-ms-content-sha256"
#define DIGEST_LEN     32
/* base64 of a key of CH_ACS_KEY_MAX bytes */
#define KEY_B64_MAX ((CH_ACS_KEY_MAX + 2) / 3 * 4)

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int ch_acs_decode_key(const char *base64, unsigned char *key, size_t *key_len, struct ch_error *err)
{
	unsigned char buf[KEY_B64_MAX / 4 * 3];
	size_t len;
	long n;

	if (base64 == NULL || base64[0] == '\0')
		return ch_error_set(err, 500, "ConfigError", "the access key is empty");
	len = strlen(base64);
	if (len > KEY_B64_MAX)
		return ch_error_set(err, 500, "ConfigError",
		                    "the access key is longer than %d bytes", CH_ACS_KEY_MAX);
	n = ch_base64_decode(base64, len, buf);
	if (n <= 0) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return ch_error_set(err, 500, "ConfigError", "the access key is not valid base64");
	}
	memcpy(key, buf, (size_t)n);
	*key_len = (size_t)n;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/* ---- connection string ------------------------------------------------- */

/* "http[s]://host[:port][/]" into "scheme://host[:port]": no user info, path,
 * query or fragment, because requests are made of endpoint + path. */
static int parse_endpoint(const char *v, size_t n, char *out, size_t out_size, struct ch_error *err)
{
	const char *scheme;
	size_t skip, host_len, port_len = 0;
	const char *host, *p, *end = v + n;

	if (n >= 8 && strncasecmp(v, "https://", 8) == 0)
		scheme = "https", skip = 8;
	else if (n >= 7 && strncasecmp(v, "http://", 7) == 0)
		scheme = "http", skip = 7;
	else
		return ch_error_set(
		    err, 500, "ConfigError",
		    "connection string: endpoint must start with https:// or http://");
	if (n > 0 && v[n - 1] == '/')
		end--; /* the portal's form ends in "/" */
	host = v + skip;
	if (host < end && *host == '[') {
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL || p == host + 1)
			return ch_error_set(err, 500, "ConfigError",
			                    "connection string: endpoint has a bad IPv6 address");
		for (const char *q = host + 1; q < p; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return ch_error_set(
				    err, 500, "ConfigError",
				    "connection string: endpoint has a bad IPv6 address");
		p++;
	} else {
		for (p = host; p < end && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
				return ch_error_set(
				    err, 500, "ConfigError",
				    "connection string: endpoint must be scheme://host[:port] "
				    "with no path, query or user");
	}
	host_len = (size_t)(p - host);
	if (host_len == 0)
		return ch_error_set(err, 500, "ConfigError",
		                    "connection string: endpoint has no host");
	if (p < end) {
		unsigned long port = 0;

		if (*p != ':')
			return ch_error_set(
			    err, 500, "ConfigError",
			    "connection string: endpoint must be scheme://host[:port] "
			    "with no path, query or user");
		for (const char *q = p + 1; q < end; q++) {
			if (!isdigit((unsigned char)*q) || port > 65535)
				return ch_error_set(err, 500, "ConfigError",
				                    "connection string: endpoint has a bad port");
			port = port * 10 + (unsigned long)(*q - '0');
		}
		port_len = (size_t)(end - p);
		if (port_len == 1 || port == 0 || port > 65535)
			return ch_error_set(err, 500, "ConfigError",
			                    "connection string: endpoint has a bad port");
	}
	if (strlen(scheme) + 3 + host_len + port_len + 1 > out_size)
		return ch_error_set(err, 500, "ConfigError",
		                    "connection string: endpoint is too long");
	snprintf(out, out_size, "%s://%.*s", scheme, (int)(host_len + port_len), host);
	/* Host names are case-insensitive; a lower-case one signs the same
	 * way whatever the operator typed. */
	for (char *q = out + strlen(scheme) + 3; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

int ch_acs_parse_connection_string(const char *cs, struct ch_acs_credentials *out,
                                   struct ch_error *err)
{
	bool have_endpoint = false, have_key = false;
	char keybuf[KEY_B64_MAX + 1];
	const char *p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (cs == NULL)
		return ch_error_set(err, 500, "ConfigError", "connection string is missing");
	for (p = cs;;) {
		const char *semi = strchr(p, ';');
		size_t part_len = semi ? (size_t)(semi - p) : strlen(p);
		const char *eq = memchr(p, '=', part_len);
		const char *name = p, *value;
		size_t name_len, value_len;

		trim(&name, &part_len);
		if (part_len == 0)
			goto next; /* "a=b;;c=d" or a trailing ';' */
		if (eq == NULL) {
			ch_error_set(err, 500, "ConfigError",
			             "connection string: a part has no '=' (expected "
			             "endpoint=...;accesskey=...)");
			goto out;
		}
		name_len = (size_t)(eq - name);
		value = eq + 1;
		value_len = (size_t)(p + (semi ? (size_t)(semi - p) : strlen(p)) - value);
		trim(&name, &name_len);
		trim(&value, &value_len);
		if (name_len == 8 && strncasecmp(name, "endpoint", 8) == 0) {
			if (have_endpoint) {
				ch_error_set(err, 500, "ConfigError",
				             "connection string: endpoint is given twice");
				goto out;
			}
			if (parse_endpoint(value, value_len, out->endpoint, sizeof(out->endpoint),
			                   err) < 0)
				goto out;
			have_endpoint = true;
		} else if (name_len == 9 && strncasecmp(name, "accesskey", 9) == 0) {
			if (have_key) {
				ch_error_set(err, 500, "ConfigError",
				             "connection string: accesskey is given twice");
				goto out;
			}
			if (value_len > KEY_B64_MAX) {
				ch_error_set(err, 500, "ConfigError",
				             "connection string: accesskey is longer than %d bytes",
				             CH_ACS_KEY_MAX);
				goto out;
			}
			memcpy(keybuf, value, value_len);
			keybuf[value_len] = '\0';
			if (ch_acs_decode_key(keybuf, out->key, &out->key_len, err) < 0) {
				ch_error_set(err, 500, "ConfigError", "connection string: %s",
				             value_len == 0 ? "accesskey is empty"
				                            : "accesskey is not valid base64");
				goto out;
			}
			have_key = true;
		} else {
			/* The name is not secret; quoting it helps with typos. */
			ch_error_set(err, 500, "ConfigError",
			             "connection string: unknown key \"%.*s\" (expected endpoint "
			             "and accesskey)",
			             (int)(name_len > 40 ? 40 : name_len), name);
			goto out;
		}
	next:
		if (semi == NULL)
			break;
		p = semi + 1;
	}
	if (!have_endpoint)
		ch_error_set(err, 500, "ConfigError", "connection string: endpoint is missing");
	else if (!have_key)
		ch_error_set(err, 500, "ConfigError", "connection string: accesskey is missing");
	else
		rc = 0;
out:
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	if (rc < 0)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

/* ---- signing ----------------------------------------------------------- */

void ch_acs_content_hash(const void *body, size_t len, char out[CH_ACS_HASH_LEN])
{
	unsigned char md[DIGEST_LEN];
	unsigned int md_len = 0;

	EVP_Digest(body != NULL ? body : "", body != NULL ? len : 0, md, &md_len, EVP_sha256(),
	           NULL);
	EVP_EncodeBlock((unsigned char *)out, md, DIGEST_LEN);
}

void ch_acs_date(time_t t, char out[CH_ACS_DATE_LEN])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, CH_ACS_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, tm.tm_hour,
	         tm.tm_min, tm.tm_sec);
}

static int hmac(const unsigned char *key, size_t key_len, const char *method,
                const char *path_and_query, const char *date, const char *host,
                const char *content_hash, unsigned char md[DIGEST_LEN])
{
	/* The string to sign is "METHOD\npath\ndate;host;hash"; fed in pieces
	 * so no buffer has to be sized for the path. */
	const char *pieces[] = {method, "\n", path_and_query, "\n", date, ";",
	                        host,   ";",  content_hash};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	size_t out_len = 0;
	int rc = -1;

	if (ctx == NULL || key_len == 0 || !EVP_MAC_init(ctx, key, key_len, params))
		goto out;
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++)
		if (!EVP_MAC_update(ctx, (const unsigned char *)pieces[i], strlen(pieces[i])))
			goto out;
	if (EVP_MAC_final(ctx, md, &out_len, DIGEST_LEN) && out_len == DIGEST_LEN)
		rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

int ch_acs_authorization(const unsigned char *key, size_t key_len, const char *method,
                         const char *path_and_query, const char *date, const char *host,
                         const char *content_hash, char *out, size_t out_size)
{
	static const char prefix[] = "HMAC-SHA256 SignedHeaders=" SIGNED_HEADERS "&Signature=";
	unsigned char md[DIGEST_LEN];

	if (out_size < sizeof(prefix) + CH_ACS_HASH_LEN - 1)
		return -1;
	if (hmac(key, key_len, method, path_and_query, date, host, content_hash, md) < 0)
		return -1;
	memcpy(out, prefix, sizeof(prefix) - 1);
	EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, md, DIGEST_LEN);
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* ---- verification ------------------------------------------------------ */

static int unauthorized(struct ch_error *err, const char *msg)
{
	return ch_error_set(err, 401, "Unauthorized", "%s", msg);
}

static int two_digits(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "Thu, 26 Nov 2026 04:00:00 GMT" (exactly that shape) to seconds. */
static int parse_date(const char *s, time_t *out)
{
	char rfc3339[64];
	int wday = -1, mon = -1, day, year, hh, mm, ss;
	int64_t us;

	if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
	    s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
	    strcmp(s + 25, " GMT") != 0)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncmp(s, wdays[i], 3) == 0)
			wday = i;
	for (int i = 0; i < 12; i++)
		if (strncmp(s + 8, months[i], 3) == 0)
			mon = i;
	day = two_digits(s + 5);
	year = two_digits(s + 12) * 100 + two_digits(s + 14);
	hh = two_digits(s + 17);
	mm = two_digits(s + 20);
	ss = two_digits(s + 23);
	if (wday < 0 || mon < 0 || day < 1 || year < 1970 || hh < 0 || mm < 0 || ss < 0 ||
	    two_digits(s + 12) < 0 || two_digits(s + 14) < 0)
		return -1;
	snprintf(rfc3339, sizeof(rfc3339), "%04d-%02d-%02dT%02d:%02d:%02dZ", year, mon + 1, day, hh,
	         mm, ss);
	if (ch_time_parse(rfc3339, strlen(rfc3339), &us) < 0)
		return -1;
	/* 1970-01-01 was a Thursday; a wrong day name means a wrong date. */
	int64_t days = us / 86400000000LL;
	if ((int)((days + 4) % 7) != wday)
		return -1;
	*out = (time_t)(us / 1000000);
	return 0;
}

int ch_acs_verify(const unsigned char *key, size_t key_len, const char *method,
                  const char *path_and_query, const char *host, const char *date_header,
                  const char *content_hash_header, const char *authorization_header,
                  const void *body, size_t body_len, time_t now, int max_skew_s,
                  struct ch_error *err)
{
	static const char scheme[] = "HMAC-SHA256 ";
	char hash[CH_ACS_HASH_LEN];
	unsigned char expected[DIGEST_LEN], presented[(CH_ACS_HASH_LEN - 1) / 4 * 3];
	const char *p, *signed_headers = NULL, *signature = NULL;
	size_t sh_len = 0, sig_len = 0;
	time_t when;
	long n;
	int equal;

	if (content_hash_header == NULL)
		return unauthorized(err, "x-ms-content-sha256 header is missing");
	ch_acs_content_hash(body, body_len, hash);
	if (strlen(content_hash_header) != strlen(hash) ||
	    CRYPTO_memcmp(content_hash_header, hash, strlen(hash)) != 0)
		return unauthorized(err, "x-ms-content-sha256 does not match the body");

	if (date_header == NULL)
		return unauthorized(err, "x-ms-date header is missing");
	if (parse_date(date_header, &when) < 0)
		return unauthorized(err, "x-ms-date is not an RFC 1123 date");
	if ((when > now && when - now > max_skew_s) || (now > when && now - when > max_skew_s))
		return ch_error_set(err, 401, "Unauthorized",
		                    "x-ms-date is more than %d s away from the server's clock",
		                    max_skew_s);

	if (authorization_header == NULL)
		return unauthorized(err, "Authorization header is missing");
	if (strncasecmp(authorization_header, scheme, sizeof(scheme) - 1) != 0)
		return unauthorized(err, "Authorization must use the HMAC-SHA256 scheme");
	/* "SignedHeaders=...&Signature=...", in either order */
	for (p = authorization_header + sizeof(scheme) - 1; *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > 14 && strncasecmp(p, "SignedHeaders=", 14) == 0 && !signed_headers)
			signed_headers = p + 14, sh_len = len - 14;
		else if (len > 10 && strncasecmp(p, "Signature=", 10) == 0 && !signature)
			signature = p + 10, sig_len = len - 10;
		else
			return unauthorized(err, "Authorization has an unexpected or repeated part "
			                         "(expected SignedHeaders=...&Signature=...)");
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	if (signed_headers == NULL)
		return unauthorized(err, "Authorization has no SignedHeaders");
	if (sh_len != strlen(SIGNED_HEADERS) ||
	    strncasecmp(signed_headers, SIGNED_HEADERS, sh_len) != 0)
		return unauthorized(err, "Authorization must sign exactly " SIGNED_HEADERS);
	if (signature == NULL)
		return unauthorized(err, "Authorization has no Signature");
	if (sig_len != CH_ACS_HASH_LEN - 1)
		return unauthorized(err, "Authorization Signature is not a base64 HMAC-SHA256");
	{
		char sig[CH_ACS_HASH_LEN];

		memcpy(sig, signature, sig_len);
		sig[sig_len] = '\0';
		n = ch_base64_decode(sig, sig_len, presented);
	}
	if (n != DIGEST_LEN)
		return unauthorized(err, "Authorization Signature is not a base64 HMAC-SHA256");
	if (hmac(key, key_len, method, path_and_query, date_header, host, content_hash_header,
	         expected) < 0)
		return ch_error_set(err, 500, "InternalError", "HMAC-SHA256 failed");
	equal = CRYPTO_memcmp(expected, presented, DIGEST_LEN) == 0;
	OPENSSL_cleanse(expected, sizeof(expected));
	if (!equal)
		return unauthorized(err, "the request signature does not match");
	return 0;
}
