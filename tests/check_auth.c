/* check_auth.c - unit tests for auth.c: shared secrets, Standard Webhooks
 * signatures, and the header / query helpers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define TOL 300

/* ---- fixtures ------------------------------------------------------------ */

/* The example from the Standard Webhooks spec ("Verifying webhook
 * authenticity"); recomputed independently with
 *   printf '%s' 'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}' |
 *     openssl dgst -sha256 -mac HMAC -binary -macopt \
 *       hexkey:$(echo MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw | base64 -d | xxd -p -c 256) | base64
 * which prints the same signature. */
static const char SPEC_SECRET[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char SPEC_ID[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char SPEC_TS[] = "1614265330";
static const int64_t SPEC_TS_N = 1614265330;
static const char SPEC_BODY[] = "{\"test\": 2432232314}";
static const char SPEC_SIG[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/* A second whsec_ vector, with a body ending in a newline.  The key is the 32
 * ASCII bytes "Lorem ipsum dolor sit amet, cons".  Computed with
 *   printf '%s' 'msg_2ZbVvI6yMyl8kRUiGOeMGg8XMBp.1735689600.[{"type":...}]
 *   ' > v2.bin      (the body as below, with its trailing newline)
 *   openssl dgst -sha256 -mac HMAC -binary -macopt \
 *     hexkey:4c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e73 v2.bin | base64
 * and cross-checked with Python's hmac module. */
static const char V2_SECRET[] = "whsec_TG9yZW0gaXBzdW0gZG9sb3Igc2l0IGFtZXQsIGNvbnM=";
static const char V2_ID[] = "msg_2ZbVvI6yMyl8kRUiGOeMGg8XMBp";
static const char V2_TS[] = "1735689600";
static const int64_t V2_TS_N = 1735689600;
static const char V2_BODY[] = "[{\"type\":\"Microsoft.Communication.CallConnected\","
                              "\"data\":{\"callConnectionId\":\"421f0b00-1234\"}}]\n";
static const char V2_SIG[] = "v1,zNLNJslCIjj8PZA0Z4FEeozDUI8QyZJXiPFai6bboMA=";

/* A raw (not whsec_) key and a body with a NUL byte in it.  Computed with
 *   printf 'msg_raw.1700000000.a\000b.c\n' > v3.bin
 *   openssl dgst -sha256 -mac HMAC -binary -macopt 'key:raw secret, not base64!' v3.bin | base64
 * and cross-checked with Python's hmac module. */
static const char V3_SECRET[] = "raw secret, not base64!";
static const char V3_ID[] = "msg_raw";
static const char V3_TS[] = "1700000000";
static const int64_t V3_TS_N = 1700000000;
static const char V3_BODY[] = "a\0b.c\n"; /* 6 bytes; sizeof includes the final NUL */
static const char V3_SIG[] = "v1,aoufCln1zgTBCQE8oSvTfTA5dItpD5QuGlUEPr9wf3k=";

/* Secrets for the secret-mode tests. */
static const char SECRET_A[] = "s3cr3t-A-0123456789abcdef";
static const char SECRET_B[] = "s3cr3t-B+/=9876543210zyx"; /* needs percent-encoding in a query */
static const char SECRET_B_ENC[] = "s3cr3t-B%2B%2F%3D9876543210zyx";
static const char WRONG[] = "presented-WRONG-credential-42";

static void auth_init(struct ch_auth *auth, enum ch_auth_mode mode)
{
	memset(auth, 0, sizeof(*auth));
	auth->mode = mode;
	auth->tolerance_s = TOL;
}

static void add_ok(struct ch_auth *auth, const char *secret)
{
	struct ch_error err = {0};
	int rc = ch_auth_add_secret(auth, secret, &err);
	ck_assert_msg(rc == 0, "add_secret failed: %s", err.message);
}

static void secret_auth(struct ch_auth *auth, const char *qp, const char *hdr)
{
	auth_init(auth, CH_AUTH_SECRET);
	auth->query_param = qp != NULL ? strdup(qp) : NULL;
	auth->header = hdr != NULL ? strdup(hdr) : NULL;
	add_ok(auth, SECRET_A);
}

/* Sign like a Standard Webhooks sender would, with OpenSSL's one-shot HMAC()
 * rather than the streaming EVP_DigestSign path auth.c uses. */
static void sign(const void *key, size_t key_len, const char *id, const char *ts, const char *body,
                 size_t body_len, char out[48])
{
	size_t id_len = strlen(id), ts_len = strlen(ts);
	size_t len = id_len + 1 + ts_len + 1 + body_len;
	unsigned char *msg = malloc(len + 1);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	ck_assert_ptr_nonnull(msg);
	memcpy(msg, id, id_len);
	msg[id_len] = '.';
	memcpy(msg + id_len + 1, ts, ts_len);
	msg[id_len + 1 + ts_len] = '.';
	if (body_len > 0)
		memcpy(msg + id_len + ts_len + 2, body, body_len);
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)key_len, msg, len, mac, &mac_len));
	ck_assert_uint_eq(mac_len, 32);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
	free(msg);
}

/* Request with the three Standard Webhooks headers (NULL = leave one out). */
struct hreq {
	struct ch_header h[4];
	struct ch_auth_request req;
};

