/* check_jwt.c - unit tests for jwt.c, jwks.c and auth mode "jwt".
 *
 * Keys are generated here, at test time, with OpenSSL; tokens are built and
 * signed here too, with EVP_DigestSign (not the verifier's code path), and a
 * key set is written as a JWKS from the generated keys' n and e.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#endif

#include "auth.h"
#include "config.h"
#include "jwks.h"
#include "jwt.h"

#define NOW 1735689600 /* 2025-01-01T00:00:00Z */
#define ISS CH_JWT_DEFAULT_ISSUER
#define AUD "8a2f3c1e-5b7d-4e09-a1c6-0d9e8f7b6a54" /* an ACS immutable resource id */

static EVP_PKEY *key_a, *key_b, *key_small; /* generated once, before the tests fork */

static const struct ch_jwt_policy POLICY = {
    .issuer = ISS, .audience = AUD, .clock_skew_s = 60, .max_lifetime_s = 600};

/* ---- building keys, key sets and tokens ------------------------------------ */

static EVP_PKEY *generate_rsa(int bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1)
		abort();
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* base64url without padding, written independently of jwt.c's decoder. */
static char *b64url(const void *data, size_t len)
{
	char *out = malloc(len / 3 * 4 + 8);
	int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);

	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return out;
}

static char *bn_b64url(const BIGNUM *bn)
{
	unsigned char buf[1100];
	int n = BN_bn2bin(bn, buf);

	return b64url(buf, (size_t)n);
}

static void rsa_n_e(EVP_PKEY *pkey, char **n, char **e)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	BIGNUM *bn_n = NULL, *bn_e = NULL;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
	*n = bn_b64url(bn_n);
	*e = bn_b64url(bn_e);
	BN_free(bn_n);
	BN_free(bn_e);
#else
	const BIGNUM *bn_n, *bn_e;

	RSA_get0_key(EVP_PKEY_get0_RSA(pkey), &bn_n, &bn_e, NULL);
	*n = bn_b64url(bn_n);
	*e = bn_b64url(bn_e);
#endif
}

/* A JWK entry for pkey, with extra members (may be "") appended. */
static char *jwk(EVP_PKEY *pkey, const char *kid, const char *extra)
{
	char *n, *e, *out;

	rsa_n_e(pkey, &n, &e);
	ck_assert_int_ge(
	    asprintf(&out,
	             "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\",\"alg\":\"RS256\","
	             "\"n\":\"%s\",\"e\":\"%s\"%s}",
	             kid, n, e, extra),
	    0);
	free(n);
	free(e);
	return out;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *out;

	va_start(ap, f);
	ck_assert_int_ge(vasprintf(&out, f, ap), 0);
	va_end(ap);
	return out;
}

/* The key set of the tests: key_a as "kid-a", key_b as "kid-b". */
static struct ch_jwks *standard_set(void)
{
	char *a = jwk(key_a, "kid-a", ""), *b = jwk(key_b, "kid-b", "");
	char *text = fmt("{\"keys\":[%s,%s]}", a, b);
	struct ch_jwks *set;
	struct ch_error err;

	ck_assert_msg(ch_jwks_parse(text, strlen(text), &set, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(ch_jwks_count(set), 2);
	free(a);
	free(b);
	free(text);
	return set;
}

static char *rs256_sign(EVP_PKEY *pkey, const char *data)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
	ck_assert_int_eq(EVP_DigestSignUpdate(ctx, data, strlen(data)), 1);
	ck_assert_int_eq(EVP_DigestSignFinal(ctx, sig, &sig_len), 1);
	EVP_MD_CTX_free(ctx);
	return b64url(sig, sig_len);
}

/* header.payload.signature, signed with pkey (NULL: empty signature). */
static char *token(const char *header, const char *payload, EVP_PKEY *pkey)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	char *signed_part = fmt("%s.%s", h, p);
	char *sig = pkey != NULL ? rs256_sign(pkey, signed_part) : strdup("");
	char *out = fmt("%s.%s", signed_part, sig);

	free(h);
	free(p);
	free(signed_part);
	free(sig);
	return out;
}

#define HDR_A "{\"alg\":\"RS256\",\"kid\":\"kid-a\",\"typ\":\"JWT\"}"

/* Claims like Call Automation's, relative to NOW. */
static char *claims(const char *iss, const char *aud_json, long iat, long nbf, long exp)
{
	return fmt("{\"iss\":\"%s\",\"aud\":%s,\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld}", iss, aud_json,
	           (long)NOW + iat, (long)NOW + nbf, (long)NOW + exp);
}

static char *good_claims(void)
{
	return claims(ISS, "\"" AUD "\"", 0, 0, 300);
}

/* Verify tok against the standard set at NOW; the error in *err. */
static int verify(const char *tok, struct ch_error *err)
{
	struct ch_jwks *set = standard_set();
	int rc = ch_jwt_verify(tok, strlen(tok), set, &POLICY, NOW, err);

	ch_jwks_free(set);
	return rc;
}

#define ck_assert_invalid(tok, needle)                                                             \
	do {                                                                                       \
		struct ch_error err_ = {0};                                                        \
		ck_assert_int_eq(verify((tok), &err_), -1);                                        \
		ck_assert_int_eq(err_.status, 401);                                                \
		ck_assert_str_eq(err_.code, "InvalidToken");                                       \
		ck_assert_msg(strstr(err_.message, (needle)) != NULL,                              \
		              "message \"%s\" lacks \"%s\"", err_.message, (needle));              \
	} while (0)

