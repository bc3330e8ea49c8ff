/* jwt.h - verifying an RS256 JSON Web Token (RFC 7519) the way Azure
 * Communication Services Call Automation signs its callbacks.
 *
 * Only what that sender needs is accepted: the compact JWS form, header alg
 * exactly "RS256", a kid naming a key of the configured key set, an iss equal
 * to the configured issuer, an aud equal to (or, as an array, containing) the
 * configured audience, and exp / iat (nbf optional) inside a bounded clock
 * skew and a bounded lifetime.  Anything else is refused; no message ever
 * quotes the token (a kid, which only names a public key, may be quoted).
 */
#ifndef CH_JWT_H
#define CH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "jwks.h"

#define CH_JWT_MAX_TOKEN      8192 /* bytes of header.payload.signature */
#define CH_JWT_DEFAULT_ISSUER "https://acscallautomation.communication.azure.com"
#define CH_JWT_MAX_SKEW_S     300

struct ch_jwt_policy {
	const char *issuer;     /* iss must equal this */
	const char *audience;   /* aud must equal this, or contain it */
	int64_t clock_skew_s;   /* tolerance on exp, nbf and iat; 0..CH_JWT_MAX_SKEW_S */
	int64_t max_lifetime_s; /* exp - iat may not exceed this */
};

/* 0 when token (len bytes, no "Bearer ") verifies with a key of keys and
 * satisfies policy at now_s.  Otherwise -1 with err = 401 "InvalidToken" and
 * what was wrong ("token expired", "wrong audience", "unknown key id ...",
 * "signature does not verify", "alg must be RS256" ...), or a 500 when
 * OpenSSL itself failed. */
int ch_jwt_verify(const char *token, size_t len, const struct ch_jwks *keys,
                  const struct ch_jwt_policy *policy, int64_t now_s, struct ch_error *err);

/* Strict base64url (RFC 4648 section 5) as JOSE uses it: no padding, no
 * whitespace, nothing outside [A-Za-z0-9_-], a length that is not 1 mod 4,
 * and zero unused bits in the last character, so every byte string has
 * exactly one accepted encoding.  Writes at most len / 4 * 3 + 2 bytes.
 * Returns the decoded length, or -1 when in is not valid or out_size is too
 * small. */
long ch_b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_size);

/* The member key of JSON object obj: 0 with *out set (NULL when absent), or
 * -1 when the key occurs more than once.  JOSE (RFC 7515 section 4) lets a
 * parser refuse duplicates, and must: two parsers picking different copies
 * of "alg" or "aud" is how tokens get accepted that should not be. */
struct ch_json;
int ch_jwt_member(const struct ch_json *obj, const char *key, const struct ch_json **out);

#endif
