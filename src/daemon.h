/* daemon.h - the running daemon: store, journal writer, listener, handlers,
 * signals (SIGTERM/SIGINT drain, SIGHUP reload) and systemd notification. */
#ifndef CH_DAEMON_H
#define CH_DAEMON_H

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "reload.h"

struct ch_daemon_options {
	/* -1, or a pipe that gets one byte once the store is open and the
	 * socket listens, so a detaching parent can exit with the right status */
	int ready_fd;
	/* a listening TCP socket systemd passed (socket activation), or -1 to
	 * bind cfg->listen */
	int listen_fd;
	/* WatchdogSec= in microseconds (0: no watchdog) */
	uint64_t watchdog_usec;
	/* how cfg was made: SIGHUP makes the next one the same way */
	const struct ch_config_source *source;
};

/* Run until SIGTERM/SIGINT, then drain: stop accepting, finish and commit
 * what is in flight, answer it, stop the handlers after their current batch,
 * return 0.  cfg must outlive the call; configurations loaded by SIGHUP are
 * the daemon's own. */
int ch_daemon_run(const struct ch_config *cfg, const struct ch_daemon_options *opts,
                  struct ch_error *err);

#endif