#define ck_assert_valid(tok)                                                                       \
	do {                                                                                       \
		struct ch_error err_ = {0};                                                        \
		int rc_ = verify((tok), &err_);                                                    \
		ck_assert_msg(rc_ == 0, "refused: %s", err_.message);                              \
	} while (0)

/* Sign header + payload with key_a, check the verdict, free everything. */
static void expect_claims(char *payload, const char *needle)
{
	char *tok = token(HDR_A, payload, key_a);

	if (needle == NULL)
		ck_assert_valid(tok);
	else
		ck_assert_invalid(tok, needle);
	free(tok);
	free(payload);
}

/* ---- base64url ------------------------------------------------------------ */

START_TEST(test_b64url_strict)
{
	unsigned char out[16];

	ck_assert_int_eq(ch_b64url_decode("", 0, out, sizeof(out)), 0);
	ck_assert_int_eq(ch_b64url_decode("QQ", 2, out, sizeof(out)), 1);
	ck_assert_int_eq(out[0], 'A');
	ck_assert_int_eq(ch_b64url_decode("QUI", 3, out, sizeof(out)), 2);
	ck_assert_int_eq(ch_b64url_decode("QUJD", 4, out, sizeof(out)), 3);
	ck_assert_int_eq(memcmp(out, "ABC", 3), 0);
	ck_assert_int_eq(ch_b64url_decode("-_8", 3, out, sizeof(out)), 2); /* fb ff */
	ck_assert_int_eq(out[0], 0xfb);
	ck_assert_int_eq(out[1], 0xff);
	/* padding, the standard alphabet, whitespace, a length of 1 mod 4 */
	ck_assert_int_eq(ch_b64url_decode("QQ==", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(ch_b64url_decode("+/8", 3, out, sizeof(out)), -1);
	ck_assert_int_eq(ch_b64url_decode("QU I", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(ch_b64url_decode("QUJDR", 5, out, sizeof(out)), -1);
	/* non-canonical: "QR" has left-over bits set, and would decode to "A" too */
	ck_assert_int_eq(ch_b64url_decode("QR", 2, out, sizeof(out)), -1);
	ck_assert_int_eq(ch_b64url_decode("QUJ", 3, out, sizeof(out)), -1);
	/* out too small */
	ck_assert_int_eq(ch_b64url_decode("QUJD", 4, out, 2), -1);
}
END_TEST

/* ---- tokens ------------------------------------------------------------------ */

START_TEST(test_valid_token)
{
	char *payload = good_claims();
	char *tok = token(HDR_A, payload, key_a);

	ck_assert_valid(tok);
	free(tok);
	/* key_b under its own kid; fractional dates; nbf may be left out */
	const char *hdr_b = "{\"kid\":\"kid-b\",\"alg\":\"RS256\"}";
	char *p2 = fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d.25,\"exp\":%d.5}", ISS, AUD, NOW,
	               NOW + 300);
	tok = token(hdr_b, p2, key_b);
	ck_assert_valid(tok);
	free(tok);
	free(p2);
	free(payload);
}
END_TEST

START_TEST(test_expiry_and_skew)
{
	expect_claims(claims(ISS, "\"" AUD "\"", -400, -400, -100), "token expired");
	expect_claims(claims(ISS, "\"" AUD "\"", -400, -400, -60), "token expired"); /* edge */
	expect_claims(claims(ISS, "\"" AUD "\"", -400, -400, -59), NULL); /* within skew */
	expect_claims(claims(ISS, "\"" AUD "\"", -300, -300, 0), NULL);
}
END_TEST

START_TEST(test_not_yet_valid)
{
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 120, 300), "not yet valid");
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 61, 300), "not yet valid");
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 60, 300), NULL); /* within skew */
	expect_claims(claims(ISS, "\"" AUD "\"", 120, 0, 300), "issued in the future");
	expect_claims(claims(ISS, "\"" AUD "\"", 30, 30, 300), NULL);
}
END_TEST

START_TEST(test_lifetime)
{
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 0, 601), "lifetime of 601 s");
	expect_claims(claims(ISS, "\"" AUD "\"", -10, -10, 3600), "longer than the 600 s");
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 0, 600), NULL);
	expect_claims(claims(ISS, "\"" AUD "\"", 0, 0, -30), "exp is before iat");
}
END_TEST

START_TEST(test_issuer)
{
	expect_claims(claims("https://evil.example", "\"" AUD "\"", 0, 0, 300), "wrong issuer");
	expect_claims(claims(ISS "/", "\"" AUD "\"", 0, 0, 300), "wrong issuer");
	/* a NUL smuggled after the right issuer */
	expect_claims(claims(ISS "\\u0000x", "\"" AUD "\"", 0, 0, 300), "wrong issuer");
	expect_claims(fmt("{\"aud\":\"%s\",\"iat\":%d,\"exp\":%d}", AUD, NOW, NOW + 300),
	              "wrong issuer");
}
END_TEST

START_TEST(test_audience)
{
	expect_claims(claims(ISS, "\"someone-else\"", 0, 0, 300), "wrong audience");
	expect_claims(claims(ISS, "[\"a\",\"" AUD "\"]", 0, 0, 300), NULL);
	expect_claims(claims(ISS, "[\"a\",\"b\"]", 0, 0, 300), "wrong audience");
	expect_claims(claims(ISS, "[]", 0, 0, 300), "wrong audience");
	expect_claims(claims(ISS, "[[\"" AUD "\"]]", 0, 0, 300), "wrong audience");
	expect_claims(claims(ISS, "null", 0, 0, 300), "wrong audience");
	expect_claims(fmt("{\"iss\":\"%s\",\"iat\":%d,\"exp\":%d}", ISS, NOW, NOW + 300),
	              "wrong audience");
}
END_TEST

