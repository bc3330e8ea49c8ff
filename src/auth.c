/* auth.c - see auth.h.
 *
 * Two rules shape everything here:
 *  - whether a request is accepted must not depend on timing that correlates
 *    with the secret: every candidate is compared against every key, through
 *    CRYPTO_memcmp over fixed-size digests, and the verdict is only branched
 *    on once all comparisons are done;
 *  - no message quotes a secret or a presented credential, so error text can
 *    go to logs and HTTP responses as is.
 */
#include "auth.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base64.h"
#include "jwks.h"
#include "jwt.h"
#include "log.h"

#define MIN_KEY_LEN        16
#define DIGEST_LEN         32  /* SHA-256 and HMAC-SHA256 output */
#define SIG_B64_LEN        44  /* base64 of 32 bytes: 43 characters and one '=' */
#define MAX_SIG_ENTRIES    16  /* webhook-signature entries looked at, to bound the work */
#define MAX_WEBHOOK_ID_LEN 256 /* bounds the signed prefix; ids are short in practice */
#define WHSEC_PREFIX       "whsec_"

#define HDR_ID        "webhook-id"
#define HDR_TIMESTAMP "webhook-timestamp"
#define HDR_SIGNATURE "webhook-signature"

/* Internal results of the query parser; ch_query_get folds them into -1. */
enum { Q_ABSENT = -1, Q_MALFORMED = -2, Q_TOO_LONG = -3 };

