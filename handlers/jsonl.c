/* jsonl.c - append every matching event to a file, one JSON document a line.
 *
 * An at-least-once log, not an exactly-once one: the host hands an event to
 * handle() again after a crash, a CH_RETRY or a `callhookctl replay`, and a
 * file cannot take part in the journal's transaction, so such an event is
 * appended again.  Consumers that care dedupe: with envelope = wrapped each
 * line carries the journal id ({"journal_id":N,"event":...}); with the default
 * envelope = raw the line is the event exactly as journaled, whose id/source
 * (or the whole line) identifies it.
 *
 * Each line is written with one write(2) on an O_APPEND descriptor, so lines
 * of several appenders (two instances, another program) do not interleave.
 * The raw event is valid JSON, and JSON admits a raw CR or LF only as
 * whitespace between tokens (inside strings they must be escaped), so
 * dropping those bytes yields the same document on a single line.
 *
 * SIGHUP (reopen) reopens the path, for logrotate's rename-and-signal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_CLOEXEC on older C libraries */
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "module_common.h"

/* Room for '\n' + {"journal_id":<20 digits>,"event": + } + '\n'. */
#define WRAP_OVERHEAD 64

static const struct ch_host *host;

struct jsonl {
	struct ch_context *ctx;
	char *path;   /* owned */
	int fd;       /* always open from init to fini */
	bool fsync;   /* fdatasync after each line */
	bool wrapped; /* envelope = wrapped */
	bool torn;    /* a write stopped mid-line: start the next line on a fresh one */
	char *buf;    /* the line being written (owned), grown to the largest event */
	size_t cap;
};

static const struct ch_option options[] = {
    {"path", CH_OPT_STRING, NULL, true, "file to append one JSON line per event to"},
    {"fsync", CH_OPT_BOOL, "no", false, "fdatasync the file after each line"},
    {"envelope", CH_OPT_STRING, "raw", false,
     "raw: each line is the event as journaled; wrapped: {\"journal_id\":N,\"event\":...}"},
    {NULL, CH_OPT_STRING, NULL, false, NULL},
};

static const char *const default_events[] = {"*", NULL};

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

static void jsonl_free(struct jsonl *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j->buf);
	free(j);
}

static int jsonl_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	const char *path, *envelope;
	struct jsonl *j;

	host = h;
	path = host->opt_str(ctx, "path");
	envelope = host->opt_str(ctx, "envelope");
	if (path == NULL || path[0] == '\0') {
		host->set_error(ctx, "path: a file name is required");
		return -1;
	}
	if (envelope == NULL ||
	    (strcmp(envelope, "raw") != 0 && strcmp(envelope, "wrapped") != 0)) {
		host->set_error(ctx, "envelope: expected raw or wrapped, not \"%s\"",
		                envelope ? envelope : "");
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->path = strdup(path)) == NULL) {
		free(j);
		host->set_error(ctx, "out of memory");
		return -1;
	}
	j->ctx = ctx;
	j->fsync = host->opt_bool(ctx, "fsync");
	j->wrapped = strcmp(envelope, "wrapped") == 0;
	/* Open now so that a typo in the path stops start-up. */
	if ((j->fd = open_log(path)) < 0) {
		host->set_error(ctx, "cannot open %s: %s", path, strerror(errno));
		jsonl_free(j);
		return -1;
	}
	*state = j;
	return 0;
}

static bool reserve(struct jsonl *j, size_t need)
{
	char *p;

	if (need <= j->cap)
		return true;
	if ((p = realloc(j->buf, need)) == NULL)
		return false;
	j->buf = p;
	j->cap = need;
	return true;
}

/* The raw event without its CR and LF bytes (whitespace, see the top). */
static size_t copy_one_line(char *dst, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (src[i] != '\n' && src[i] != '\r')
			dst[n++] = src[i];
	return n;
}

/* Build the line in j->buf; returns its length, 0 when out of memory. */
static size_t build_line(struct jsonl *j, const struct ch_event *ev)
{
	size_t raw_len, n = 0;
	const char *raw = host->event_raw(ev, &raw_len);

	if (!reserve(j, raw_len + WRAP_OVERHEAD))
		return 0;
	if (j->torn)
		j->buf[n++] = '\n';
	if (j->wrapped)
		n += (size_t)snprintf(j->buf + n, j->cap - n,
		                      "{\"journal_id\":%" PRId64 ",\"event\":", host->event_id(ev));
	n += copy_one_line(j->buf + n, raw, raw_len);
	if (j->wrapped)
		j->buf[n++] = '}';
	j->buf[n++] = '\n';
	return n;
}

/* One write(2) for the whole line; a short write (full disk, a signal) is
 * continued, and when it cannot be the line is marked torn. */
static int write_line(struct jsonl *j, const char *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(j->fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			j->torn = j->torn || done > 0;
			return -1;
		}
		done += (size_t)n;
	}
	j->torn = false;
	return 0;
}

static enum ch_result jsonl_handle(void *state, const struct ch_event *ev)
{
	struct jsonl *j = state;
	size_t len = build_line(j, ev);

	if (len == 0) {
		host->set_error(j->ctx, "out of memory");
		return CH_RETRY;
	}
	if (write_line(j, j->buf, len) < 0) {
		host->set_error(j->ctx, "write %s: %s", j->path, strerror(errno));
		return CH_RETRY;
	}
	if (j->fsync && fdatasync(j->fd) < 0) {
		host->set_error(j->ctx, "fdatasync %s: %s", j->path, strerror(errno));
		return CH_RETRY;
	}
	return CH_OK;
}

/* logrotate renamed the file: open the path again.  When that fails, keep
 * writing to the old file, which is still a file that will be read. */
static void jsonl_reopen(void *state)
{
	struct jsonl *j = state;
	int fd = open_log(j->path);

	if (fd < 0) {
		host->log(j->ctx, CH_LOG_ERROR, "reopen %s: %s (still writing to the old file)",
		          j->path, strerror(errno));
		return;
	}
	close(j->fd);
	j->fd = fd;
	j->torn = false;
}

static void jsonl_fini(void *state)
{
	jsonl_free(state);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .flags = 0,
    .name = "jsonl",
    .version = "1.0",
    .description = "append each event to a file as one line of JSON (at-least-once)",
    .event_types = default_events,
    .options = options,
    .init = jsonl_init,
    .handle = jsonl_handle,
    .reopen = jsonl_reopen,
    .fini = jsonl_fini,
};

HM_HANDLER_ENTRY(descriptor)