START_TEST(test_dates_required_and_numeric)
{
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d}", ISS, AUD, NOW), "no exp");
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"exp\":%d}", ISS, AUD, NOW + 300),
	              "no iat");
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d,\"exp\":\"%d\"}", ISS, AUD,
	                  NOW, NOW + 300),
	              "exp is not a NumericDate");
	expect_claims(
	    fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d,\"exp\":1.7e12}", ISS, AUD, NOW),
	    "exp is not a NumericDate");
	expect_claims(
	    fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":-1,\"exp\":%d}", ISS, AUD, NOW + 300),
	    "iat is not a NumericDate");
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d,\"exp\":99999999999999999999}",
	                  ISS, AUD, NOW),
	              "exp is not a NumericDate");
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d,\"nbf\":true,\"exp\":%d}", ISS,
	                  AUD, NOW, NOW + 300),
	              "nbf is not a NumericDate");
}
END_TEST

START_TEST(test_duplicate_members)
{
	/* Two aud: one parser might take ours, another the attacker's. */
	expect_claims(fmt("{\"iss\":\"%s\",\"aud\":\"x\",\"aud\":\"%s\",\"iat\":%d,\"exp\":%d}",
	                  ISS, AUD, NOW, NOW + 300),
	              "more than once");
	char *payload = good_claims();
	char *tok = token("{\"alg\":\"none\",\"alg\":\"RS256\",\"kid\":\"kid-a\"}", payload, key_a);
	ck_assert_invalid(tok, "more than once");
	free(tok);
	free(payload);
}
END_TEST

START_TEST(test_kid)
{
	char *payload = good_claims();
	char *tok = token("{\"alg\":\"RS256\",\"kid\":\"kid-zz\"}", payload, key_a);

	ck_assert_invalid(tok, "unknown key id \"kid-zz\"");
	free(tok);
	tok = token("{\"alg\":\"RS256\"}", payload, key_a);
	ck_assert_invalid(tok, "no kid");
	free(tok);
	tok = token("{\"alg\":\"RS256\",\"kid\":7}", payload, key_a);
	ck_assert_invalid(tok, "no kid");
	free(tok);
	/* a kid with a control character and a quote is shown sanitised */
	tok = token("{\"alg\":\"RS256\",\"kid\":\"a\\n\\\"b\"}", payload, key_a);
	ck_assert_invalid(tok, "unknown key id \"a??b\"");
	free(tok);
	/* the right kid, signed by the other key */
	tok = token(HDR_A, payload, key_b);
	ck_assert_invalid(tok, "signature does not verify");
	free(tok);
	free(payload);
}
END_TEST

START_TEST(test_alg_none_and_others)
{
	char *payload = good_claims();
	const char *headers[] = {
	    "{\"alg\":\"none\",\"kid\":\"kid-a\"}",
	    "{\"alg\":\"None\"}",
	    "{\"alg\":\"rs256\",\"kid\":\"kid-a\"}",
	    "{\"alg\":\"PS256\",\"kid\":\"kid-a\"}",
	    "{\"alg\":\"RS512\",\"kid\":\"kid-a\"}",
	    "{\"alg\":\"ES256\",\"kid\":\"kid-a\"}",
	    "{\"kid\":\"kid-a\"}",
	    "{\"alg\":[\"RS256\"],\"kid\":\"kid-a\"}",
	};

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		char *unsigned_tok = token(headers[i], payload, NULL);
		char *signed_tok = token(headers[i], payload, key_a);

		ck_assert_invalid(unsigned_tok, "alg must be RS256");
		ck_assert_invalid(signed_tok, "alg must be RS256");
		free(unsigned_tok);
		free(signed_tok);
	}
	/* RS256 with no signature at all */
	char *tok = token(HDR_A, payload, NULL);
	ck_assert_invalid(tok, "signature does not verify");
	free(tok);
	free(payload);
}
END_TEST

/* HS256 keyed with the public key, in the forms a confused verifier might
 * use as an HMAC secret: the PEM text and the modulus. */
START_TEST(test_alg_confusion_hs256)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, *n, *e;
	long pem_len;

	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, key_a), 1);
	pem_len = BIO_get_mem_data(bio, &pem);
	rsa_n_e(key_a, &n, &e);

	const struct {
		const void *key;
		size_t len;
	} secrets[] = {{pem, (size_t)pem_len}, {n, strlen(n)}};
	char *payload = good_claims();
	for (size_t i = 0; i < 2; i++) {
		const char *hdr = "{\"alg\":\"HS256\",\"kid\":\"kid-a\",\"typ\":\"JWT\"}";
		char *h = b64url(hdr, strlen(hdr)), *p = b64url(payload, strlen(payload));
		char *signed_part = fmt("%s.%s", h, p);
		unsigned char mac[32];
		unsigned int mac_len = 0;

		ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secrets[i].key, (int)secrets[i].len,
		                           (unsigned char *)signed_part, strlen(signed_part), mac,
		                           &mac_len));
		char *sig = b64url(mac, mac_len);
		char *tok = fmt("%s.%s", signed_part, sig);
		ck_assert_invalid(tok, "alg must be RS256");
		free(tok);
		free(sig);
		free(signed_part);
		free(h);
		free(p);
	}
	free(payload);
	free(n);
	free(e);
	BIO_free(bio);
}
END_TEST

