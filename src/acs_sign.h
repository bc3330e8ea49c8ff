/* acs_sign.h - HMAC-SHA256 request signing the way Azure Communication
 * Services does it, shared by the daemon's action sender, callhookctl call
 * and callhookd-emulator (which verifies what the other two sign).
 *
 * A request carries three headers:
 *   x-ms-date:           RFC 1123 date, "Thu, 26 Nov 2026 04:00:00 GMT"
 *   x-ms-content-sha256: base64 of SHA-256 of the body (of "" when none)
 *   Authorization:       HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=S
 * where S is base64 of HMAC-SHA256, keyed with the base64-decoded access key,
 * over "METHOD\n<path and query>\n<date>;<host>;<content hash>".
 */
#ifndef CH_ACS_SIGN_H
#define CH_ACS_SIGN_H

#include <stddef.h>
#include <time.h>

#include "error.h"

#define CH_ACS_KEY_MAX 128
#define CH_ACS_HASH_LEN 45 /* base64 of 32 bytes + NUL */
#define CH_ACS_DATE_LEN 30
#define CH_ACS_AUTH_LEN 160

/* What a connection string says. */
struct ch_acs_credentials {
	char endpoint[512]; /* "https://host[:port]", no trailing slash, no path */
	unsigned char key[CH_ACS_KEY_MAX];
	size_t key_len;
};

/* "endpoint=https://x.communication.azure.com/;accesskey=BASE64": keys in any
 * order and case; a missing or malformed part fails with one readable line
 * (never quoting the key). */
int ch_acs_parse_connection_string(const char *cs, struct ch_acs_credentials *out,
                                   struct ch_error *err);
/* A base64 access key on its own (callhookd-emulator --access-key). */
int ch_acs_decode_key(const char *base64, unsigned char *key, size_t *key_len,
                      struct ch_error *err);

/* The x-ms-content-sha256 value of a body. */
void ch_acs_content_hash(const void *body, size_t len, char out[CH_ACS_HASH_LEN]);
/* The x-ms-date value for t. */
void ch_acs_date(time_t t, char out[CH_ACS_DATE_LEN]);
/* The Authorization value; -1 when out is too small. */
int ch_acs_authorization(const unsigned char *key, size_t key_len, const char *method,
                         const char *path_and_query, const char *date, const char *host,
                         const char *content_hash, char *out, size_t out_size);

/* Check a signed request: content hash equal to the body's, date within
 * max_skew_s of now, Authorization well formed and equal to the expected one
 * (compared in constant time).  0, or -1 with a 401 error naming what is wrong. */
int ch_acs_verify(const unsigned char *key, size_t key_len, const char *method,
                  const char *path_and_query, const char *host, const char *date_header,
                  const char *content_hash_header, const char *authorization_header,
                  const void *body, size_t body_len, time_t now, int max_skew_s,
                  struct ch_error *err);

#endif
