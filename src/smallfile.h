/* smallfile.h - read a whole small file (a certificate, a key, a key set).
 *
 * Files named in the configuration are read at start-up and on reload, some
 * on the event loop: the read is capped, a FIFO or device put there by
 * mistake cannot hang it (it is refused as not a regular file), and a file
 * that grows while it is read is caught.
 */
#ifndef CH_SMALLFILE_H
#define CH_SMALLFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "error.h"

/* Read path, at most max bytes.  label names the file in messages (the path,
 * or "tls_key /etc/x.pem").  On success *out (NUL-terminated, *len bytes
 * before the NUL) is the caller's to free; wipe it first if it may hold a
 * secret.  *st gets the file's status whenever it could be taken (st_mode is
 * 0 otherwise), failure or not.  Errors: 500 ConfigError, one line. */
int ch_read_small_file(const char *path, const char *label, size_t max, char **out, size_t *len,
                       struct stat *st, struct ch_error *err);

#endif