START_TEST(test_tampering)
{
	char *payload = good_claims();
	char *tok = token(HDR_A, payload, key_a);
	char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');

	/* payload: another audience, same signature */
	char *evil = claims(ISS, "\"someone-else\"", 0, 0, 300);
	char *evil_b64 = b64url(evil, strlen(evil));
	char *swapped = fmt("%.*s.%s%s", (int)(dot1 - tok), tok, evil_b64, dot2);
	ck_assert_invalid(swapped, "signature does not verify");

	/* one character of the payload and of the signature changed */
	char *t1 = strdup(tok);
	t1[dot1 - tok + 5] = t1[dot1 - tok + 5] == 'A' ? 'B' : 'A';
	ck_assert_invalid(t1, "signature does not verify");
	char *t2 = strdup(tok);
	t2[dot2 - tok + 20] = t2[dot2 - tok + 20] == 'A' ? 'B' : 'A';
	ck_assert_invalid(t2, "signature does not verify");
	/* an extra signature byte (still canonical base64url) */
	char *t3 = fmt("%sAA", tok);
	ck_assert_invalid(t3, "signature does not verify");

	free(t1);
	free(t2);
	free(t3);
	free(swapped);
	free(evil_b64);
	free(evil);
	free(tok);
	free(payload);
}
END_TEST

START_TEST(test_truncated_and_malformed)
{
	char *payload = good_claims();
	char *tok = token(HDR_A, payload, key_a);
	size_t len = strlen(tok);
	char *dot2 = strrchr(tok, '.');
	struct ch_error err;

	/* Cut inside the signature (342 characters for 2048 bits): 10 short
	 * still decodes, to too few bytes; 1 short leaves 341 = 1 mod 4. */
	ck_assert_uint_eq(len - (size_t)(dot2 + 1 - tok), 342);
	char *t = strndup(tok, len - 10);
	ck_assert_invalid(t, "signature does not verify");
	free(t);
	t = strndup(tok, len - 1);
	ck_assert_invalid(t, "signature is not valid base64url");
	free(t);
	t = strndup(tok, (size_t)(dot2 - tok)); /* header.payload */
	ck_assert_invalid(t, "not a compact JWS");
	free(t);
	t = strndup(tok, (size_t)(dot2 - tok) + 1); /* header.payload. */
	ck_assert_invalid(t, "signature does not verify");
	free(t);
	t = fmt("%s.", tok);
	ck_assert_invalid(t, "not a compact JWS");
	free(t);
	ck_assert_invalid("", "empty token");
	ck_assert_invalid("abc", "not a compact JWS");
	ck_assert_invalid("..", "header is not a JSON object"); /* empty header: no JSON */

	/* base64url: padding, the standard alphabet, a stray byte */
	t = fmt("%s=", tok);
	ck_assert_invalid(t, "signature is not valid base64url");
	free(t);
	t = strdup(tok);
	t[3] = '+';
	ck_assert_invalid(t, "header is not valid base64url");
	free(t);
	t = fmt("%s==.e30.AAAA", "eyJhbGciOiJSUzI1NiJ9"); /* {"alg":"RS256"} padded */
	ck_assert_invalid(t, "header is not valid base64url");
	free(t);
	char *not_json = b64url("{\"alg\":", 7);
	t = fmt("%s.e30.AAAA", not_json);
	ck_assert_invalid(t, "header is not a JSON object");
	free(t);
	free(not_json);
	char *arr = b64url("[1]", 3);
	t = fmt("%s.e30.AAAA", arr);
	ck_assert_invalid(t, "header is not a JSON object");
	free(t);
	free(arr);

	/* a payload that is signed but is not JSON */
	t = token(HDR_A, "not json", key_a);
	ck_assert_invalid(t, "payload is not a JSON object");
	free(t);

	/* too long, before anything is decoded */
	char *big = malloc(CH_JWT_MAX_TOKEN + 2);
	memset(big, 'A', CH_JWT_MAX_TOKEN + 1);
	big[CH_JWT_MAX_TOKEN + 1] = '\0';
	ck_assert_invalid(big, "longer than 8192 bytes");
	struct ch_jwks *set = standard_set();
	ck_assert_int_eq(ch_jwt_verify(big, CH_JWT_MAX_TOKEN + 1, set, &POLICY, NOW, &err), -1);
	ck_assert_int_eq(err.status, 401);
	ch_jwks_free(set);
	free(big);
	free(tok);
	free(payload);
}
END_TEST

START_TEST(test_largest_token_accepted)
{
	/* A token just under the limit, padded with an extra claim, verifies:
	 * the limit is on the token, not on something smaller by accident. */
	char *tok = NULL, *payload = NULL;

	/* Each character of padding adds one or two to the token. */
	for (size_t pad = 5500; tok == NULL || strlen(tok) < CH_JWT_MAX_TOKEN - 1; pad++) {
		char *filler = malloc(pad + 1);

		free(tok);
		free(payload);
		memset(filler, 'x', pad);
		filler[pad] = '\0';
		payload =
		    fmt("{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%d,\"exp\":%d,\"pad\":\"%s\"}", ISS,
		        AUD, NOW, NOW + 300, filler);
		free(filler);
		tok = token(HDR_A, payload, key_a);
	}
	ck_assert_uint_le(strlen(tok), CH_JWT_MAX_TOKEN);
	ck_assert_valid(tok);
	free(tok);
	free(payload);
}
END_TEST

