/* jwt.c - see jwt.h.
 *
 * The order of the checks is part of the design:
 *  1. shape and size, before anything is decoded;
 *  2. the header alone: alg must be RS256, and only then is kid looked up,
 *     so neither "none" nor an HMAC alg (keyed with the public key: the
 *     classic confusion attack) ever reaches a verifier;
 *  3. the signature, over the two encoded segments exactly as sent;
 *  4. only a payload that verified is parsed for claims.
 */
#include "jwt.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "json.h"

/* Decoded segments are never longer than this. */
#define MAX_DECODED (CH_JWT_MAX_TOKEN / 4 * 3 + 2)
/* Claims of a Call Automation token are flat; a little room for others. */
#define MAX_DEPTH 8
/* Digits of a NumericDate's integer part: far beyond any real date, far
 * below int64 overflow. */
#define MAX_DATE_DIGITS 12

static int invalid(struct ch_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int invalid(struct ch_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ch_error_vset(err, 401, "InvalidToken", fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- base64url and JSON helpers ------------------------------------------- */

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long ch_b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
	size_t rem = len % 4, n = len / 4 * 3 + (rem > 0 ? rem - 1 : 0), o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (rem == 1 || n > out_size || n > (size_t)LONG_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Left-over bits must be zero, or two encodings would decode alike. */
	if (acc != 0)
		return -1;
	return (long)o;
}

int ch_jwt_member(const struct ch_json *obj, const char *key, const struct ch_json **out)
{
	size_t key_len = strlen(key);

	*out = NULL;
	if (obj == NULL || obj->type != CH_JSON_OBJECT)
		return 0;
	for (size_t i = 0; i < obj->u.object.n; i++) {
		if (obj->u.object.key_lens[i] != key_len ||
		    memcmp(obj->u.object.keys[i], key, key_len) != 0)
			continue;
		if (*out != NULL)
			return -1;
		*out = obj->u.object.values[i];
	}
	return 0;
}

/* Is v exactly the string want?  Lengths first, so "iss\u0000x" is no match. */
static bool string_equals(const struct ch_json *v, const char *want)
{
	return v != NULL && v->type == CH_JSON_STRING && v->u.str.len == strlen(want) &&
	       memcmp(v->u.str.ptr, want, v->u.str.len) == 0;
}

/* Decode one segment and parse it as a JSON object. */
static int parse_segment(const char *seg, size_t len, unsigned char *buf, struct ch_json_doc **doc)
{
	const struct ch_json_limits limits = {.max_depth = MAX_DEPTH, .max_string = MAX_DECODED};
	struct ch_error jerr;
	long n = ch_b64url_decode(seg, len, buf, MAX_DECODED);

	*doc = NULL;
	if (n < 0)
		return -1;
	if (ch_json_parse((const char *)buf, (size_t)n, &limits, doc, &jerr) < 0)
		return -2;
	if (ch_json_root(*doc)->type != CH_JSON_OBJECT) {
		ch_json_doc_free(*doc);
		*doc = NULL;
		return -2;
	}
	return 0;
}

/* A kid as it may appear in a message: printable ASCII, at most 64 bytes. */
static void printable(const char *s, size_t len, char out[68])
{
	size_t n = len < 64 ? len : 64, i;

	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	if (len > 64)
		memcpy(out + i, "...", 3), i += 3;
	out[i] = '\0';
}

/* ---- header and signature ----------------------------------------------------- */

/* Check the header; on success *pkey is the key its kid names. */
static int check_header(const struct ch_json *hdr, const struct ch_jwks *keys, EVP_PKEY **pkey,
                        struct ch_error *err)
{
	const struct ch_json *alg, *kid, *crit;
	char shown[68];

	if (ch_jwt_member(hdr, "alg", &alg) < 0 || ch_jwt_member(hdr, "kid", &kid) < 0 ||
	    ch_jwt_member(hdr, "crit", &crit) < 0)
		return invalid(err, "header has a parameter more than once");
	if (!string_equals(alg, "RS256"))
		return invalid(err, "alg must be RS256");
	/* RFC 7515 4.1.11: extensions we do not understand must be refused. */
	if (crit != NULL)
		return invalid(err, "header has \"crit\" extensions, which are not supported");
	if (ch_json_string(kid) == NULL)
		return invalid(err, "header has no kid");
	printable(kid->u.str.ptr, kid->u.str.len, shown);
	if ((*pkey = ch_jwks_find(keys, kid->u.str.ptr, kid->u.str.len)) == NULL)
		return invalid(err, "unknown key id \"%s\"", shown);
	return 0;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 3.3) over signed, signed_len bytes.
 * Returns 1 when it verifies, 0 when not, -1 when OpenSSL failed. */
static int rs256_verifies(EVP_PKEY *pkey, const char *signed_part, size_t signed_len,
                          const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	if (ctx != NULL && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, signed_part, signed_len) == 1)
		rc = EVP_DigestVerifyFinal(ctx, sig, sig_len) == 1 ? 1 : 0;
	EVP_MD_CTX_free(ctx);
	/* A failed verification leaves entries on the thread's error queue;
	 * nothing reads them, and the next OpenSSL caller must not see them. */
	ERR_clear_error();
	return rc;
}

/* ---- claims ------------------------------------------------------------------- */

/* A NumericDate (RFC 7519 2): digits, optionally a fraction; no sign, no
 * exponent.  *secs is the integer part; *fraction whether a nonzero fraction
 * followed.  -1 when v is not such a number. */
static int numeric_date(const struct ch_json *v, int64_t *secs, bool *fraction)
{
	int64_t s = 0;
	size_t i = 0;

	if (v == NULL || v->type != CH_JSON_NUMBER)
		return -1;
	const char *p = v->u.str.ptr;
	size_t len = v->u.str.len;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		if (i >= MAX_DATE_DIGITS)
			return -1;
		s = s * 10 + (p[i] - '0');
	}
	if (i == 0)
		return -1;
	*fraction = false;
	if (i < len && p[i] == '.') {
		size_t start = ++i;
		for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			*fraction |= p[i] != '0';
		if (i == start)
			return -1;
	}
	if (i != len)
		return -1;
	*secs = s;
	return 0;
}

static bool audience_matches(const struct ch_json *aud, const char *want)
{
	if (aud == NULL)
		return false;
	if (aud->type == CH_JSON_STRING)
		return string_equals(aud, want);
	if (aud->type != CH_JSON_ARRAY)
		return false;
	for (size_t i = 0; i < aud->u.array.n; i++)
		if (string_equals(aud->u.array.items[i], want))
			return true;
	return false;
}

static int check_claims(const struct ch_json *claims, const struct ch_jwt_policy *p, int64_t now,
                        struct ch_error *err)
{
	const struct ch_json *iss, *aud, *exp, *nbf, *iat;
	int64_t exp_s, iat_s, nbf_s;
	bool exp_frac, iat_frac, nbf_frac;
	int64_t skew = p->clock_skew_s;

	if (ch_jwt_member(claims, "iss", &iss) < 0 || ch_jwt_member(claims, "aud", &aud) < 0 ||
	    ch_jwt_member(claims, "exp", &exp) < 0 || ch_jwt_member(claims, "nbf", &nbf) < 0 ||
	    ch_jwt_member(claims, "iat", &iat) < 0)
		return invalid(err, "payload has a claim more than once");
	if (!string_equals(iss, p->issuer))
		return invalid(err, "wrong issuer");
	if (!audience_matches(aud, p->audience))
		return invalid(err, "wrong audience");
	if (exp == NULL)
		return invalid(err, "token has no exp");
	if (numeric_date(exp, &exp_s, &exp_frac) < 0)
		return invalid(err, "exp is not a NumericDate");
	if (iat == NULL)
		return invalid(err, "token has no iat");
	if (numeric_date(iat, &iat_s, &iat_frac) < 0)
		return invalid(err, "iat is not a NumericDate");
	/* Fractions round towards refusal: exp down, iat and nbf up. */
	iat_s += iat_frac;
	if (now >= exp_s + skew)
		return invalid(err, "token expired");
	if (nbf != NULL) {
		if (numeric_date(nbf, &nbf_s, &nbf_frac) < 0)
			return invalid(err, "nbf is not a NumericDate");
		if (nbf_s + nbf_frac > now + skew)
			return invalid(err, "token not yet valid (nbf is in the future)");
	}
	if (iat_s > now + skew)
		return invalid(err, "token issued in the future (iat)");
	if (exp_s < iat_s)
		return invalid(err, "exp is before iat");
	if (exp_s - iat_s > p->max_lifetime_s)
		return invalid(err, "token lifetime of %lld s is longer than the %lld s allowed",
		               (long long)(exp_s - iat_s), (long long)p->max_lifetime_s);
	return 0;
}

/* ---- the whole token ------------------------------------------------------------ */

int ch_jwt_verify(const char *token, size_t len, const struct ch_jwks *keys,
                  const struct ch_jwt_policy *policy, int64_t now_s, struct ch_error *err)
{
	unsigned char *buf = NULL;
	struct ch_json_doc *hdr = NULL, *claims = NULL;
	EVP_PKEY *pkey;
	const char *dot1, *dot2;
	int rc = -1;

	if (len == 0)
		return invalid(err, "empty token");
	if (len > CH_JWT_MAX_TOKEN)
		return invalid(err, "token is longer than %d bytes", CH_JWT_MAX_TOKEN);
	dot1 = memchr(token, '.', len);
	dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
		return invalid(err, "not a compact JWS (header.payload.signature)");
	if ((buf = malloc(MAX_DECODED)) == NULL)
		return ch_error_set(err, 500, "InternalError", "out of memory");

	int prc = parse_segment(token, (size_t)(dot1 - token), buf, &hdr);
	if (prc < 0) {
		invalid(err, prc == -1 ? "header is not valid base64url"
		                       : "header is not a JSON object");
		goto out;
	}
	if (check_header(ch_json_root(hdr), keys, &pkey, err) < 0)
		goto out;

	const char *sig_b64 = dot2 + 1;
	long sig_len = ch_b64url_decode(sig_b64, len - (size_t)(sig_b64 - token), buf, MAX_DECODED);
	if (sig_len < 0) {
		invalid(err, "signature is not valid base64url");
		goto out;
	}
	/* RFC 8017 8.2.2: the signature is exactly as long as the modulus. */
	int v = sig_len == EVP_PKEY_size(pkey)
	            ? rs256_verifies(pkey, token, (size_t)(dot2 - token), buf, (size_t)sig_len)
	            : 0;
	if (v < 0) {
		ch_error_set(err, 500, "InternalError", "RSA verification failed to run");
		goto out;
	}
	if (v == 0) {
		invalid(err, "signature does not verify");
		goto out;
	}

	prc = parse_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, &claims);
	if (prc < 0) {
		invalid(err, prc == -1 ? "payload is not valid base64url"
		                       : "payload is not a JSON object");
		goto out;
	}
	rc = check_claims(ch_json_root(claims), policy, now_s, err);
out:
	ch_json_doc_free(hdr);
	ch_json_doc_free(claims);
	free(buf);
	return rc;
}