static void hreq_init(struct hreq *r, const char *id, const char *ts, const char *sig,
                      const char *body, size_t body_len, int64_t now)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->h[n++] = (struct ch_header){"Content-Type", "application/json"};
	if (id != NULL)
		r->h[n++] = (struct ch_header){"webhook-id", id};
	if (ts != NULL)
		r->h[n++] = (struct ch_header){"webhook-timestamp", ts};
	if (sig != NULL)
		r->h[n++] = (struct ch_header){"webhook-signature", sig};
	r->req.headers = r->h;
	r->req.n_headers = n;
	r->req.body = body;
	r->req.body_len = body_len;
	r->req.now_s = now;
}

static int check_spec(const struct ch_auth *auth, const char *sig, int64_t now,
                      struct ch_error *err)
{
	struct hreq r;

	hreq_init(&r, SPEC_ID, SPEC_TS, sig, SPEC_BODY, strlen(SPEC_BODY), now);
	return ch_auth_check(auth, &r.req, err);
}

#define ck_assert_unauthorized(rc, err, needle)                                                    \
	do {                                                                                       \
		ck_assert_int_eq((rc), -1);                                                        \
		ck_assert_int_eq((err).status, 401);                                               \
		ck_assert_str_eq((err).code, "Unauthorized");                                      \
		ck_assert_msg(strstr((err).message, (needle)) != NULL,                             \
		              "message \"%s\" lacks \"%s\"", (err).message, (needle));             \
	} while (0)

/* ---- modes, configuration, lifetime -------------------------------------- */

START_TEST(test_mode_parse_name)
{
	enum ch_auth_mode m = CH_AUTH_SECRET;

	ck_assert_int_eq(ch_auth_mode_parse("none", &m), 0);
	ck_assert_int_eq(m, CH_AUTH_NONE);
	ck_assert_int_eq(ch_auth_mode_parse("secret", &m), 0);
	ck_assert_int_eq(m, CH_AUTH_SECRET);
	ck_assert_int_eq(ch_auth_mode_parse("hmac", &m), 0);
	ck_assert_int_eq(m, CH_AUTH_HMAC);
	ck_assert_int_eq(ch_auth_mode_parse("oauth", &m), -1);
	ck_assert_int_eq(ch_auth_mode_parse("", &m), -1);
	ck_assert_int_eq(ch_auth_mode_parse("hmac ", &m), -1);
	ck_assert_int_eq(ch_auth_mode_parse(NULL, &m), -1);
	ck_assert_int_eq(m, CH_AUTH_HMAC); /* untouched on failure */
	ck_assert_str_eq(ch_auth_mode_name(CH_AUTH_NONE), "none");
	ck_assert_str_eq(ch_auth_mode_name(CH_AUTH_SECRET), "secret");
	ck_assert_str_eq(ch_auth_mode_name(CH_AUTH_HMAC), "hmac");
}
END_TEST