START_TEST(test_crit_refused)
{
	char *payload = good_claims();
	char *tok =
	    token("{\"alg\":\"RS256\",\"kid\":\"kid-a\",\"crit\":[\"exp\"]}", payload, key_a);

	ck_assert_invalid(tok, "crit");
	free(tok);
	free(payload);
}
END_TEST

/* ---- key sets ------------------------------------------------------------------ */

static void expect_bad_set(const char *text, const char *needle)
{
	struct ch_jwks *set = (struct ch_jwks *)1;
	struct ch_error err = {0};

	ck_assert_int_eq(ch_jwks_parse(text, strlen(text), &set, &err), -1);
	ck_assert_ptr_null(set);
	ck_assert_int_eq(err.status, 500);
	ck_assert_msg(strstr(err.message, needle) != NULL, "message \"%s\" lacks \"%s\"",
	              err.message, needle);
}

START_TEST(test_jwks_bad_n_e)
{
	char *n, *e;
	rsa_n_e(key_a, &n, &e);
#define KEY(N, E) "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":" N ",\"e\":" E "}]}"
	char *t;

	t = fmt(KEY("\"%s=\"", "\"%s\""), n, e); /* padded n */
	expect_bad_set(t, "\"n\" is not valid base64url");
	free(t);
	t = fmt(KEY("\"%s\"", "\"AQAB=\""), n); /* padded e */
	expect_bad_set(t, "\"e\" is not valid base64url");
	free(t);
	t = fmt(KEY("\"%s\"", "\"AQ+B\""), n);
	expect_bad_set(t, "\"e\" is not valid base64url");
	free(t);
	t = fmt(KEY("\"%s\"", "\"AQAC\""), n); /* even e */
	expect_bad_set(t, "must be odd");
	free(t);
	t = fmt(KEY("\"%s\"", "\"AQ\""), n); /* e = 1 */
	expect_bad_set(t, "e above 1");
	free(t);
	t = fmt(KEY("\"%s\"", "\"AQABAQABAQAB\""), n); /* e of 9 bytes */
	expect_bad_set(t, "\"e\" is longer than 8 bytes");
	free(t);
	t = fmt(KEY("\"%s\"", "65537"), n);
	expect_bad_set(t, "\"e\" is missing or not a string");
	free(t);
	t = fmt("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\",\"n\":\"%s\"}]}", n);
	expect_bad_set(t, "\"e\" is missing");
	free(t);
	t = fmt(KEY("\"\"", "\"%s\""), e);
	expect_bad_set(t, "\"n\" is not valid base64url");
	free(t);
	t = fmt(KEY("\"AAAA%s\"", "\"%s\""), n + 4, e); /* leading bits cleared: 2041-ish bits */
	expect_bad_set(t, "modulus of");
	free(t);
	char *small_n, *small_e;
	rsa_n_e(key_small, &small_n, &small_e);
	t = fmt(KEY("\"%s\"", "\"%s\""), small_n, small_e);
	expect_bad_set(t, "modulus of 1024 bits, not 2048 to 8192");
	free(t);
	free(small_n);
	free(small_e);
	/* 8193 bits, and more bytes than any allowed modulus has */
	unsigned char huge[1026];
	memset(huge, 0xff, sizeof(huge));
	huge[0] = 0x01;
	char *huge_b64 = b64url(huge, 1025);
	t = fmt(KEY("\"%s\"", "\"AQAB\""), huge_b64);
	expect_bad_set(t, "modulus of 8193 bits");
	free(t);
	free(huge_b64);
	huge_b64 = b64url(huge, sizeof(huge));
	t = fmt(KEY("\"%s\"", "\"AQAB\""), huge_b64);
	expect_bad_set(t, "\"n\" is longer than 1025 bytes");
	free(t);
	free(huge_b64);
#undef KEY
	free(n);
	free(e);
}
END_TEST

