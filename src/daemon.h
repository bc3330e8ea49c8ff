/* daemon.h - the running daemon: store, journal writer, listener, signals. */
#ifndef CH_DAEMON_H
#define CH_DAEMON_H

#include "config.h"
#include "error.h"

/* Run until SIGTERM/SIGINT, then drain: stop accepting, finish and commit
 * what is in flight, answer it, return 0.  ready_fd (or -1) gets one byte once
 * the store is open and the socket listens, so a detaching parent can exit
 * with the right status.  cfg must outlive the call. */
int ch_daemon_run(const struct ch_config *cfg, int ready_fd, struct ch_error *err);

#endif