START_TEST(test_add_secret_lengths)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_SECRET);
	ck_assert_int_eq(ch_auth_add_secret(&auth, "Zq7-fifteen-byt", &err), -1); /* 15 */
	ck_assert_int_eq(err.status, 500);
	ck_assert_str_eq(err.code, "ConfigError");
	ck_assert_str_eq(err.message, "secret is shorter than 16 bytes");
	ck_assert_uint_eq(auth.n_keys, 0);
	ck_assert_int_eq(ch_auth_add_secret(&auth, "Zq7-sixteen-byte", &err), 0);
	ck_assert_uint_eq(auth.n_keys, 1);
	ck_assert_uint_eq(auth.keys[0].len, 16);
	ck_assert_mem_eq(auth.keys[0].bytes, "Zq7-sixteen-byte", 16);
	/* secret mode never decodes: whsec_ is just part of the secret */
	ck_assert_int_eq(ch_auth_add_secret(&auth, "whsec_not!base64", &err), 0);
	ck_assert_uint_eq(auth.keys[1].len, 16);
	ck_assert_int_eq(ch_auth_add_secret(&auth, NULL, &err), -1);
	ch_auth_free(&auth);

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	ck_assert_uint_eq(auth.keys[0].len, 24); /* padding is not counted */
	add_ok(&auth, V2_SECRET);
	ck_assert_uint_eq(auth.keys[1].len, 32);
	ck_assert_mem_eq(auth.keys[1].bytes, "Lorem ipsum dolor sit amet, cons", 32);
	add_ok(&auth, V3_SECRET);
	ck_assert_uint_eq(auth.keys[2].len, strlen(V3_SECRET));
	/* "whsec_" + base64 of 15 bytes: long enough as text, too short as a key */
	ck_assert_int_eq(ch_auth_add_secret(&auth, "whsec_MDEyMzQ1Njc4OWFiY2Rl", &err), -1);
	ck_assert_str_eq(err.message, "secret is shorter than 16 bytes after base64 decoding");
	/* 16 bytes with "==" padding: exactly long enough */
	ck_assert_int_eq(ch_auth_add_secret(&auth, "whsec_MDEyMzQ1Njc4OWFiY2RlZg==", &err), 0);
	ck_assert_uint_eq(auth.keys[3].len, 16);
	ck_assert_uint_eq(auth.n_keys, 4);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_add_secret_bad_base64)
{
	static const char *const bad[] = {
	    "whsec_",                                   /* empty */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",    /* length not a multiple of 4 */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",   /* not in the alphabet */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_",   /* base64url is not base64 */
	    "whsec_MfKQ9r8GKYqr=wjUPD8ILPZIo2LaLaSw",   /* '=' in the middle */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa==",   /* fine, but see below */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaL===",   /* three '=' */
	    "whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  /* leading space */
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", /* trailing newline */
	    "whsec_MfKQ9r8GKYqrTwjU PD8ILPZIo2LaLaSw",  /* inner space */
	};
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_HMAC);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ch_auth_add_secret(&auth, bad[i], &err);
		if (i == 5) { /* valid base64 of 22 bytes: accepted */
			ck_assert_int_eq(rc, 0);
			continue;
		}
		ck_assert_msg(rc == -1, "accepted %s", bad[i]);
		ck_assert_str_eq(err.code, "ConfigError");
		ck_assert_msg(strstr(err.message, "not valid base64") != NULL, "%s", err.message);
	}
	ck_assert_uint_eq(auth.n_keys, 1);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_add_secret_mode_none)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_NONE);
	ck_assert_int_eq(ch_auth_add_secret(&auth, SECRET_A, &err), -1);
	ck_assert_str_eq(err.code, "ConfigError");
	ck_assert_uint_eq(auth.n_keys, 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_validate)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_NONE);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), 0);

	auth_init(&auth, CH_AUTH_SECRET);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_str_eq(err.code, "ConfigError");
	ck_assert_ptr_nonnull(strstr(err.message, "at least one secret"));
	add_ok(&auth, SECRET_A);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "query parameter or a header"));
	auth.header = strdup("x-callhookd-secret");
	ck_assert_int_eq(ch_auth_validate(&auth, &err), 0);
	free(auth.header);
	auth.header = NULL;
	auth.query_param = strdup("code");
	ck_assert_int_eq(ch_auth_validate(&auth, &err), 0);
	ch_auth_free(&auth);

	auth_init(&auth, CH_AUTH_HMAC);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "at least one secret"));
	add_ok(&auth, SPEC_SECRET);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), 0);
	auth.tolerance_s = 0;
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "tolerance"));
	auth.tolerance_s = -5;
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_free)
{
	struct ch_auth auth, zero;

	memset(&zero, 0, sizeof(zero));
	ch_auth_free(NULL);
	secret_auth(&auth, "code", "x-secret");
	add_ok(&auth, SECRET_B);
	ch_auth_free(&auth);
	ck_assert_mem_eq(&auth, &zero, sizeof(zero));
	ch_auth_free(&auth); /* again: harmless */
	ck_assert_mem_eq(&auth, &zero, sizeof(zero));
}
END_TEST

START_TEST(test_mode_none)
{
	struct ch_auth auth;
	struct ch_auth_request req = {0};
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_NONE);
	ck_assert_int_eq(ch_auth_check(&auth, &req, &err), 0);
	ck_assert_int_eq(err.status, 0);
}
END_TEST

/* ---- hmac mode -------------------------------------------------------------- */