START_TEST(test_jwks_structure)
{
	char *a = jwk(key_a, "kid-a", ""), *b = jwk(key_b, "kid-a", ""), *t;

	expect_bad_set("", "not valid JSON");
	expect_bad_set("[]", "\"keys\" array");
	expect_bad_set("{\"keys\":{}}", "\"keys\" array");
	expect_bad_set("{\"keys\":[]}", "no RS256 signing key");
	expect_bad_set("{\"keys\":[1]}", "keys[0] is not an object");
	expect_bad_set("{\"keys\":[{\"kid\":\"x\"}]}", "\"kty\" is missing");
	t = fmt("{\"keys\":[%s,%s]}", a, b);
	expect_bad_set(t, "kid \"kid-a\" is used by an earlier key");
	free(t);
	t = fmt("{\"keys\":[%s],\"keys\":[]}", a);
	expect_bad_set(t, "\"keys\" appears more than once");
	free(t);
	char *no_kid = jwk(key_a, "", "");
	t = fmt("{\"keys\":[%s]}", no_kid);
	expect_bad_set(t, "\"kid\" is missing or empty");
	free(t);
	free(no_kid);
	char *dup = jwk(key_a, "kid-x", ",\"n\":\"AQAB\"");
	t = fmt("{\"keys\":[%s]}", dup);
	expect_bad_set(t, "\"n\" appears more than once");
	free(t);
	free(dup);

	/* entries that are not for us are skipped, usable ones kept */
	struct ch_jwks *set;
	struct ch_error err;
	char *n, *e;
	rsa_n_e(key_b, &n, &e);
	char *hs = fmt("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}");
	char *ec =
	    fmt("{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}");
	char *ps = fmt("{\"kty\":\"RSA\",\"kid\":\"kid-ps\",\"alg\":\"PS256\",\"n\":\"%s\","
	               "\"e\":\"%s\"}",
	               n, e);
	char *enc = fmt("{\"kty\":\"RSA\",\"kid\":\"kid-enc\",\"use\":\"enc\",\"n\":\"%s\","
	                "\"e\":\"%s\"}",
	                n, e);
	/* no use, no alg: usable (Microsoft's published sets look like this) */
	char *bare = fmt("{\"kty\":\"RSA\",\"kid\":\"kid-bare\",\"n\":\"%s\",\"e\":\"%s\","
	                 "\"x5t\":\"abc\",\"x5c\":[\"MIIB\"]}",
	                 n, e);
	t = fmt("{\"keys\":[%s,%s,%s,%s,%s,%s]}", hs, ec, ps, enc, a, bare);
	ck_assert_msg(ch_jwks_parse(t, strlen(t), &set, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(ch_jwks_count(set), 2);
	ck_assert_ptr_nonnull(ch_jwks_find(set, "kid-a", 5));
	ck_assert_ptr_nonnull(ch_jwks_find(set, "kid-bare", 8));
	ck_assert_ptr_null(ch_jwks_find(set, "kid-ps", 6));
	ck_assert_ptr_null(ch_jwks_find(set, "kid-enc", 7));
	ck_assert_ptr_null(ch_jwks_find(set, "h", 1));
	ck_assert_ptr_null(ch_jwks_find(set, "kid-", 4));
	ch_jwks_free(set);
	free(t);
	t = fmt("{\"keys\":[%s,%s,%s]}", hs, ec, enc);
	expect_bad_set(t, "no RS256 signing key");
	free(t);

	/* at most 64 entries */
	size_t cap = 70 * 64;
	char *many = malloc(cap);
	size_t off = (size_t)snprintf(many, cap, "{\"keys\":[");
	for (int i = 0; i < 65; i++)
		off += (size_t)snprintf(many + off, cap - off, "%s{\"kty\":\"oct\",\"kid\":\"%d\"}",
		                        i ? "," : "", i);
	snprintf(many + off, cap - off, "]}");
	expect_bad_set(many, "65 keys, more than 64");
	free(many);

	free(bare);
	free(n);
	free(e);
	free(ps);
	free(enc);
	free(hs);
	free(ec);
	free(a);
	free(b);
}
END_TEST

/* ---- the key set file, and auth mode "jwt" ------------------------------------------ */

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/check_jwt.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char *path = fmt("%s/keys.json", tmpdir);
	unlink(path);
	free(path);
	path = fmt("%s/keys.json.new", tmpdir);
	unlink(path);
	free(path);
	rmdir(tmpdir);
}

/* Write text to tmpdir/keys.json the way an operator should: a new file
 * renamed over the old one. */
static void replace_keys(const char *text)
{
	char *path = fmt("%s/keys.json", tmpdir), *tmp = fmt("%s.new", path);
	FILE *f = fopen(tmp, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	free(tmp);
	free(path);
}

/* The same, the first time: returns the path (the caller frees it). */
static char *write_keys(const char *text)
{
	replace_keys(text);
	return fmt("%s/keys.json", tmpdir);
}

static char *set_text(EVP_PKEY *pkey, const char *kid)
{
	char *k = jwk(pkey, kid, "");
	char *t = fmt("{\"keys\":[%s]}", k);

	free(k);
	return t;
}

START_TEST(test_jwks_file_refresh)
{
	struct ch_jwks_file *f;
	struct ch_error err;
	char *a = set_text(key_a, "kid-a"), *b = set_text(key_b, "kid-b");

	make_tmpdir();
	char *path = write_keys(a);
	ck_assert_msg(ch_jwks_file_open(path, &f, &err) == 0, "%s", err.message);
	ck_assert_ptr_nonnull(ch_jwks_find(ch_jwks_file_keys(f), "kid-a", 5));
	ck_assert_str_eq(ch_jwks_file_path(f), path);

	/* unchanged: nothing happens, whatever the second */
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW, false, &err), 0);
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 1, false, &err), 0);

	/* rotated: seen at the next second, not within the same one */
	replace_keys(b);
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 1, false, &err), 0);
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 2, false, &err), 1);
	ck_assert_ptr_null(ch_jwks_find(ch_jwks_file_keys(f), "kid-a", 5));
	ck_assert_ptr_nonnull(ch_jwks_find(ch_jwks_file_keys(f), "kid-b", 5));

	/* a bad file: reported once, old keys kept, until it changes */
	replace_keys("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"x\",\"n\":\"!\",\"e\":\"AQAB\"}]}");
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 3, false, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "keys.json: keys[0]: \"n\""));
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 4, false, &err), 0);
	ck_assert_ptr_nonnull(ch_jwks_find(ch_jwks_file_keys(f), "kid-b", 5));
	/* forced (SIGHUP): read again, reported again */
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 4, true, &err), -1);

	/* removed: reported once; back: read again */
	unlink(path);
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 5, false, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 6, false, &err), 0);
	replace_keys(a);
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 7, false, &err), 1);
	ck_assert_ptr_nonnull(ch_jwks_find(ch_jwks_file_keys(f), "kid-a", 5));
	ck_assert_int_eq(ch_jwks_file_refresh(f, NOW + 7, true, &err), 1);

	ch_jwks_file_free(f);
	/* missing, a directory, too big */
	ck_assert_int_eq(ch_jwks_file_open("/nonexistent/keys.json", &f, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
	ck_assert_int_eq(ch_jwks_file_open(tmpdir, &f, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "not a regular file"));
	FILE *big = fopen(path, "w");
	ck_assert_int_eq(ftruncate(fileno(big), CH_JWKS_MAX_FILE + 1), 0);
	fclose(big);
	ck_assert_int_eq(ch_jwks_file_open(path, &f, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "larger than 1048576 bytes"));

	remove_tmpdir();
	free(path);
	free(a);
	free(b);
}
END_TEST

static void jwt_auth(struct ch_auth *auth, const char *jwks_path)
{
	memset(auth, 0, sizeof(*auth));
	auth->mode = CH_AUTH_JWT;
	auth->jwks_file = jwks_path != NULL ? strdup(jwks_path) : NULL;
	auth->jwt_audience = strdup(AUD);
	auth->jwt_clock_skew_s = 60;
	auth->jwt_max_lifetime_s = 600;
}

static int check_with(const struct ch_auth *auth, const char *authorization, struct ch_error *err)
{
	struct ch_header h[2] = {{"Content-Type", "application/json"}, {"authorization", NULL}};
	struct ch_auth_request req = {.headers = h,
	                              .n_headers = authorization ? 2 : 1,
	                              .body = "[]",
	                              .body_len = 2,
	                              .now_s = NOW};

	h[1].value = authorization;
	return ch_auth_check(auth, &req, err);
}

START_TEST(test_auth_mode_jwt)
{
	struct ch_auth auth;
	struct ch_error err;
	enum ch_auth_mode m;
	char *text = set_text(key_a, "kid-a");

	ck_assert_int_eq(ch_auth_mode_parse("jwt", &m), 0);
	ck_assert_int_eq(m, CH_AUTH_JWT);
	ck_assert_str_eq(ch_auth_mode_name(CH_AUTH_JWT), "jwt");

	make_tmpdir();
	char *path = write_keys(text);
	jwt_auth(&auth, path);
	ck_assert_int_eq(ch_auth_add_secret(&auth, "0123456789abcdef0123", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "takes no secret"));
	ck_assert_msg(ch_auth_prepare(&auth, &err) == 0, "%s", err.message);
	ck_assert_int_eq(ch_auth_prepare(&auth, &err), 0); /* idempotent */

	char *payload = good_claims();
	char *tok = token(HDR_A, payload, key_a);
	char *bearer = fmt("Bearer %s", tok);
	ck_assert_msg(check_with(&auth, bearer, &err) == 0, "%s", err.message);
	free(bearer);
	bearer = fmt("bearer  %s \t", tok); /* scheme in any case, blanks around */
	ck_assert_msg(check_with(&auth, bearer, &err) == 0, "%s", err.message);
	free(bearer);

	ck_assert_int_eq(check_with(&auth, NULL, &err), -1);
	ck_assert_int_eq(err.status, 401);
	ck_assert_str_eq(err.code, "Unauthorized");
	ck_assert_ptr_nonnull(strstr(err.message, "missing header Authorization"));
	ck_assert_int_eq(check_with(&auth, tok, &err), -1); /* no scheme */
	ck_assert_ptr_nonnull(strstr(err.message, "not a Bearer token"));
	ck_assert_int_eq(check_with(&auth, "Basic dXNlcjpwYXNz", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "not a Bearer token"));
	ck_assert_int_eq(check_with(&auth, "Bearer ", &err), -1);
	ck_assert_str_eq(err.code, "InvalidToken");
	ck_assert_ptr_nonnull(strstr(err.message, "empty token"));
	bearer = fmt("Bearer %sx", tok);
	ck_assert_int_eq(check_with(&auth, bearer, &err), -1);
	ck_assert_str_eq(err.code, "InvalidToken");
	/* the token is never quoted */
	ck_assert_ptr_null(strstr(err.message, tok + 20));
	free(bearer);

	/* the JWKS file is re-read on SIGHUP: ch_auth_reload */
	char *b = set_text(key_b, "kid-b");
	replace_keys(b);
	ck_assert_int_eq(ch_auth_reload(&auth, &err), 1);
	bearer = fmt("Bearer %s", tok);
	ck_assert_int_eq(check_with(&auth, bearer, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "unknown key id \"kid-a\""));
	replace_keys("not json");
	ck_assert_int_eq(ch_auth_reload(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "not valid JSON"));
	free(bearer);
	free(b);

	ch_auth_free(&auth);
	ck_assert_ptr_null(auth.jwks);
	free(tok);
	free(payload);
	remove_tmpdir();
	free(path);
	free(text);
}
END_TEST

START_TEST(test_auth_jwt_validate)
{
	struct ch_auth auth;
	struct ch_error err;

	jwt_auth(&auth, "/nonexistent/keys.json");
	free(auth.jwt_audience);
	auth.jwt_audience = NULL;
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "jwt_audience"));
	auth.jwt_audience = strdup(AUD);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), 0);
	ck_assert_int_eq(ch_auth_prepare(&auth, &err), -1); /* fails closed: no file */
	ck_assert_ptr_nonnull(strstr(err.message, "jwks_file /nonexistent/keys.json: cannot open"));
	auth.jwt_clock_skew_s = 301;
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "jwt_clock_skew"));
	ch_auth_free(&auth);

	jwt_auth(&auth, "keys.json");
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "absolute path"));
	ch_auth_free(&auth);
	jwt_auth(&auth, NULL);
	ck_assert_int_eq(ch_auth_validate(&auth, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "needs jwks_file"));
	ch_auth_free(&auth);

	/* other modes: reload is a no-op */
	memset(&auth, 0, sizeof(auth));
	ck_assert_int_eq(ch_auth_reload(&auth, &err), 0);
}
END_TEST

