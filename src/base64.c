/* base64.c - see base64.h */
#include "base64.h"

#include <limits.h>
#include <stdbool.h>

#include <openssl/evp.h>

static bool is_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* EVP_DecodeBlock alone is too lenient: it silently trims leading and
 * trailing whitespace and other non-alphabet characters, decodes '=' anywhere
 * as zero bits, and counts padding in its result.  So the alphabet and the
 * padding are checked here first and the padding is subtracted afterwards. */
long ch_base64_decode(const char *in, size_t len, unsigned char *out)
{
	size_t pad = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len > INT_MAX)
		return -1;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++)
		if (!is_b64_char((unsigned char)in[i]))
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	return (long)((size_t)n - pad);
}