START_TEST(test_hmac_spec_vector)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	unsigned char key[24];
	char sig[48];

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	/* the test's own signer agrees with the published value */
	memcpy(key, auth.keys[0].bytes, sizeof(key));
	sign(key, sizeof(key), SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), sig);
	ck_assert_str_eq(sig, SPEC_SIG);

	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), 0);
	ck_assert_int_eq(err.status, 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_vector_newline_body)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V2_SECRET);
	hreq_init(&r, V2_ID, V2_TS, V2_SIG, V2_BODY, strlen(V2_BODY), V2_TS_N + 17);
	/* header names arrive in any case */
	r.h[1].name = "Webhook-Id";
	r.h[2].name = "WEBHOOK-TIMESTAMP";
	r.h[3].name = "Webhook-Signature";
	ck_assert_int_eq(ch_auth_check(&auth, &r.req, &err), 0);
	/* without the trailing newline it is another body */
	r.req.body_len--;
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_vector_nul_in_body)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V3_SECRET);
	hreq_init(&r, V3_ID, V3_TS, V3_SIG, V3_BODY, sizeof(V3_BODY) - 1, V3_TS_N);
	ck_assert_int_eq(ch_auth_check(&auth, &r.req, &err), 0);
	/* a verifier that stopped at the NUL would see "a" only */
	r.req.body_len = 1;
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_empty_body)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;
	char sig[48];

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V3_SECRET);
	sign(V3_SECRET, strlen(V3_SECRET), "msg_empty", "1700000000", NULL, 0, sig);
	hreq_init(&r, "msg_empty", "1700000000", sig, NULL, 0, 1700000000);
	ck_assert_int_eq(ch_auth_check(&auth, &r.req, &err), 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_rotation)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V2_SECRET); /* new key first, old one still accepted */
	add_ok(&auth, SPEC_SECRET);
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), 0);
	ch_auth_free(&auth);

	/* and the other way round: a match on the first key survives the
	 * comparisons with the keys after it */
	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	add_ok(&auth, V2_SECRET);
	add_ok(&auth, V3_SECRET);
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), 0);
	ch_auth_free(&auth);

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V2_SECRET);
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), err,
	                       "no valid signature");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_several_signatures)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char hdr[512];

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);

	/* the sender signed with several keys; only the last is ours */
	snprintf(hdr, sizeof(hdr), "%s %s %s", V2_SIG,
	         "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", SPEC_SIG);
	ck_assert_int_eq(check_spec(&auth, hdr, SPEC_TS_N, &err), 0);
	/* the valid one first, others after it */
	snprintf(hdr, sizeof(hdr), "%s %s v1,!!!", SPEC_SIG, V2_SIG);
	ck_assert_int_eq(check_spec(&auth, hdr, SPEC_TS_N, &err), 0);
	/* extra spaces between entries */
	snprintf(hdr, sizeof(hdr), "  %s   %s  ", V2_SIG, SPEC_SIG);
	ck_assert_int_eq(check_spec(&auth, hdr, SPEC_TS_N, &err), 0);
	/* broken entries around a good one do not spoil it */
	snprintf(hdr, sizeof(hdr), "v1,!!! v1, garbage %s v1,", SPEC_SIG);
	ck_assert_int_eq(check_spec(&auth, hdr, SPEC_TS_N, &err), 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_other_versions_ignored)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	const char *b64 = SPEC_SIG + 3;
	char hdr[512];

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);

	/* the right bytes under another version prefix do not count */
	snprintf(hdr, sizeof(hdr), "v1a,%s", b64);
	ck_assert_unauthorized(check_spec(&auth, hdr, SPEC_TS_N, &err), err, "no v1 signature");
	snprintf(hdr, sizeof(hdr), "v2,%s V1,%s", b64, b64);
	ck_assert_unauthorized(check_spec(&auth, hdr, SPEC_TS_N, &err), err, "no v1 signature");
	snprintf(hdr, sizeof(hdr), "%s", b64); /* no prefix at all */
	ck_assert_unauthorized(check_spec(&auth, hdr, SPEC_TS_N, &err), err, "no v1 signature");
	/* and do not get in the way of a v1 one */
	snprintf(hdr, sizeof(hdr), "v1a,%s %s", b64, SPEC_SIG);
	ck_assert_int_eq(check_spec(&auth, hdr, SPEC_TS_N, &err), 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_missing_headers)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;
	size_t body_len = strlen(SPEC_BODY);

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	hreq_init(&r, NULL, SPEC_TS, SPEC_SIG, SPEC_BODY, body_len, SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "missing header webhook-id");
	hreq_init(&r, SPEC_ID, NULL, SPEC_SIG, SPEC_BODY, body_len, SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "missing header webhook-timestamp");
	hreq_init(&r, SPEC_ID, SPEC_TS, NULL, SPEC_BODY, body_len, SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "missing header webhook-signature");
	/* empty counts as missing */
	hreq_init(&r, "", SPEC_TS, SPEC_SIG, SPEC_BODY, body_len, SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "missing header webhook-id");
	hreq_init(&r, SPEC_ID, SPEC_TS, "", SPEC_BODY, body_len, SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "missing header webhook-signature");
	/* no headers at all */
	struct ch_auth_request bare = {.body = SPEC_BODY, .body_len = body_len};
	ck_assert_unauthorized(ch_auth_check(&auth, &bare, &err), err, "missing header");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_bad_signatures)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char hdr[128];
	struct hreq r;
	char body[sizeof(SPEC_BODY)];

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);

	/* bad base64 of the right length */
	ck_assert_unauthorized(
	    check_spec(&auth, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O!=", SPEC_TS_N, &err),
	    err, "no valid signature");
	/* base64url alphabet is not accepted */
	ck_assert_unauthorized(
	    check_spec(&auth, "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", SPEC_TS_N, &err),
	    err, "no valid signature");
	/* unpadded, truncated, too long */
	ck_assert_unauthorized(
	    check_spec(&auth, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", SPEC_TS_N, &err),
	    err, "no valid signature");
	ck_assert_unauthorized(check_spec(&auth, "v1,g0hM9SsE+OTPJTGt", SPEC_TS_N, &err), err,
	                       "no valid signature");
	snprintf(hdr, sizeof(hdr), "%sAAAA", SPEC_SIG);
	ck_assert_unauthorized(check_spec(&auth, hdr, SPEC_TS_N, &err), err, "no valid signature");
	/* one bit flipped in the signature */
	ck_assert_unauthorized(
	    check_spec(&auth, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", SPEC_TS_N, &err),
	    err, "no valid signature");

	/* body modified by one byte */
	memcpy(body, SPEC_BODY, sizeof(body));
	body[10] ^= 1;
	hreq_init(&r, SPEC_ID, SPEC_TS, SPEC_SIG, body, strlen(body), SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	/* body one byte longer */
	hreq_init(&r, SPEC_ID, SPEC_TS, SPEC_SIG, SPEC_BODY, sizeof(SPEC_BODY), SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	/* id and timestamp are covered too */
	hreq_init(&r, "msg_p5jXN8AQM9LWM0D4loKWxJeK", SPEC_TS, SPEC_SIG, SPEC_BODY,
	          strlen(SPEC_BODY), SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	hreq_init(&r, SPEC_ID, "1614265331", SPEC_SIG, SPEC_BODY, strlen(SPEC_BODY), SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	/* leading zeros change the signed text even though the number is the same */
	hreq_init(&r, SPEC_ID, "01614265330", SPEC_SIG, SPEC_BODY, strlen(SPEC_BODY), SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	ch_auth_free(&auth);

	/* wrong key */
	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx");
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), err,
	                       "no valid signature");
	ch_auth_free(&auth);

	/* the same secret taken raw (without whsec_) is a different key */
	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), err,
	                       "no valid signature");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_replay_window)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);

	/* exactly at either edge: accepted */
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N + TOL, &err), 0);
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N - TOL, &err), 0);
	/* one second past: too old */
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N + TOL + 1, &err), err,
	                       "timestamp outside the 300 s replay window");
	/* one second before: too far in the future */
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N - TOL - 1, &err), err,
	                       "timestamp outside the 300 s replay window");
	/* far off in both directions, including values that would overflow a naive
	 * subtraction */
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, 0, &err), err, "replay window");
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, INT64_MAX, &err), err, "replay window");
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, INT64_MIN, &err), err, "replay window");

	/* the window is the configured one */
	auth.tolerance_s = 5;
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N + 5, &err), 0);
	ck_assert_unauthorized(check_spec(&auth, SPEC_SIG, SPEC_TS_N + 6, &err), err,
	                       "timestamp outside the 5 s replay window");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_bad_timestamp)
{
	static const char *const bad[] = {
	    "1614265330a",         "a1614265330", "16142.65330",          "1614265330.0",
	    "-1614265330",         "+1614265330", " 1614265330",          "1614265330 ",
	    "0x60377a72",          "1.6e9",       "99999999999999999999", /* overflows int64 */
	    "9223372036854775808",                                        /* INT64_MAX + 1 */
	};
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hreq_init(&r, SPEC_ID, bad[i], SPEC_SIG, SPEC_BODY, strlen(SPEC_BODY), SPEC_TS_N);
		ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
		                       "webhook-timestamp is not an integer");
	}
	/* INT64_MAX itself parses, and is simply outside the window */
	hreq_init(&r, SPEC_ID, "9223372036854775807", SPEC_SIG, SPEC_BODY, strlen(SPEC_BODY),
	          SPEC_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "replay window");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_limits)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	struct hreq r;
	char id[300], sig[48], hdr[2048];
	const char *bogus = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, V2_SECRET);

	/* webhook-id of exactly 256 bytes: fine; 257: refused before any HMAC */
	memset(id, 'i', 256);
	id[256] = '\0';
	sign(auth.keys[0].bytes, auth.keys[0].len, id, V2_TS, V2_BODY, strlen(V2_BODY), sig);
	hreq_init(&r, id, V2_TS, sig, V2_BODY, strlen(V2_BODY), V2_TS_N);
	ck_assert_int_eq(ch_auth_check(&auth, &r.req, &err), 0);
	id[256] = 'i';
	id[257] = '\0';
	sign(auth.keys[0].bytes, auth.keys[0].len, id, V2_TS, V2_BODY, strlen(V2_BODY), sig);
	hreq_init(&r, id, V2_TS, sig, V2_BODY, strlen(V2_BODY), V2_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err,
	                       "webhook-id is longer than 256 bytes");

	/* the valid signature as the 16th entry is looked at, as the 17th not */
	hdr[0] = '\0';
	for (int i = 0; i < 15; i++) {
		strcat(hdr, bogus);
		strcat(hdr, " ");
	}
	strcat(hdr, V2_SIG);
	hreq_init(&r, V2_ID, V2_TS, hdr, V2_BODY, strlen(V2_BODY), V2_TS_N);
	ck_assert_int_eq(ch_auth_check(&auth, &r.req, &err), 0);
	hdr[0] = '\0';
	for (int i = 0; i < 16; i++) {
		strcat(hdr, i % 2 ? bogus : "v1a,xyz");
		strcat(hdr, " ");
	}
	strcat(hdr, V2_SIG);
	hreq_init(&r, V2_ID, V2_TS, hdr, V2_BODY, strlen(V2_BODY), V2_TS_N);
	ck_assert_unauthorized(ch_auth_check(&auth, &r.req, &err), err, "no valid signature");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_hmac_redelivery_not_rejected)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	/* a retry carries the same webhook-id; dedupe is the journal's job */
	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N, &err), 0);
	ck_assert_int_eq(check_spec(&auth, SPEC_SIG, SPEC_TS_N + 60, &err), 0);
	ch_auth_free(&auth);
}
END_TEST