static int unauthorized(struct ch_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int unauthorized(struct ch_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ch_error_vset(err, 401, "Unauthorized", fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- modes ------------------------------------------------------------ */

int ch_auth_mode_parse(const char *text, enum ch_auth_mode *mode)
{
	if (text == NULL)
		return -1;
	if (strcmp(text, "none") == 0)
		*mode = CH_AUTH_NONE;
	else if (strcmp(text, "secret") == 0)
		*mode = CH_AUTH_SECRET;
	else if (strcmp(text, "hmac") == 0)
		*mode = CH_AUTH_HMAC;
	else if (strcmp(text, "jwt") == 0)
		*mode = CH_AUTH_JWT;
	else
		return -1;
	return 0;
}

const char *ch_auth_mode_name(enum ch_auth_mode mode)
{
	switch (mode) {
	case CH_AUTH_NONE:
		return "none";
	case CH_AUTH_SECRET:
		return "secret";
	case CH_AUTH_HMAC:
		return "hmac";
	case CH_AUTH_JWT:
		return "jwt";
	}
	return "unknown";
}

/* ---- configuration ----------------------------------------------------- */

int ch_auth_add_secret(struct ch_auth *auth, const char *secret, struct ch_error *err)
{
	unsigned char *bytes;
	size_t len;
	bool decoded = false;

	if (secret == NULL)
		return ch_error_set(err, 500, "ConfigError", "secret is missing");
	if (auth->mode == CH_AUTH_NONE)
		/* Refused rather than stored: how a secret is read depends on the
		 * mode, so the mode has to be known first. */
		return ch_error_set(
		    err, 500, "ConfigError",
		    "a secret needs auth mode \"secret\" or \"hmac\", not \"none\"");
	if (auth->mode == CH_AUTH_JWT)
		return ch_error_set(err, 500, "ConfigError",
		                    "auth mode \"jwt\" takes no secret: tokens are checked with "
		                    "the public keys of jwks_file");

	size_t in_len = strlen(secret);
	if (auth->mode == CH_AUTH_HMAC && strncmp(secret, WHSEC_PREFIX, 6) == 0) {
		const char *b64 = secret + 6;
		size_t b64_len = in_len - 6;

		bytes = malloc(b64_len / 4 * 3 + 1);
		if (bytes == NULL)
			return ch_error_set(err, 500, "ConfigError", "out of memory");
		long n = ch_base64_decode(b64, b64_len, bytes);
		if (n < 0) {
			OPENSSL_cleanse(bytes, b64_len / 4 * 3 + 1);
			free(bytes);
			return ch_error_set(err, 500, "ConfigError",
			                    "secret starts with \"whsec_\" but the rest is not "
			                    "valid base64");
		}
		len = (size_t)n;
		decoded = true;
	} else {
		bytes = malloc(in_len + 1);
		if (bytes == NULL)
			return ch_error_set(err, 500, "ConfigError", "out of memory");
		memcpy(bytes, secret, in_len + 1);
		len = in_len;
	}

	if (len < MIN_KEY_LEN) {
		OPENSSL_cleanse(bytes, len);
		free(bytes);
		return ch_error_set(err, 500, "ConfigError", "secret is shorter than %d bytes%s",
		                    MIN_KEY_LEN, decoded ? " after base64 decoding" : "");
	}

	struct ch_auth_key *keys = realloc(auth->keys, (auth->n_keys + 1) * sizeof(*keys));
	if (keys == NULL) {
		OPENSSL_cleanse(bytes, len);
		free(bytes);
		return ch_error_set(err, 500, "ConfigError", "out of memory");
	}
	auth->keys = keys;
	auth->keys[auth->n_keys].bytes = bytes;
	auth->keys[auth->n_keys].len = len;
	auth->n_keys++;
	return 0;
}

int ch_auth_validate(const struct ch_auth *auth, struct ch_error *err)
{
	switch (auth->mode) {
	case CH_AUTH_NONE:
		return 0;
	case CH_AUTH_SECRET:
		if (auth->n_keys == 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "auth mode \"secret\" needs at least one secret");
		if (auth->query_param == NULL && auth->header == NULL)
			return ch_error_set(err, 500, "ConfigError",
			                    "auth mode \"secret\" needs a query parameter or a "
			                    "header to read the secret from");
		return 0;
	case CH_AUTH_HMAC:
		if (auth->n_keys == 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "auth mode \"hmac\" needs at least one secret");
		if (auth->tolerance_s <= 0)
			return ch_error_set(
			    err, 500, "ConfigError",
			    "auth mode \"hmac\" needs a timestamp tolerance above 0 s");
		return 0;
	case CH_AUTH_JWT:
		/* Fail closed: without an audience any token Call Automation ever
		 * signed, for anyone's resource, would be accepted. */
		if (auth->jwt_audience == NULL || auth->jwt_audience[0] == '\0')
			return ch_error_set(err, 500, "ConfigError",
			                    "auth mode \"jwt\" needs jwt_audience (the ACS "
			                    "resource id tokens are issued for)");
		if (auth->jwks_file == NULL)
			return ch_error_set(err, 500, "ConfigError",
			                    "auth mode \"jwt\" needs jwks_file (a JSON Web Key "
			                    "Set file)");
		if (auth->jwks_file[0] != '/')
			return ch_error_set(err, 500, "ConfigError",
			                    "jwks_file must be an absolute path (it is re-read "
			                    "after callhookd changes to /)");
		if (auth->jwt_issuer != NULL && auth->jwt_issuer[0] == '\0')
			return ch_error_set(err, 500, "ConfigError", "jwt_issuer is empty");
		if (auth->jwt_clock_skew_s < 0 || auth->jwt_clock_skew_s > CH_JWT_MAX_SKEW_S)
			return ch_error_set(err, 500, "ConfigError",
			                    "jwt_clock_skew must be 0 to %d s", CH_JWT_MAX_SKEW_S);
		if (auth->jwt_max_lifetime_s <= 0)
			return ch_error_set(err, 500, "ConfigError",
			                    "jwt_max_lifetime must be above 0 s");
		return 0;
	}
	return ch_error_set(err, 500, "ConfigError", "unknown auth mode");
}

int ch_auth_prepare(struct ch_auth *auth, struct ch_error *err)
{
	struct ch_error jerr;

	if (ch_auth_validate(auth, err) < 0)
		return -1;
	if (auth->mode != CH_AUTH_JWT || auth->jwks != NULL)
		return 0;
	if (ch_jwks_file_open(auth->jwks_file, &auth->jwks, &jerr) < 0)
		return ch_error_set(err, 500, "ConfigError", "jwks_file %s", jerr.message);
	return 0;
}

void ch_auth_free(struct ch_auth *auth)
{
	if (auth == NULL)
		return;
	for (size_t i = 0; i < auth->n_keys; i++) {
		if (auth->keys[i].bytes != NULL)
			OPENSSL_cleanse(auth->keys[i].bytes, auth->keys[i].len);
		free(auth->keys[i].bytes);
	}
	free(auth->keys);
	free(auth->query_param);
	free(auth->header);
	free(auth->jwks_file);
	free(auth->jwt_issuer);
	free(auth->jwt_audience);
	ch_jwks_file_free(auth->jwks);
	memset(auth, 0, sizeof(*auth));
}

/* ---- helpers shared with other modules ---------------------------------- */

const char *ch_header_get(const struct ch_header *headers, size_t n, const char *name)
{
	if (headers == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (headers[i].name != NULL && strcasecmp(headers[i].name, name) == 0)
			return headers[i].value;
	return NULL;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one percent-encoded byte starting at s[*i] (s has len bytes): "%XX"
 * or the byte itself.  '+' stays '+': in a URI query (RFC 3986) it is a
 * literal, and ACS delivers the callbackUri exactly as the user wrote it, so a
 * base64 secret "ab+c" must match as written.  Returns the byte, or -1 on a
 * malformed escape. */
static int form_byte(const char *s, size_t len, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];

	if (c != '%') {
		(*i)++;
		return c;
	}
	if (len - *i < 3)
		return -1;
	int hi = hex_value((unsigned char)s[*i + 1]);
	int lo = hex_value((unsigned char)s[*i + 2]);
	if (hi < 0 || lo < 0)
		return -1;
	*i += 3;
	return hi * 16 + lo;
}

/* Does the encoded span s[0..len) decode to exactly name?  Decoding as we go
 * keeps parameter names of any length off the stack and the heap. */
static bool form_equals(const char *s, size_t len, const char *name)
{
	size_t i = 0, j = 0;

	while (i < len) {
		int c = form_byte(s, len, &i);
		if (c < 0 || name[j] == '\0' || (unsigned char)name[j] != c)
			return false;
		j++;
	}
	return name[j] == '\0';
}

/* Like ch_query_get, but tells absent, malformed and too long apart. */
static long query_find(const char *query, const char *name, char *out, size_t out_size)
{
	if (query == NULL || name == NULL)
		return Q_ABSENT;

	const char *p = query;
	for (;;) {
		size_t seg = strcspn(p, "&");
		const char *eq = memchr(p, '=', seg);
		size_t name_len = eq != NULL ? (size_t)(eq - p) : seg;

		/* The first occurrence wins, as with headers. */
		if (seg > 0 && form_equals(p, name_len, name)) {
			const char *v = eq != NULL ? eq + 1 : p + seg;
			size_t v_len = (size_t)(p + seg - v);
			size_t o = 0;

			for (size_t i = 0; i < v_len;) {
				int c = form_byte(v, v_len, &i);
				if (c < 0)
					return Q_MALFORMED;
				if (o + 1 >= out_size)
					return Q_TOO_LONG;
				out[o++] = (char)c;
			}
			if (out_size == 0)
				return Q_TOO_LONG;
			out[o] = '\0';
			return (long)o;
		}
		if (p[seg] == '\0')
			return Q_ABSENT;
		p += seg + 1;
	}
}

long ch_query_get(const char *query, const char *name, char *out, size_t out_size)
{
	long n = query_find(query, name, out, out_size);
	return n < 0 ? -1 : n;
}

/* ---- secret mode -------------------------------------------------------- */

static int sha256(const void *data, size_t len, unsigned char out[DIGEST_LEN])
{
	return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/* Does the credential match any key?  Both sides are hashed first so that
 * CRYPTO_memcmp sees equal sizes and the key length does not leak; every key
 * is compared, with no early exit, so the position of the match does not
 * leak either.  Returns 1 on a match, 0 on none, -1 when hashing failed. */
static int secret_matches(const struct ch_auth *auth, const char *cred, size_t cred_len)
{
	unsigned char presented[DIGEST_LEN], expected[DIGEST_LEN];
	int match = 0, failed = 0;

	if (sha256(cred, cred_len, presented) < 0)
		return -1;
	for (size_t k = 0; k < auth->n_keys; k++) {
		failed |= sha256(auth->keys[k].bytes, auth->keys[k].len, expected) < 0;
		match |= CRYPTO_memcmp(presented, expected, DIGEST_LEN) == 0;
	}
	OPENSSL_cleanse(presented, sizeof(presented));
	OPENSSL_cleanse(expected, sizeof(expected));
	return failed ? -1 : match;
}

/* "Bearer <token>" -> "<token>" (scheme case-insensitive, RFC 7235); a value
 * without the scheme is taken as is, so a sender that puts the bare secret in
 * Authorization still works. */
static const char *strip_bearer(const char *value)
{
	if (strncasecmp(value, "Bearer", 6) == 0 && (value[6] == ' ' || value[6] == '\t')) {
		value += 6;
		while (*value == ' ' || *value == '\t')
			value++;
	}
	return value;
}

static int check_secret(const struct ch_auth *auth, const struct ch_auth_request *req,
                        struct ch_error *err)
{
	char *qbuf = NULL;
	size_t qbuf_size = 0;
	long q_len = Q_ABSENT;
	const char *hval = NULL;
	int rc;

	if (auth->query_param != NULL && req->query != NULL) {
		/* Decoding never lengthens, so a buffer the size of the whole query
		 * always holds the value: "too long" cannot happen. */
		qbuf_size = strlen(req->query) + 1;
		qbuf = malloc(qbuf_size);
		if (qbuf == NULL)
			return ch_error_set(err, 500, "InternalError", "out of memory");
		q_len = query_find(req->query, auth->query_param, qbuf, qbuf_size);
	}
	if (auth->header != NULL) {
		hval = ch_header_get(req->headers, req->n_headers, auth->header);
		if (hval != NULL && strcasecmp(auth->header, "Authorization") == 0)
			hval = strip_bearer(hval);
	}

	if (q_len == Q_MALFORMED) {
		rc = unauthorized(err,
		                  "credential in query parameter \"%s\" is not valid "
		                  "percent-encoding",
		                  auth->query_param);
		goto out;
	}
	if (q_len < 0 && hval == NULL) {
		if (auth->query_param != NULL && auth->header != NULL)
			rc = unauthorized(err,
			                  "missing credential: query parameter \"%s\" or header "
			                  "\"%s\"",
			                  auth->query_param, auth->header);
		else if (auth->query_param != NULL)
			rc = unauthorized(err, "missing credential: query parameter \"%s\"",
			                  auth->query_param);
		else if (auth->header != NULL)
			rc = unauthorized(err, "missing credential: header \"%s\"", auth->header);
		else
			rc = ch_error_set(
			    err, 500, "ConfigError",
			    "auth mode \"secret\" has nowhere to read the secret from");
		goto out;
	}

	/* When both places carry a credential, either one matching is enough:
	 * an attacker gains nothing from sending two guesses instead of one,
	 * and a sender moving from the query to the header keeps working. */
	int match = 0, failed = 0;
	if (q_len >= 0) {
		int m = secret_matches(auth, qbuf, (size_t)q_len);
		failed |= m < 0;
		match |= m > 0;
	}
	if (hval != NULL) {
		int m = secret_matches(auth, hval, strlen(hval));
		failed |= m < 0;
		match |= m > 0;
	}
	if (failed)
		rc = ch_error_set(err, 500, "InternalError", "SHA-256 failed");
	else if (!match)
		rc = unauthorized(err, "credential does not match");
	else
		rc = 0;
out:
	if (qbuf != NULL) {
		OPENSSL_cleanse(qbuf, qbuf_size);
		free(qbuf);
	}
	return rc;
}

/* ---- hmac mode (Standard Webhooks) -------------------------------------- */

/* Unix seconds: ASCII digits only, no sign or spaces, no overflow. */
static int parse_timestamp(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

/* |now - ts| <= tolerance, computed without signed overflow for any inputs. */
static bool within_window(int64_t now, int64_t ts, int64_t tolerance)
{
	uint64_t diff = ts >= now ? (uint64_t)ts - (uint64_t)now : (uint64_t)now - (uint64_t)ts;
	return tolerance >= 0 && diff <= (uint64_t)tolerance;
}

/* HMAC-SHA256(key, id "." ts "." body), streamed so the body is not copied.
 * EVP_DigestSign with an HMAC key works unchanged on OpenSSL 1.1 and 3. */
static int hmac_signed_content(const struct ch_auth_key *key, const char *id, const char *ts,
                               const char *body, size_t body_len, unsigned char out[DIGEST_LEN])
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t out_len = DIGEST_LEN;
	int rc = -1;

	if (key->len > INT_MAX)
		return -1;
	pkey = EVP_PKEY_new_mac_key(EVP_PKEY_HMAC, NULL, key->bytes, (int)key->len);
	ctx = EVP_MD_CTX_new();
	if (pkey == NULL || ctx == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSignUpdate(ctx, id, strlen(id)) != 1 ||
	    EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
	    EVP_DigestSignUpdate(ctx, ts, strlen(ts)) != 1 ||
	    EVP_DigestSignUpdate(ctx, ".", 1) != 1 ||
	    (body_len > 0 && EVP_DigestSignUpdate(ctx, body, body_len) != 1) ||
	    EVP_DigestSignFinal(ctx, out, &out_len) != 1 || out_len != DIGEST_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc;
}

static int check_hmac(const struct ch_auth *auth, const struct ch_auth_request *req,
                      struct ch_error *err)
{
	const char *id = ch_header_get(req->headers, req->n_headers, HDR_ID);
	const char *ts = ch_header_get(req->headers, req->n_headers, HDR_TIMESTAMP);
	const char *sigs = ch_header_get(req->headers, req->n_headers, HDR_SIGNATURE);
	int64_t ts_s;

	if (id == NULL || *id == '\0')
		return unauthorized(err, "missing header " HDR_ID);
	if (ts == NULL || *ts == '\0')
		return unauthorized(err, "missing header " HDR_TIMESTAMP);
	if (sigs == NULL || *sigs == '\0')
		return unauthorized(err, "missing header " HDR_SIGNATURE);
	if (strlen(id) > MAX_WEBHOOK_ID_LEN)
		return unauthorized(err, HDR_ID " is longer than %d bytes", MAX_WEBHOOK_ID_LEN);
	if (parse_timestamp(ts, &ts_s) < 0)
		return unauthorized(err, HDR_TIMESTAMP " is not an integer number of seconds");
	/* Both directions: a timestamp far in the future would otherwise let a
	 * captured request be replayed until that time. */
	if (!within_window(req->now_s, ts_s, auth->tolerance_s))
		return unauthorized(err, "timestamp outside the %lld s replay window",
		                    (long long)auth->tolerance_s);
	/* A repeated webhook-id inside the window is deliberately not rejected:
	 * Standard Webhooks retries redeliver with the same id, and the journal's
	 * dedupe already makes a second delivery idempotent. */

	if (auth->n_keys == 0)
		return ch_error_set(err, 500, "ConfigError", "auth mode \"hmac\" has no secrets");
	unsigned char(*expected)[DIGEST_LEN] = calloc(auth->n_keys, sizeof(*expected));
	if (expected == NULL)
		return ch_error_set(err, 500, "InternalError", "out of memory");
	int failed = 0;
	for (size_t k = 0; k < auth->n_keys; k++)
		failed |= hmac_signed_content(&auth->keys[k], id, ts, req->body, req->body_len,
		                              expected[k]) < 0;
	if (failed) {
		OPENSSL_cleanse(expected, auth->n_keys * sizeof(*expected));
		free(expected);
		return ch_error_set(err, 500, "InternalError", "HMAC-SHA256 failed");
	}

	/* Every v1 entry against every key, no early exit.  Entries with other
	 * version prefixes (v1a is asymmetric) are not ours to judge. */
	int match = 0, n_v1 = 0, n_entries = 0;
	const char *p = sigs;
	while (n_entries < MAX_SIG_ENTRIES) {
		p += strspn(p, " ");
		if (*p == '\0')
			break;
		size_t len = strcspn(p, " ");
		n_entries++;
		if (len == 3 + SIG_B64_LEN && strncmp(p, "v1,", 3) == 0) {
			unsigned char sig[SIG_B64_LEN / 4 * 3];
			n_v1++;
			if (ch_base64_decode(p + 3, SIG_B64_LEN, sig) == DIGEST_LEN)
				for (size_t k = 0; k < auth->n_keys; k++)
					match |= CRYPTO_memcmp(sig, expected[k], DIGEST_LEN) == 0;
		} else if (strncmp(p, "v1,", 3) == 0) {
			n_v1++; /* a v1 entry of the wrong size can never match */
		}
		p += len;
	}
	OPENSSL_cleanse(expected, auth->n_keys * sizeof(*expected));
	free(expected);

	if (n_v1 == 0)
		return unauthorized(err, HDR_SIGNATURE " has no v1 signature");
	if (!match)
		return unauthorized(err, "no valid signature");
	return 0;
}

/* ---- jwt mode ------------------------------------------------------------ */

/* Look at the JWKS file again (force: whatever it looks like) and log what
 * came of it.  Returns what ch_jwks_file_refresh returns. */
static int refresh_keys(const struct ch_auth *auth, int64_t now_s, bool force, struct ch_error *err)
{
	int rc = ch_jwks_file_refresh(auth->jwks, now_s, force, err);
	size_t n = ch_jwks_count(ch_jwks_file_keys(auth->jwks));

	/* err->message starts with the path: no separate path field then. */
	if (rc > 0)
		ch_log_kv(CH_LOG_INFO, "auth: jwks_file read again", "path=%s keys=%zu",
		          auth->jwks_file, n);
	else if (rc < 0)
		ch_log_kv(CH_LOG_WARN, "auth: jwks_file unusable, still using the keys read before",
		          "keys=%zu error=%s", n, err->message);
	return rc;
}

int ch_auth_reload(const struct ch_auth *auth, struct ch_error *err)
{
	if (auth->mode != CH_AUTH_JWT || auth->jwks == NULL)
		return 0;
	return refresh_keys(auth, 0, true, err);
}

static int check_jwt(const struct ch_auth *auth, const struct ch_auth_request *req,
                     struct ch_error *err)
{
	const struct ch_jwt_policy policy = {
	    .issuer = auth->jwt_issuer != NULL ? auth->jwt_issuer : CH_JWT_DEFAULT_ISSUER,
	    .audience = auth->jwt_audience,
	    .clock_skew_s = auth->jwt_clock_skew_s,
	    .max_lifetime_s = auth->jwt_max_lifetime_s,
	};
	struct ch_error rerr;
	const char *value, *token;
	size_t len;

	if (auth->jwks == NULL || auth->jwt_audience == NULL)
		return ch_error_set(err, 500, "ConfigError", "auth mode \"jwt\" is not prepared");
	/* A bad new file is logged here and otherwise ignored: the request is
	 * judged by the keys still in use. */
	refresh_keys(auth, req->now_s, false, &rerr);

	value = ch_header_get(req->headers, req->n_headers, "Authorization");
	if (value == NULL)
		return unauthorized(err, "missing header Authorization (Bearer token)");
	token = strip_bearer(value);
	if (token == value)
		return unauthorized(err, "Authorization is not a Bearer token");
	len = strlen(token);
	while (len > 0 && (token[len - 1] == ' ' || token[len - 1] == '\t'))
		len--;
	return ch_jwt_verify(token, len, ch_jwks_file_keys(auth->jwks), &policy, req->now_s, err);
}

int ch_auth_check(const struct ch_auth *auth, const struct ch_auth_request *req,
                  struct ch_error *err)
{
	switch (auth->mode) {
	case CH_AUTH_NONE:
		return 0;
	case CH_AUTH_SECRET:
		return check_secret(auth, req, err);
	case CH_AUTH_HMAC:
		return check_hmac(auth, req, err);
	case CH_AUTH_JWT:
		return check_jwt(auth, req, err);
	}
	return ch_error_set(err, 500, "ConfigError", "unknown auth mode");
}
