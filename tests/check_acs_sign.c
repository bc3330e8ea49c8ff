/* check_acs_sign.c - unit tests for acs_sign.c.
 *
 * The expected values are not written down here: they are computed at test
 * time by the openssl and date commands from fixed inputs, so the code under
 * test is checked against an independent implementation of the same rules.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acs_sign.h"

#define NOW     1795665600 /* 2026-11-26T04:00:00Z, a Thursday */
#define KEY_B64 "aGVsbG8tdGhpcy1pcy1hLXRlc3Qta2V5LTMyYnl0ZXM="
#define HOST    "127.0.0.1:8443"
#define PATH    "/calling/callConnections/abc-123:play?api-version=2021-06-15-preview"
#define BODY    "{\"audioFileUri\":\"https://x/a.wav\",\"loop\":false,\"operationContext\":\"c1\"}"
#define SKEW    300

static unsigned char key[CH_ACS_KEY_MAX];
static size_t key_len;

/* Run cmd through the shell, one line of output, trailing newline cut. */
static void run(char *out, size_t out_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void run(char *out, size_t out_size, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *f;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, out_size - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
}

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, strlen(data), f), strlen(data));
	ck_assert_int_eq(fclose(f), 0);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The expected x-ms-content-sha256 of data, by openssl. */
static void openssl_hash(const char *data, char out[CH_ACS_HASH_LEN + 8])
{
	char tmp[] = "/tmp/check_acs_sign.XXXXXX";
	int fd = mkstemp(tmp);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(tmp, data);
	run(out, CH_ACS_HASH_LEN + 8, "openssl dgst -sha256 -binary < %s | openssl base64 -A", tmp);
	unlink(tmp);
}

/* The expected signature of string_to_sign under key, by openssl. */
static void openssl_hmac(const char *string_to_sign, char *out, size_t out_size)
{
	char tmp[] = "/tmp/check_acs_sign.XXXXXX";
	char hexkey[2 * CH_ACS_KEY_MAX + 1];
	int fd = mkstemp(tmp);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(tmp, string_to_sign);
	hex(key, key_len, hexkey);
	run(out, out_size,
	    "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary < %s | openssl base64 -A",
	    hexkey, tmp);
	unlink(tmp);
}

