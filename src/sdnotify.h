/* sdnotify.h - the systemd side of the daemon, through libsystemd (Debian
 * libsystemd-dev): readiness and status (sd_notify), the watchdog, and socket
 * activation (sd_listen_fds).
 *
 * Outside systemd everything here is a no-op: without NOTIFY_SOCKET
 * sd_notify() sends nothing, without WATCHDOG_USEC (or with a WATCHDOG_PID
 * that is not ours) there is no watchdog timer, and without LISTEN_FDS the
 * daemon binds its own socket.
 */
#ifndef CH_SDNOTIFY_H
#define CH_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct event_base;

/* What systemd passed in the environment, taken once by main() before any
 * thread starts: the variables are removed, so the commands the exec handler
 * runs do not inherit a socket or a watchdog that are not theirs
 * (NOTIFY_SOCKET stays: sd_notify() reads it at every call, and systemd
 * ignores messages from other processes than the main one). */
struct ch_sd_env {
	int listen_fd;          /* the passed listening socket, or -1 */
	char listen_addr[80];   /* its address as "ADDR:PORT" / "[v6]:PORT" */
	uint64_t watchdog_usec; /* WatchdogSec= in microseconds, 0 when off */
};

/* 0 with env filled in; -1 when systemd passed something unusable (more than
 * one socket, or one that is not a listening TCP socket), with one line in
 * err.  take_sockets false (callhookd -t): leave LISTEN_FDS alone. */
int ch_sd_take_env(struct ch_sd_env *env, bool take_sockets, struct ch_error *err);

/* READY=1 with a STATUS= line (status may be NULL). */
void ch_sd_ready(const char *status);
/* RELOADING=1 at the start of a reload; ch_sd_ready() ends it. */
void ch_sd_reloading(void);
/* STOPPING=1 with a STATUS= line. */
void ch_sd_stopping(const char *status);
void ch_sd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* WATCHDOG=1 every half of usec, from a timer on the event loop: a loop that
 * hangs stops the pings and systemd restarts the service.  NULL when usec is 0
 * (nothing to do) or the timer cannot be made; ch_sd_watchdog_free(NULL) is
 * fine. */
struct ch_sd_watchdog;
struct ch_sd_watchdog *ch_sd_watchdog_start(struct event_base *base, uint64_t usec);
void ch_sd_watchdog_free(struct ch_sd_watchdog *w);

#endif
