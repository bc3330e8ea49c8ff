/* auth.h - authenticating a callback request, per listener path.
 *
 * Modes (configured per [endpoint PATH] section, see callhookd.conf(5)):
 *   none   - no check; only allowed when the daemon listens on loopback
 *   secret - a shared secret in a query parameter and/or a header, the way ACS
 *            users secure their callbackUri ("?code=..."); several secrets may be
 *            active at once for rotation
 *   hmac   - Standard Webhooks signatures: webhook-id, webhook-timestamp,
 *            webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>",
 *            space separated), secrets "whsec_<base64>" (or raw), a replay window
 *            on the timestamp; several secrets for rotation
 *   jwt    - an RS256 token in "Authorization: Bearer", the way Call Automation
 *            signs its callbacks: keys from a local JWKS file (re-read when it
 *            changes), issuer, audience, bounded clock skew and lifetime
 *            (jwt.h, jwks.h)
 * Every comparison is constant time (CRYPTO_memcmp over digests of equal size),
 * and no message ever contains a secret or a presented credential.
 */
#ifndef CH_AUTH_H
#define CH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h" /* struct ch_header */
#include "error.h"

enum ch_auth_mode { CH_AUTH_NONE, CH_AUTH_SECRET, CH_AUTH_HMAC, CH_AUTH_JWT };

struct ch_jwks_file;

struct ch_auth_key {
	unsigned char *bytes; /* owned */
	size_t len;
};

struct ch_auth {
	enum ch_auth_mode mode;
	char *query_param;        /* owned; secret mode: query parameter name, NULL = not used */
	char *header;             /* owned; secret mode: header name, NULL = not used */
	struct ch_auth_key *keys; /* owned; secrets (secret mode) or HMAC keys (hmac mode) */
	size_t n_keys;
	int64_t tolerance_s; /* hmac: accepted |now - webhook-timestamp|; default 300 */
	/* jwt mode */
	char *jwks_file;            /* owned; absolute path of the key set */
	char *jwt_issuer;           /* owned; NULL = CH_JWT_DEFAULT_ISSUER */
	char *jwt_audience;         /* owned; the ACS resource id; required */
	int64_t jwt_clock_skew_s;   /* 0..300 */
	int64_t jwt_max_lifetime_s; /* longest exp - iat accepted */
	/* The keys, read by ch_auth_prepare.  The one part of a ch_auth that
	 * changes after start-up: ch_auth_check and ch_auth_reload re-read the
	 * file, which is why they may only be called on one thread (the event
	 * loop's) even though they take a const ch_auth. */
	struct ch_jwks_file *jwks;
};

struct ch_auth_request {
	const char *query; /* raw query string after '?', NULL when none */
	const struct ch_header *headers;
	size_t n_headers;
	const char *body;
	size_t body_len;
	int64_t now_s; /* current Unix time, seconds */
};

/* "none" | "secret" | "hmac" | "jwt" -> mode; -1 when unknown. */
int ch_auth_mode_parse(const char *text, enum ch_auth_mode *mode);
const char *ch_auth_mode_name(enum ch_auth_mode mode);
/* Add one secret.  hmac mode: "whsec_<base64>" is base64-decoded, anything else
 * is used as raw bytes; at least 16 bytes of key.  secret mode: the bytes as
 * given, at least 16.  Returns -1 with a message (never quoting the secret). */
int ch_auth_add_secret(struct ch_auth *auth, const char *secret, struct ch_error *err);
/* Is the configuration usable? (secret mode needs a key and a place to find it,
 * jwt mode an audience and an absolute jwks_file) */
int ch_auth_validate(const struct ch_auth *auth, struct ch_error *err);
/* ch_auth_validate, then load what the mode needs at run time: jwt mode
 * reads its JWKS file (missing or invalid: -1, so start-up fails closed).
 * Idempotent. */
int ch_auth_prepare(struct ch_auth *auth, struct ch_error *err);
/* Re-read the JWKS file now, whether or not it looks changed (for SIGHUP).
 * No-op (0) for other modes.  Returns 1 when new keys are in use, or -1 when
 * the file is unusable and the keys read before stay in use; either way it
 * logs one line itself.  Event loop thread only (see struct ch_auth). */
int ch_auth_reload(const struct ch_auth *auth, struct ch_error *err);
/* 0 when the request is authentic; else -1 with err = 401 "Unauthorized" and a
 * message saying what was wrong (missing header, bad signature, timestamp
 * outside the window...); jwt mode answers a present but bad token with 401
 * "InvalidToken".  jwt mode first re-reads the JWKS file if it changed
 * (looking at most once per second of req->now_s). */
int ch_auth_check(const struct ch_auth *auth, const struct ch_auth_request *req,
                  struct ch_error *err);
void ch_auth_free(struct ch_auth *auth);

/* Helpers shared with other modules. */
const char *ch_header_get(const struct ch_header *headers, size_t n, const char *name);
/* Find parameter name in a raw query string and percent-decode its value into
 * out (NUL-terminated).  Returns the decoded length, or -1 when absent or too long. */
long ch_query_get(const char *query, const char *name, char *out, size_t out_size);

#endif