/* Load text as a whole configuration; the rc, err filled. */
static int load_config(struct ch_config *cfg, const char *text, struct ch_error *err)
{
	ch_config_init(cfg);
	if (ch_config_load_string(cfg, text, err) < 0)
		return -1;
	return ch_config_finish(cfg, err);
}

START_TEST(test_config_keys)
{
	struct ch_config cfg;
	struct ch_error err;
	char *keys = set_text(key_a, "kid-a");

	make_tmpdir();
	char *path = write_keys(keys);
	char *text =
	    fmt("[endpoint /acs]\nauth = jwt\njwks_file = %s\njwt_audience = %s\n", path, AUD);
	ck_assert_msg(load_config(&cfg, text, &err) == 0, "%s", err.message);
	const struct ch_auth *a = &cfg.endpoints[0].auth;
	ck_assert_int_eq(a->mode, CH_AUTH_JWT);
	ck_assert_str_eq(a->jwks_file, path);
	ck_assert_str_eq(a->jwt_audience, AUD);
	ck_assert_ptr_null(a->jwt_issuer); /* the Call Automation issuer */
	ck_assert_int_eq(a->jwt_clock_skew_s, 60);
	ck_assert_int_eq(a->jwt_max_lifetime_s, 600);
	ck_assert_uint_eq(ch_jwks_count(ch_jwks_file_keys(a->jwks)), 1);
	ch_config_free(&cfg);
	free(text);

	text = fmt("[endpoint /acs]\njwt_issuer = https://issuer.example\njwt_clock_skew = 1500ms\n"
	           "jwt_max_lifetime = 5m\njwks_file = %s\njwt_audience = x\nauth = jwt\n",
	           path);
	ck_assert_msg(load_config(&cfg, text, &err) == 0, "%s", err.message);
	a = &cfg.endpoints[0].auth;
	ck_assert_str_eq(a->jwt_issuer, "https://issuer.example");
	ck_assert_int_eq(a->jwt_clock_skew_s, 2); /* rounded up */
	ck_assert_int_eq(a->jwt_max_lifetime_s, 300);
	ch_config_free(&cfg);
	free(text);

	struct {
		char *text;
		const char *needle;
	} bad[] = {
	    {fmt("[endpoint /acs]\nauth = jwt\njwks_file = %s\n", path), "needs jwt_audience"},
	    {fmt("[endpoint /acs]\nauth = jwt\njwt_audience = x\n"), "needs jwks_file"},
	    {fmt("[endpoint /acs]\nauth = jwt\njwks_file = %s.gone\njwt_audience = x\n", path),
	     "cannot open"},
	    {fmt("[endpoint /acs]\nauth = jwt\njwks_file = keys.json\n"), "absolute path"},
	    {fmt("[endpoint /acs]\njwt_audience =\n"), "jwt_audience: must not be empty"},
	    {fmt("[endpoint /acs]\njwt_clock_skew = 301s\n"), "jwt_clock_skew"},
	    {fmt("[endpoint /acs]\njwt_max_lifetime = 0\n"), "jwt_max_lifetime"},
	    {fmt("[endpoint /acs]\nauth = jwt\nsecret = 0123456789abcdef0\n"), "takes no secret"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(load_config(&cfg, bad[i].text, &err), -1);
		ck_assert_msg(strstr(err.message, bad[i].needle) != NULL,
		              "%zu: \"%s\" lacks \"%s\"", i, err.message, bad[i].needle);
		ch_config_free(&cfg);
		free(bad[i].text);
	}
	remove_tmpdir();
	free(path);
	free(keys);
}
END_TEST

static Suite *jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("tokens");

	tcase_add_test(tc, test_b64url_strict);
	tcase_add_test(tc, test_valid_token);
	tcase_add_test(tc, test_expiry_and_skew);
	tcase_add_test(tc, test_not_yet_valid);
	tcase_add_test(tc, test_lifetime);
	tcase_add_test(tc, test_issuer);
	tcase_add_test(tc, test_audience);
	tcase_add_test(tc, test_dates_required_and_numeric);
	tcase_add_test(tc, test_duplicate_members);
	tcase_add_test(tc, test_kid);
	tcase_add_test(tc, test_alg_none_and_others);
	tcase_add_test(tc, test_alg_confusion_hs256);
	tcase_add_test(tc, test_tampering);
	tcase_add_test(tc, test_truncated_and_malformed);
	tcase_add_test(tc, test_largest_token_accepted);
	tcase_add_test(tc, test_crit_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("keys");
	tcase_add_test(tc, test_jwks_bad_n_e);
	tcase_add_test(tc, test_jwks_structure);
	tcase_add_test(tc, test_jwks_file_refresh);
	suite_add_tcase(s, tc);
	tc = tcase_create("auth");
	tcase_add_test(tc, test_auth_mode_jwt);
	tcase_add_test(tc, test_auth_jwt_validate);
	tcase_add_test(tc, test_config_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	key_a = generate_rsa(2048);
	key_b = generate_rsa(3072);
	key_small = generate_rsa(1024);

	SRunner *sr = srunner_create(jwt_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_small);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
