/* tls.c - see tls.h
 *
 * The PEM files are read into memory by us, not by OpenSSL's file BIOs, so
 * the read is bounded (a path that names a device or a FIFO by mistake can
 * neither hang the event loop at a reload nor fill memory) and the key's
 * bytes are wiped once parsed.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smallfile.h"

struct ch_tls {
	SSL_CTX *ctx;
	char *cert_path;
	char subject[200];
	char not_after[32];
	bool expired;
};

#define BAD(err, ...) ch_error_set((err), 500, "ConfigError", __VA_ARGS__)

/* OpenSSL's reason for its last error, for the end of a message.  Clears
 * the thread's error queue, which would otherwise be blamed on whatever
 * OpenSSL call comes next (libevent reads it after a failed SSL_read). */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, size, "%s", r != NULL ? r : "no detail");
	ERR_clear_error();
	return buf;
}

/* The whole of path, at most CH_TLS_MAX_FILE bytes.  *out is the caller's:
 * wipe it (it may hold a key) and free it. */
static int read_file(const char *key, const char *path, char **out, size_t *out_len,
                     struct ch_error *err)
{
	char label[PATH_MAX + 16];
	struct stat st;

	snprintf(label, sizeof(label), "%s %s", key, path);
	return ch_read_small_file(path, label, CH_TLS_MAX_FILE, out, out_len, &st, err);
}

static void describe(struct ch_tls *tls, X509 *cert)
{
	BIO *mem = BIO_new(BIO_s_mem());
	const ASN1_TIME *end = X509_get0_notAfter(cert);
	struct tm tm;
	int n = 0;

	if (mem != NULL &&
	    X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(mem, tls->subject, (int)sizeof(tls->subject) - 1);
	tls->subject[n > 0 ? n : 0] = '\0';
	BIO_free(mem);
	if (end != NULL && ASN1_TIME_to_tm(end, &tm) == 1)
		strftime(tls->not_after, sizeof(tls->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		snprintf(tls->not_after, sizeof(tls->not_after), "unknown");
	tls->expired = end == NULL || X509_cmp_current_time(end) < 0;
	ERR_clear_error();
}

/* The first certificate is the server's; the rest, if any, its chain. */
static int use_chain(struct ch_tls *tls, const char *path, const char *pem, size_t len,
                     struct ch_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *leaf = NULL, *ca;
	unsigned long e;
	char why[160];
	int rc = -1;

	if (bio == NULL)
		return BAD(err, "out of memory");
	if ((leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL)) == NULL) {
		BAD(err, "tls_cert %s: no PEM certificate in it (%s)", path,
		    ssl_reason(why, sizeof(why)));
		goto out;
	}
	/* Refused here too: a key below the security level ("ee key too small"). */
	if (SSL_CTX_use_certificate(tls->ctx, leaf) != 1) {
		BAD(err, "tls_cert %s: certificate not usable (%s)", path,
		    ssl_reason(why, sizeof(why)));
		goto out;
	}
	describe(tls, leaf);
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(tls->ctx, ca) != 1) {
			X509_free(ca);
			BAD(err, "tls_cert %s: chain certificate not usable (%s)", path,
			    ssl_reason(why, sizeof(why)));
			goto out;
		}
	}
	/* The loop ends at the end of the file, or at a block that is broken. */
	e = ERR_peek_last_error();
	if (e != 0 &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		BAD(err, "tls_cert %s: a certificate after the first is broken (%s)", path,
		    ssl_reason(why, sizeof(why)));
		goto out;
	}
	ERR_clear_error();
	rc = 0;
out:
	X509_free(leaf);
	BIO_free(bio);
	return rc;
}

/* Never ask for a passphrase: an encrypted key fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

static int use_key(struct ch_tls *tls, const char *path, const char *pem, size_t len,
                   struct ch_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key;
	char why[160];
	int rc = -1;

	if (bio == NULL)
		return BAD(err, "out of memory");
	if ((key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL) {
		BAD(err,
		    "tls_key %s: no usable PEM private key in it (an encrypted key is not "
		    "supported) (%s)",
		    path, ssl_reason(why, sizeof(why)));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(tls->ctx, key) != 1 ||
	    SSL_CTX_check_private_key(tls->ctx) != 1) {
		BAD(err, "tls_key %s: does not match the certificate in %s (%s)", path,
		    tls->cert_path, ssl_reason(why, sizeof(why)));
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

static int set_policy(SSL_CTX *ctx, struct ch_error *err)
{
	char why[160];

	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return BAD(err, "TLS: cannot require TLS 1.2 (%s)", ssl_reason(why, sizeof(why)));
	if (SSL_CTX_get_security_level(ctx) < 2)
		SSL_CTX_set_security_level(ctx, 2);
	/* Compression: CRIME.  Renegotiation: a client could make us do
	 * handshakes' worth of work for the price of a message.  Server
	 * preference: the suites are tried in OpenSSL's order, forward-secret
	 * AEAD first, not in whatever order a client lists them. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle keep-alive connections give their read and write buffers back
	 * (about 34 KiB each). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

int ch_tls_new(const char *cert_path, const char *key_path, struct ch_tls **out,
               struct ch_error *err)
{
	struct ch_tls *tls = calloc(1, sizeof(*tls));
	char *cert_pem = NULL, *key_pem = NULL;
	size_t cert_len = 0, key_len = 0;
	int rc = -1;

	*out = NULL;
	if (tls == NULL || (tls->cert_path = strdup(cert_path)) == NULL) {
		BAD(err, "out of memory");
		goto out;
	}
	if ((tls->ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		char why[160];

		BAD(err, "TLS: cannot create a context (%s)", ssl_reason(why, sizeof(why)));
		goto out;
	}
	if (set_policy(tls->ctx, err) < 0 ||
	    read_file("tls_cert", cert_path, &cert_pem, &cert_len, err) < 0 ||
	    use_chain(tls, cert_path, cert_pem, cert_len, err) < 0 ||
	    read_file("tls_key", key_path, &key_pem, &key_len, err) < 0 ||
	    use_key(tls, key_path, key_pem, key_len, err) < 0)
		goto out;
	*out = tls;
	tls = NULL;
	rc = 0;
out:
	free(cert_pem);
	if (key_pem != NULL) {
		OPENSSL_cleanse(key_pem, key_len);
		free(key_pem);
	}
	ch_tls_free(tls);
	ERR_clear_error();
	return rc;
}

void ch_tls_free(struct ch_tls *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx); /* the last reference frees it */
	free(tls->cert_path);
	free(tls);
}

struct ssl_ctx_st *ch_tls_ctx(const struct ch_tls *tls)
{
	return tls->ctx;
}

const char *ch_tls_cert_path(const struct ch_tls *tls)
{
	return tls->cert_path;
}

const char *ch_tls_subject(const struct ch_tls *tls)
{
	return tls->subject;
}

const char *ch_tls_not_after(const struct ch_tls *tls)
{
	return tls->not_after;
}

bool ch_tls_expired(const struct ch_tls *tls)
{
	return tls->expired;
}
