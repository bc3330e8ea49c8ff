/* base64.h - strict standard base64 (RFC 4648 section 4, padded), the way
 * secrets, keys and signatures arrive in callhookd's configs and headers.
 * (JOSE's unpadded base64url is in jwt.h.) */
#ifndef CH_BASE64_H
#define CH_BASE64_H

#include <stddef.h>

/* Decode in[0..len) into out, which must hold len / 4 * 3 bytes.  The
 * decoded length, or -1 when in is not valid padded base64 (anything outside
 * the alphabet, whitespace included, or '=' anywhere but at the end). */
long ch_base64_decode(const char *in, size_t len, unsigned char *out);

#endif