START_TEST(test_content_hash)
{
	char got[CH_ACS_HASH_LEN], want[CH_ACS_HASH_LEN + 8];

	ch_acs_content_hash(BODY, strlen(BODY), got);
	openssl_hash(BODY, want);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(strlen(got), 44);

	ch_acs_content_hash(NULL, 0, got);
	openssl_hash("", want);
	ck_assert_str_eq(got, want);
	ck_assert_str_eq(got, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	ch_acs_content_hash("", 0, got);
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(test_date)
{
	static const time_t times[] = {NOW, 0, 951782400 /* 2000-02-29 */, 4102444799};
	char got[CH_ACS_DATE_LEN], want[64];

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		ch_acs_date(times[i], got);
		run(want, sizeof(want),
		    "LC_ALL=C date -u -d @%lld '+%%a, %%d %%b %%Y %%H:%%M:%%S GMT'",
		    (long long)times[i]);
		ck_assert_str_eq(got, want);
	}
	ch_acs_date(NOW, got);
	ck_assert_str_eq(got, "Thu, 26 Nov 2026 04:00:00 GMT");
}
END_TEST

START_TEST(test_authorization_vector)
{
	char date[CH_ACS_DATE_LEN], hash[CH_ACS_HASH_LEN], auth[CH_ACS_AUTH_LEN];
	char sts[1024], sig[128], want[256];
	static const struct {
		const char *method, *path, *body;
	} cases[] = {
	    {"POST", PATH, BODY},
	    {"POST", "/calling/callConnections/x:hangup?api-version=2021-06-15-preview", ""},
	    {"DELETE", "/calling/callConnections/x/participants/8%3Aacs%3Ab?api-version=v", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ch_acs_date(NOW + (time_t)i * 61, date);
		ch_acs_content_hash(cases[i].body, strlen(cases[i].body), hash);
		ck_assert_int_eq(ch_acs_authorization(key, key_len, cases[i].method, cases[i].path,
		                                      date, HOST, hash, auth, sizeof(auth)),
		                 0);
		snprintf(sts, sizeof(sts), "%s\n%s\n%s;%s;%s", cases[i].method, cases[i].path, date,
		         HOST, hash);
		openssl_hmac(sts, sig, sizeof(sig));
		snprintf(
		    want, sizeof(want),
		    "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=%s",
		    sig);
		ck_assert_str_eq(auth, want);
		ck_assert_int_eq(ch_acs_verify(key, key_len, cases[i].method, cases[i].path, HOST,
		                               date, hash, auth, cases[i].body,
		                               strlen(cases[i].body), NOW, SKEW, NULL),
		                 0);
	}
	/* too small an output buffer */
	ck_assert_int_eq(
	    ch_acs_authorization(key, key_len, "POST", PATH, date, HOST, hash, auth, 40), -1);
}
END_TEST

/* A correctly signed request, which each failure test then spoils. */
struct signed_req {
	char date[CH_ACS_DATE_LEN], hash[CH_ACS_HASH_LEN], auth[CH_ACS_AUTH_LEN];
};

static void sign(struct signed_req *r, time_t when)
{
	ch_acs_date(when, r->date);
	ch_acs_content_hash(BODY, strlen(BODY), r->hash);
	ck_assert_int_eq(ch_acs_authorization(key, key_len, "POST", PATH, r->date, HOST, r->hash,
	                                      r->auth, sizeof(r->auth)),
	                 0);
}

static void expect_401(const char *path, const char *host, const char *date, const char *hash,
                       const char *auth, const char *body, time_t now, const char *fragment)
{
	struct ch_error err = {0};

	ck_assert_int_eq(ch_acs_verify(key, key_len, "POST", path, host, date, hash, auth, body,
	                               strlen(body), now, SKEW, &err),
	                 -1);
	ck_assert_int_eq(err.status, 401);
	ck_assert_str_eq(err.code, "Unauthorized");
	if (strstr(err.message, fragment) == NULL)
		ck_abort_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
}

START_TEST(test_verify_failures)
{
	struct signed_req r;
	struct ch_error err = {0};
	unsigned char other[32];
	char auth[256], hash[CH_ACS_HASH_LEN];

	sign(&r, NOW);
	/* wrong key */
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	ck_assert_int_eq(ch_acs_verify(other, sizeof(other), "POST", PATH, HOST, r.date, r.hash,
	                               r.auth, BODY, strlen(BODY), NOW, SKEW, &err),
	                 -1);
	ck_assert_int_eq(err.status, 401);
	ck_assert_str_eq(err.message, "the request signature does not match");
	/* tampered body: the hash header no longer matches */
	expect_401(PATH, HOST, r.date, r.hash, r.auth, BODY " ", NOW, "does not match the body");
	/* tampered body with a matching new hash: the signature no longer matches */
	ch_acs_content_hash(BODY " ", strlen(BODY) + 1, hash);
	expect_401(PATH, HOST, r.date, hash, r.auth, BODY " ", NOW, "signature does not match");
	/* tampered path, host, method */
	expect_401("/calling/callConnections/abc-124:play?api-version=2021-06-15-preview", HOST,
	           r.date, r.hash, r.auth, BODY, NOW, "signature does not match");
	expect_401(PATH, "127.0.0.1:8444", r.date, r.hash, r.auth, BODY, NOW,
	           "signature does not match");
	ck_assert_int_eq(ch_acs_verify(key, key_len, "PUT", PATH, HOST, r.date, r.hash, r.auth,
	                               BODY, strlen(BODY), NOW, SKEW, &err),
	                 -1);
	/* stale and future dates, just beyond the skew; just within it passes */
	expect_401(PATH, HOST, r.date, r.hash, r.auth, BODY, NOW + SKEW + 1, "away from");
	expect_401(PATH, HOST, r.date, r.hash, r.auth, BODY, NOW - SKEW - 1, "away from");
	ck_assert_int_eq(ch_acs_verify(key, key_len, "POST", PATH, HOST, r.date, r.hash, r.auth,
	                               BODY, strlen(BODY), NOW + SKEW, SKEW, NULL),
	                 0);
	ck_assert_int_eq(ch_acs_verify(key, key_len, "POST", PATH, HOST, r.date, r.hash, r.auth,
	                               BODY, strlen(BODY), NOW - SKEW, SKEW, NULL),
	                 0);
	/* a date signed correctly but not in RFC 1123 form, or a wrong weekday */
	expect_401(PATH, HOST, "2026-11-26T04:00:00Z", r.hash, r.auth, BODY, NOW, "RFC 1123");
	expect_401(PATH, HOST, "Fri, 26 Nov 2026 04:00:00 GMT", r.hash, r.auth, BODY, NOW,
	           "RFC 1123");
	expect_401(PATH, HOST, "Thu, 26 Nov 2026 04:00:00 UTC", r.hash, r.auth, BODY, NOW,
	           "RFC 1123");
	expect_401(PATH, HOST, "Thu, 31 Nov 2026 04:00:00 GMT", r.hash, r.auth, BODY, NOW,
	           "RFC 1123");
	/* missing headers */
	expect_401(PATH, HOST, NULL, r.hash, r.auth, BODY, NOW, "x-ms-date header is missing");
	expect_401(PATH, HOST, r.date, NULL, r.auth, BODY, NOW, "x-ms-content-sha256 header");
	expect_401(PATH, HOST, r.date, r.hash, NULL, BODY, NOW, "Authorization header is missing");
	/* malformed Authorization */
	const char *sig = strstr(r.auth, "Signature=") + 10;
	snprintf(auth, sizeof(auth), "HMAC-SHA256 Signature=%s", sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "no SignedHeaders");
	snprintf(auth, sizeof(auth), "HMAC-SHA256 SignedHeaders=x-ms-date;host&Signature=%s", sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "must sign exactly");
	snprintf(auth, sizeof(auth),
	         "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256;content-type"
	         "&Signature=%s",
	         sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "must sign exactly");
	snprintf(auth, sizeof(auth),
	         "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256");
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "no Signature");
	snprintf(auth, sizeof(auth),
	         "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=%.43s!",
	         sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "not a base64 HMAC");
	snprintf(auth, sizeof(auth),
	         "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=%.40s",
	         sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "not a base64 HMAC");
	snprintf(auth, sizeof(auth), "Bearer %s", sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "HMAC-SHA256 scheme");
	snprintf(auth, sizeof(auth), "%s&Signature=%s", r.auth, sig);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "unexpected or repeated");
	snprintf(auth, sizeof(auth), "%s&Extra=1", r.auth);
	expect_401(PATH, HOST, r.date, r.hash, auth, BODY, NOW, "unexpected or repeated");
	/* the parts in the other order are still accepted */
	snprintf(auth, sizeof(auth),
	         "HMAC-SHA256 Signature=%s&SignedHeaders=x-ms-date;host;x-ms-content-sha256", sig);
	ck_assert_int_eq(ch_acs_verify(key, key_len, "POST", PATH, HOST, r.date, r.hash, auth, BODY,
	                               strlen(BODY), NOW, SKEW, NULL),
	                 0);
}
END_TEST

