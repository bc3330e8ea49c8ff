/* tls.h - the server's TLS context: a certificate chain and its key, TLS 1.2
 * and 1.3 only.
 *
 * A ch_tls is built from two PEM files whenever a configuration is finished
 * (start-up, callhookd -t, and every SIGHUP), so a file that does not load
 * or a key that does not match its certificate fails that configuration
 * with one line, and a reload that fails keeps the running context.
 *
 * Policy: TLS 1.2 minimum; OpenSSL's default cipher suites at security
 * level 2 or higher (the system's level, raised to 2 when lower: RSA and DH
 * keys of 2048 bits or more, no SHA-1 signatures, no RC4 or 3DES); no
 * compression; no renegotiation.  HTTP/1.1 only, so no ALPN.
 *
 * The SSL_CTX is reference-counted by OpenSSL: the HTTP layer takes its own
 * reference, and every connection holds one through its SSL object, so a
 * context replaced by a reload lives until its last connection closes.
 */
#ifndef CH_TLS_H
#define CH_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CH_TLS_MAX_FILE (1 << 20) /* a PEM file larger than this is refused */

struct ssl_ctx_st; /* SSL_CTX */
struct ch_tls;

/* Load cert_path (the server certificate, then any intermediates: a
 * "fullchain.pem") and key_path (an unencrypted private key) into a new
 * context.  On failure err holds one line naming the file and the problem
 * (500 ConfigError). */
int ch_tls_new(const char *cert_path, const char *key_path, struct ch_tls **out,
               struct ch_error *err);
void ch_tls_free(struct ch_tls *tls);

/* Borrowed: take a reference (SSL_CTX_up_ref) to keep it past ch_tls_free. */
struct ssl_ctx_st *ch_tls_ctx(const struct ch_tls *tls);
/* For the log: the files, the certificate's subject (RFC 2253) and the end
 * of its validity ("2027-01-31T12:00:00Z"); whether it has expired. */
const char *ch_tls_cert_path(const struct ch_tls *tls);
const char *ch_tls_subject(const struct ch_tls *tls);
const char *ch_tls_not_after(const struct ch_tls *tls);
bool ch_tls_expired(const struct ch_tls *tls);

#endif
