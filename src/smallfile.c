/* smallfile.c - see smallfile.h */
#include "smallfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAD(err, ...) ch_error_set((err), 500, "ConfigError", __VA_ARGS__)

static int read_all(int fd, const char *label, size_t max, char *buf, size_t *len,
                    struct ch_error *err)
{
	for (;;) {
		/* One byte more than allowed, so a file that grew since fstat is seen. */
		ssize_t r = read(fd, buf + *len, max + 1 - *len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return BAD(err, "%s: cannot read: %s", label, strerror(errno));
		if (r == 0)
			return 0;
		*len += (size_t)r;
		if (*len > max)
			return BAD(err, "%s: larger than %zu bytes", label, max);
	}
}

int ch_read_small_file(const char *path, const char *label, size_t max, char **out, size_t *len,
                       struct stat *st, struct ch_error *err)
{
	char *buf = NULL;
	int fd, rc = -1;

	*out = NULL;
	*len = 0;
	memset(st, 0, sizeof(*st));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return BAD(err, "%s: cannot open: %s", label, strerror(errno));
	if (fstat(fd, st) < 0) {
		memset(st, 0, sizeof(*st));
		BAD(err, "%s: cannot stat: %s", label, strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		BAD(err, "%s: not a regular file", label);
	} else if ((size_t)st->st_size > max) {
		BAD(err, "%s: larger than %zu bytes", label, max);
	} else if ((buf = malloc(max + 2)) == NULL) {
		BAD(err, "out of memory");
	} else if (read_all(fd, label, max, buf, len, err) == 0) {
		buf[*len] = '\0';
		*out = buf;
		buf = NULL;
		rc = 0;
	}
	if (buf != NULL) { /* it may hold part of a key */
		explicit_bzero(buf, *len);
		free(buf);
		*len = 0;
	}
	close(fd);
	return rc;
}