START_TEST(test_connection_string_good)
{
	struct ch_acs_credentials c;
	struct ch_error err = {0};

	ck_assert_int_eq(
	    ch_acs_parse_connection_string(
	        "endpoint=https://Example.Communication.Azure.com/;accesskey=" KEY_B64, &c, &err),
	    0);
	ck_assert_str_eq(c.endpoint, "https://example.communication.azure.com");
	ck_assert_uint_eq(c.key_len, key_len);
	ck_assert_mem_eq(c.key, key, key_len);

	ck_assert_int_eq(ch_acs_parse_connection_string(" AccessKey = " KEY_B64
	                                                " ; ENDPOINT=HTTP://127.0.0.1:8080 ;",
	                                                &c, &err),
	                 0);
	ck_assert_str_eq(c.endpoint, "http://127.0.0.1:8080");
	ck_assert_mem_eq(c.key, key, key_len);

	ck_assert_int_eq(
	    ch_acs_parse_connection_string("endpoint=http://[::1]:9/;accesskey=AAAA", &c, &err), 0);
	ck_assert_str_eq(c.endpoint, "http://[::1]:9");
	ck_assert_uint_eq(c.key_len, 3);

	unsigned char k[CH_ACS_KEY_MAX];
	size_t klen;
	ck_assert_int_eq(ch_acs_decode_key(KEY_B64, k, &klen, &err), 0);
	ck_assert_uint_eq(klen, key_len);
	ck_assert_int_eq(ch_acs_decode_key("AAA=", k, &klen, &err), 0);
	ck_assert_uint_eq(klen, 2);
	ck_assert_int_eq(ch_acs_decode_key("AA==", k, &klen, &err), 0);
	ck_assert_uint_eq(klen, 1);
}
END_TEST

