/* jwks.h - the RS256 public keys of a JSON Web Key Set file (RFC 7517), and
 * re-reading that file when it changes.
 *
 * The key set is a local file the operator keeps current (for Call
 * Automation, a copy of https://acscallautomation.communication.azure.com/calling/keys):
 * the daemon never fetches keys over the network.  A set that cannot be used
 * as a whole is refused as a whole, so a typo never silently drops a key.
 *
 * Not thread-safe: a ch_jwks_file is refreshed and read on one thread (the
 * event loop's).
 */
#ifndef CH_JWKS_H
#define CH_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "error.h"

#define CH_JWKS_MAX_FILE (1024 * 1024) /* bytes */
#define CH_JWKS_MAX_KEYS 64            /* entries in "keys", usable or not */
#define CH_JWKS_MAX_KID  256           /* bytes */
#define CH_JWKS_MIN_BITS 2048          /* RSA modulus */
#define CH_JWKS_MAX_BITS 8192

struct ch_jwks; /* a parsed key set; never changes once built */

/* Parse a key set.  Entries that are not for us (kty other than RSA, use other
 * than sig, alg other than RS256) are skipped; an RSA signing entry with a
 * missing or duplicate kid or a bad n or e makes the whole set invalid, and
 * so does a set with no usable key.  Errors are 500 "ConfigError". */
int ch_jwks_parse(const char *text, size_t len, struct ch_jwks **out, struct ch_error *err);
/* Read and parse the file at path (a regular file of at most CH_JWKS_MAX_FILE bytes). */
int ch_jwks_load(const char *path, struct ch_jwks **out, struct ch_error *err);
size_t ch_jwks_count(const struct ch_jwks *keys);
/* The public key whose kid is exactly kid (kid_len bytes), or NULL. */
EVP_PKEY *ch_jwks_find(const struct ch_jwks *keys, const char *kid, size_t kid_len);
void ch_jwks_free(struct ch_jwks *keys);

/* A key set file and the keys last read from it. */
struct ch_jwks_file;

/* Read path for the first time; a missing or invalid file is an error. */
int ch_jwks_file_open(const char *path, struct ch_jwks_file **out, struct ch_error *err);
/* Re-read the file if it changed (device, inode, size, mtime or ctime),
 * looking at it at most once per second of now_s; force reads it again
 * whatever it looks like (SIGHUP).  Returns 1 when new keys were loaded, 0
 * when nothing changed, -1 when the new file is unusable: err says why and
 * the keys read before stay in use.  An unusable file is reported once, not
 * at every look, until it changes again. */
int ch_jwks_file_refresh(struct ch_jwks_file *f, int64_t now_s, bool force, struct ch_error *err);
const struct ch_jwks *ch_jwks_file_keys(const struct ch_jwks_file *f);
const char *ch_jwks_file_path(const struct ch_jwks_file *f);
void ch_jwks_file_free(struct ch_jwks_file *f);

#endif