/* ---- secret mode ------------------------------------------------------------ */

static int check_secret_req(const struct ch_auth *auth, const char *query, const char *hname,
                            const char *hvalue, struct ch_error *err)
{
	struct ch_header h[2] = {{"Content-Type", "application/json"}, {hname, hvalue}};
	struct ch_auth_request req = {
	    .query = query,
	    .headers = h,
	    .n_headers = hname != NULL ? 2 : 1,
	    .body = "{}",
	    .body_len = 2,
	    .now_s = 1700000000,
	};
	return ch_auth_check(auth, &req, err);
}

START_TEST(test_secret_query)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char q[256];

	secret_auth(&auth, "code", NULL);
	snprintf(q, sizeof(q), "code=%s", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	snprintf(q, sizeof(q), "callId=abc&code=%s&x", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);

	snprintf(q, sizeof(q), "code=%s", WRONG);
	ck_assert_unauthorized(check_secret_req(&auth, q, NULL, NULL, &err), err,
	                       "credential does not match");
	/* a prefix or an extension of the secret is wrong too */
	snprintf(q, sizeof(q), "code=%.*s", (int)strlen(SECRET_A) - 1, SECRET_A);
	ck_assert_unauthorized(check_secret_req(&auth, q, NULL, NULL, &err), err,
	                       "credential does not match");
	snprintf(q, sizeof(q), "code=%sx", SECRET_A);
	ck_assert_unauthorized(check_secret_req(&auth, q, NULL, NULL, &err), err,
	                       "credential does not match");
	ck_assert_unauthorized(check_secret_req(&auth, "code=", NULL, NULL, &err), err,
	                       "credential does not match");

	ck_assert_unauthorized(check_secret_req(&auth, NULL, NULL, NULL, &err), err,
	                       "missing credential: query parameter \"code\"");
	ck_assert_unauthorized(check_secret_req(&auth, "Code=x&codes=y", NULL, NULL, &err), err,
	                       "missing credential");
	/* a header is not looked at when only the query is configured */
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "code", SECRET_A, &err), err,
	                       "missing credential");
	ck_assert_unauthorized(check_secret_req(&auth, "code=%zz", NULL, NULL, &err), err,
	                       "not valid percent-encoding");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_secret_query_percent_encoded)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char q[256];

	secret_auth(&auth, "code", NULL);
	add_ok(&auth, SECRET_B);
	snprintf(q, sizeof(q), "code=%s", SECRET_B_ENC);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	/* an unencoded '+' is literal in a URI query (RFC 3986): the same secret */
	snprintf(q, sizeof(q), "code=%s", SECRET_B);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_secret_header)
{
	struct ch_auth auth;
	struct ch_error err = {0};

	secret_auth(&auth, NULL, "x-callhookd-secret");
	ck_assert_int_eq(check_secret_req(&auth, NULL, "X-Callhookd-Secret", SECRET_A, &err), 0);
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "x-callhookd-secret", WRONG, &err),
	                       err, "credential does not match");
	/* only Authorization has a scheme to strip */
	char bearer[128];
	snprintf(bearer, sizeof(bearer), "Bearer %s", SECRET_A);
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "x-callhookd-secret", bearer, &err),
	                       err, "credential does not match");
	ck_assert_unauthorized(check_secret_req(&auth, NULL, NULL, NULL, &err), err,
	                       "missing credential: header \"x-callhookd-secret\"");
	/* the query is not looked at when only a header is configured */
	char q[128];
	snprintf(q, sizeof(q), "code=%s", SECRET_A);
	ck_assert_unauthorized(check_secret_req(&auth, q, NULL, NULL, &err), err,
	                       "missing credential");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_secret_authorization_bearer)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char v[128];

	secret_auth(&auth, NULL, "Authorization");
	snprintf(v, sizeof(v), "Bearer %s", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, NULL, "authorization", v, &err), 0);
	snprintf(v, sizeof(v), "bEARER  \t%s", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, NULL, "Authorization", v, &err), 0);
	/* the bare secret is accepted as well */
	ck_assert_int_eq(check_secret_req(&auth, NULL, "Authorization", SECRET_A, &err), 0);
	snprintf(v, sizeof(v), "Basic %s", SECRET_A);
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "Authorization", v, &err), err,
	                       "does not match");
	snprintf(v, sizeof(v), "Bearer%s", SECRET_A); /* no separator */
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "Authorization", v, &err), err,
	                       "does not match");
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "Authorization", "Bearer ", &err), err,
	                       "does not match");
	snprintf(v, sizeof(v), "Bearer %s", WRONG);
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "Authorization", v, &err), err,
	                       "does not match");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_secret_query_or_header)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char q[128];

	secret_auth(&auth, "code", "x-secret");
	ck_assert_unauthorized(check_secret_req(&auth, "a=b", NULL, NULL, &err), err,
	                       "missing credential: query parameter \"code\" or header "
	                       "\"x-secret\"");
	snprintf(q, sizeof(q), "code=%s", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	ck_assert_int_eq(check_secret_req(&auth, NULL, "x-secret", SECRET_A, &err), 0);
	/* both present: one matching is enough */
	ck_assert_int_eq(check_secret_req(&auth, q, "x-secret", WRONG, &err), 0);
	snprintf(q, sizeof(q), "code=%s", WRONG);
	ck_assert_int_eq(check_secret_req(&auth, q, "x-secret", SECRET_A, &err), 0);
	ck_assert_unauthorized(check_secret_req(&auth, q, "x-secret", WRONG, &err), err,
	                       "does not match");
	ch_auth_free(&auth);
}
END_TEST