START_TEST(test_connection_string_bad)
{
	static const struct {
		const char *cs, *fragment;
	} cases[] = {
	    {"accesskey=" KEY_B64, "endpoint is missing"},
	    {"endpoint=https://x.example/", "accesskey is missing"},
	    {"endpoint=https://x.example/;accesskey=", "accesskey is empty"},
	    {"endpoint=https://x.example/;accesskey=c2VjcmV0!!", "not valid base64"},
	    {"endpoint=https://x.example/;accesskey=c2VjcmV0a", "not valid base64"},
	    {"endpoint=https://x.example/;accesskey=c2Vj cmV0", "not valid base64"},
	    {"endpoint=https://x.example/;accesskey=c2=VjcmV", "not valid base64"},
	    {"endpoint=ftp://x.example/;accesskey=" KEY_B64, "https:// or http://"},
	    {"endpoint=x.example;accesskey=" KEY_B64, "https:// or http://"},
	    {"endpoint=https://;accesskey=" KEY_B64, "no host"},
	    {"endpoint=https:///;accesskey=" KEY_B64, "no host"},
	    {"endpoint=https://x.example/api;accesskey=" KEY_B64, "no path"},
	    {"endpoint=https://user@x.example/;accesskey=" KEY_B64, "no path"},
	    {"endpoint=https://x.example/?a=b;accesskey=" KEY_B64, "no path"},
	    {"endpoint=https://x.example:0/;accesskey=" KEY_B64, "bad port"},
	    {"endpoint=https://x.example:65536/;accesskey=" KEY_B64, "bad port"},
	    {"endpoint=https://x.example:/;accesskey=" KEY_B64, "bad port"},
	    {"endpoint=https://x.example:8a/;accesskey=" KEY_B64, "bad port"},
	    {"endpoint=https://[zz]:1/;accesskey=" KEY_B64, "IPv6"},
	    {"endpoint=https://a/;endpoint=https://b/;accesskey=" KEY_B64, "given twice"},
	    {"endpoint=https://a/;accesskey=" KEY_B64 ";accesskey=" KEY_B64, "given twice"},
	    {"endpoint=https://a/;accesskey=" KEY_B64 ";region=x", "unknown key \"region\""},
	    {"endpoint https://a/;accesskey=" KEY_B64, "has no '='"},
	    {"", "endpoint is missing"},
	};
	struct ch_acs_credentials c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ch_error err = {0};

		ck_assert_int_eq(ch_acs_parse_connection_string(cases[i].cs, &c, &err), -1);
		if (strstr(err.message, cases[i].fragment) == NULL)
			ck_abort_msg("case %zu: \"%s\" lacks \"%s\"", i, err.message,
			             cases[i].fragment);
		/* never quote the key */
		ck_assert_ptr_null(strstr(err.message, KEY_B64));
		ck_assert_ptr_null(strstr(err.message, "c2Vj"));
		ck_assert_ptr_null(strstr(err.message, "Vjc"));
		ck_assert_uint_eq(c.key_len, 0);
	}
	/* a key longer than CH_ACS_KEY_MAX bytes */
	char cs[512] = "endpoint=https://a/;accesskey=";
	for (int i = 0; i < 44; i++)
		strcat(cs, "AAAA");
	struct ch_error err = {0};
	ck_assert_int_eq(ch_acs_parse_connection_string(cs, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "longer than"));
}
END_TEST

static Suite *acs_sign_suite(void)
{
	Suite *s = suite_create("acs_sign");
	TCase *tc = tcase_create("sign");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_content_hash);
	tcase_add_test(tc, test_date);
	tcase_add_test(tc, test_authorization_vector);
	tcase_add_test(tc, test_verify_failures);
	suite_add_tcase(s, tc);
	tc = tcase_create("connection_string");
	tcase_add_test(tc, test_connection_string_good);
	tcase_add_test(tc, test_connection_string_bad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct ch_error err = {0};

	if (ch_acs_decode_key(KEY_B64, key, &key_len, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(acs_sign_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