START_TEST(test_secret_rotation)
{
	struct ch_auth auth;
	struct ch_error err = {0};
	char q[128];

	secret_auth(&auth, "code", "x-secret");
	add_ok(&auth, SECRET_B);
	snprintf(q, sizeof(q), "code=%s", SECRET_A);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	snprintf(q, sizeof(q), "code=%s", SECRET_B_ENC);
	ck_assert_int_eq(check_secret_req(&auth, q, NULL, NULL, &err), 0);
	ck_assert_int_eq(check_secret_req(&auth, NULL, "x-secret", SECRET_B, &err), 0);
	ck_assert_unauthorized(check_secret_req(&auth, NULL, "x-secret", WRONG, &err), err,
	                       "does not match");
	ch_auth_free(&auth);
}
END_TEST

/* Collect every failure message auth can produce around a secret and check
 * none of them quotes the secret or what the client presented. */
START_TEST(test_messages_never_quote_secrets)
{
	static const char presented[] = "PRESENTED-cred-0123456789";
	static const char short_secret[] = "Zq7-shortKEY";
	struct ch_auth auth;
	struct ch_error err;
	char q[256], v[256];
	int n = 0;

#define NO_LEAK(call)                                                                              \
	do {                                                                                       \
		memset(&err, 0, sizeof(err));                                                      \
		ck_assert_int_eq((call), -1);                                                      \
		ck_assert_msg(err.message[0] != '\0', "empty message");                            \
		ck_assert_msg(strstr(err.message, SECRET_A) == NULL, "%s", err.message);           \
		ck_assert_msg(strstr(err.message, presented) == NULL, "%s", err.message);          \
		ck_assert_msg(strstr(err.message, short_secret) == NULL, "%s", err.message);       \
		ck_assert_msg(strstr(err.message, "MfKQ9r8GKYqr") == NULL, "%s", err.message);     \
		ck_assert_msg(strstr(err.message, "g0hM9SsE") == NULL, "%s", err.message);         \
		n++;                                                                               \
	} while (0)

	auth_init(&auth, CH_AUTH_SECRET);
	NO_LEAK(ch_auth_add_secret(&auth, short_secret, &err));
	ch_auth_free(&auth);
	auth_init(&auth, CH_AUTH_HMAC);
	NO_LEAK(ch_auth_add_secret(&auth, "whsec_MfKQ9r8GKYqr!", &err));
	NO_LEAK(ch_auth_add_secret(&auth, "whsec_MfKQ9r8GKYqr", &err));
	ch_auth_free(&auth);

	secret_auth(&auth, "code", "Authorization");
	snprintf(q, sizeof(q), "code=%s", presented);
	snprintf(v, sizeof(v), "Bearer %s", presented);
	NO_LEAK(check_secret_req(&auth, q, NULL, NULL, &err));
	NO_LEAK(check_secret_req(&auth, NULL, "Authorization", v, &err));
	NO_LEAK(check_secret_req(&auth, q, "Authorization", v, &err));
	snprintf(q, sizeof(q), "code=%s%%zz", presented);
	NO_LEAK(check_secret_req(&auth, q, NULL, NULL, &err));
	NO_LEAK(check_secret_req(&auth, NULL, NULL, NULL, &err));
	ch_auth_free(&auth);

	auth_init(&auth, CH_AUTH_HMAC);
	add_ok(&auth, SPEC_SECRET);
	snprintf(v, sizeof(v), "v1,%s", presented);
	NO_LEAK(check_spec(&auth, v, SPEC_TS_N, &err));
	NO_LEAK(check_spec(&auth, SPEC_SIG, SPEC_TS_N + 3600, &err));
	NO_LEAK(
	    check_spec(&auth, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", SPEC_TS_N, &err));
	ch_auth_free(&auth);
	ck_assert_int_eq(n, 11);
#undef NO_LEAK
}
END_TEST

/* ---- helpers ---------------------------------------------------------------- */

START_TEST(test_header_get)
{
	struct ch_header h[] = {
	    {"Host", "example"}, {"X-Secret", "first"}, {"x-secret", "second"},
	    {NULL, "nameless"},  {"Empty", ""},
	};
	size_t n = sizeof(h) / sizeof(h[0]);

	ck_assert_str_eq(ch_header_get(h, n, "x-secret"), "first");
	ck_assert_str_eq(ch_header_get(h, n, "X-SECRET"), "first");
	ck_assert_str_eq(ch_header_get(h, n, "host"), "example");
	ck_assert_str_eq(ch_header_get(h, n, "empty"), "");
	ck_assert_ptr_null(ch_header_get(h, n, "x-secre"));
	ck_assert_ptr_null(ch_header_get(h, n, "x-secrets"));
	ck_assert_ptr_null(ch_header_get(h, n, ""));
	ck_assert_ptr_null(ch_header_get(h, 1, "x-secret")); /* n bounds the search */
	ck_assert_ptr_null(ch_header_get(NULL, 0, "host"));
	ck_assert_ptr_null(ch_header_get(h, n, NULL));
}
END_TEST

START_TEST(test_query_get)
{
	char out[64];

	ck_assert_int_eq(ch_query_get("a=1&code=x%2By&b", "code", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "x+y");
	ck_assert_int_eq(ch_query_get("a=1&code=x%2By&b", "a", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "1");
	/* present without '=': empty value */
	ck_assert_int_eq(ch_query_get("a=1&code=x%2By&b", "b", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ch_query_get("code=", "code", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	/* first occurrence wins */
	ck_assert_int_eq(ch_query_get("code=1&code=2", "code", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "1");
	/* names match exactly and case-sensitively */
	ck_assert_int_eq(ch_query_get("codex=1&xcode=2&code=3", "code", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "3");
	ck_assert_int_eq(ch_query_get("cod=1", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("CODE=1", "code", out, sizeof(out)), -1);
	/* names are decoded before comparing */
	ck_assert_int_eq(ch_query_get("%63od%65=v", "code", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "v");
	ck_assert_int_eq(ch_query_get("my%20name=v", "my name", out, sizeof(out)), 1);
	ck_assert_int_eq(ch_query_get("my+name=v", "my name", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("a%3Db=v", "a=b", out, sizeof(out)), 1);
	/* a malformed name just does not match */
	ck_assert_int_eq(ch_query_get("%zzcode=1&code=2", "code", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "2");
	/* '+' is literal (RFC 3986), '=' after the first is part of the value */
	ck_assert_int_eq(ch_query_get("code=a+b", "code", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a+b");
	ck_assert_int_eq(ch_query_get("code=ab==", "code", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "ab==");
	/* hex digits in either case */
	ck_assert_int_eq(ch_query_get("code=%2b%2B%2f%3d", "code", out, sizeof(out)), 4);
	ck_assert_str_eq(out, "++/=");
	/* %00 decodes to a NUL inside the value: the length tells */
	ck_assert_int_eq(ch_query_get("code=a%00b", "code", out, sizeof(out)), 3);
	ck_assert_mem_eq(out, "a\0b", 4);
	/* empty segments */
	ck_assert_int_eq(ch_query_get("&&code=v&", "code", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "v");
	ck_assert_int_eq(ch_query_get("&", "code", out, sizeof(out)), -1);
	/* absent */
	ck_assert_int_eq(ch_query_get("", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get(NULL, "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("a=1", NULL, out, sizeof(out)), -1);
	/* malformed escapes in the value */
	ck_assert_int_eq(ch_query_get("code=%zz", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("code=%4", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("code=ab%", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("code=%4&x=1", "code", out, sizeof(out)), -1);
	ck_assert_int_eq(ch_query_get("code=%g1", "code", out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_query_get_sizes)
{
	char out[4];

	memset(out, 'X', sizeof(out));
	ck_assert_int_eq(ch_query_get("code=abc", "code", out, 4), 3); /* exactly fits */
	ck_assert_str_eq(out, "abc");
	ck_assert_int_eq(ch_query_get("code=abcd", "code", out, 4), -1);
	/* the limit applies to the decoded value, not the encoded one */
	ck_assert_int_eq(ch_query_get("code=%41%42%43", "code", out, 4), 3);
	ck_assert_str_eq(out, "ABC");
	ck_assert_int_eq(ch_query_get("code=", "code", out, 1), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ch_query_get("code=", "code", NULL, 0), -1);
	ck_assert_int_eq(ch_query_get("code=a", "code", out, 1), -1);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = tcase_create("config");
	tcase_add_test(tc, test_mode_parse_name);
	tcase_add_test(tc, test_add_secret_lengths);
	tcase_add_test(tc, test_add_secret_bad_base64);
	tcase_add_test(tc, test_add_secret_mode_none);
	tcase_add_test(tc, test_validate);
	tcase_add_test(tc, test_free);
	tcase_add_test(tc, test_mode_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("hmac");
	tcase_add_test(tc, test_hmac_spec_vector);
	tcase_add_test(tc, test_hmac_vector_newline_body);
	tcase_add_test(tc, test_hmac_vector_nul_in_body);
	tcase_add_test(tc, test_hmac_empty_body);
	tcase_add_test(tc, test_hmac_rotation);
	tcase_add_test(tc, test_hmac_several_signatures);
	tcase_add_test(tc, test_hmac_other_versions_ignored);
	tcase_add_test(tc, test_hmac_missing_headers);
	tcase_add_test(tc, test_hmac_bad_signatures);
	tcase_add_test(tc, test_hmac_replay_window);
	tcase_add_test(tc, test_hmac_bad_timestamp);
	tcase_add_test(tc, test_hmac_limits);
	tcase_add_test(tc, test_hmac_redelivery_not_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("secret");
	tcase_add_test(tc, test_secret_query);
	tcase_add_test(tc, test_secret_query_percent_encoded);
	tcase_add_test(tc, test_secret_header);
	tcase_add_test(tc, test_secret_authorization_bearer);
	tcase_add_test(tc, test_secret_query_or_header);
	tcase_add_test(tc, test_secret_rotation);
	tcase_add_test(tc, test_messages_never_quote_secrets);
	suite_add_tcase(s, tc);

	tc = tcase_create("helpers");
	tcase_add_test(tc, test_header_get);
	tcase_add_test(tc, test_query_get);
	tcase_add_test(tc, test_query_get_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
