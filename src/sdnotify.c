/* sdnotify.c - see sdnotify.h */
#include "sdnotify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"

struct ch_sd_watchdog {
	struct event *timer;
	struct timeval interval;
};

static int format_address(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, size, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

/* The one socket a .socket unit passed: it must be what we would have bound
 * ourselves, a listening TCP socket, or the daemon would start and never
 * serve (or serve on something it cannot reason about, such as a Unix
 * socket, where "auth = none only on loopback" means nothing). */
static int take_socket(struct ch_sd_env *env, struct ch_error *err)
{
	int n = sd_listen_fds(1), fd = SD_LISTEN_FDS_START, r;

	if (n < 0)
		return ch_error_set(err, 500, "StartFailed", "socket activation: LISTEN_FDS: %s",
		                    strerror(-n));
	if (n == 0)
		return 0; /* not socket-activated (or LISTEN_PID is not ours) */
	if (n > 1) {
		for (int i = 0; i < n; i++)
			close(SD_LISTEN_FDS_START + i);
		return ch_error_set(err, 500, "StartFailed",
		                    "socket activation: %d sockets passed; callhookd takes exactly "
		                    "one (a single ListenStream= in callhookd.socket)",
		                    n);
	}
	r = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0);
	if (r <= 0) {
		close(fd);
		return ch_error_set(err, 500, "StartFailed",
		                    "socket activation: fd %d is not a listening TCP socket%s%s "
		                    "(callhookd.socket needs ListenStream=ADDR:PORT)",
		                    fd, r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
	}
	/* libevent wants it non-blocking; CLOEXEC keeps it out of the exec
	 * handler's commands. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    format_address(fd, env->listen_addr, sizeof(env->listen_addr)) < 0) {
		int e = errno;

		close(fd);
		return ch_error_set(err, 500, "StartFailed", "socket activation: fd %d: %s", fd,
		                    strerror(e));
	}
	env->listen_fd = fd;
	return 0;
}

int ch_sd_take_env(struct ch_sd_env *env, bool take_sockets, struct ch_error *err)
{
	uint64_t usec = 0;

	memset(env, 0, sizeof(*env));
	env->listen_fd = -1;
	/* Checks WATCHDOG_PID against getpid(): start with -f under systemd. */
	if (sd_watchdog_enabled(1, &usec) > 0)
		env->watchdog_usec = usec;
	return take_sockets ? take_socket(env, err) : 0;
}

void ch_sd_ready(const char *status)
{
	if (status != NULL)
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		sd_notify(0, "READY=1");
}

void ch_sd_reloading(void)
{
	struct timespec ts;

	/* systemd 253 and later want the time with it (Type=notify-reload);
	 * earlier ones ignore the extra field. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ULL +
	               (unsigned long long)ts.tv_nsec / 1000ULL);
}

void ch_sd_stopping(const char *status)
{
	if (status != NULL)
		sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status);
	else
		sd_notify(0, "STOPPING=1");
}

void ch_sd_status(const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", line);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct ch_sd_watchdog *w = arg;

	sd_notify(0, "WATCHDOG=1");
	evtimer_add(w->timer, &w->interval);
}

struct ch_sd_watchdog *ch_sd_watchdog_start(struct event_base *base, uint64_t usec)
{
	struct ch_sd_watchdog *w;
	uint64_t half = usec / 2;

	if (usec == 0 || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	/* Half the interval, as sd_watchdog_enabled(3) advises: one late tick
	 * (a long fsync on the loop's side) is not yet a missed deadline. */
	w->interval.tv_sec = (time_t)(half / 1000000);
	w->interval.tv_usec = (suseconds_t)(half % 1000000);
	if ((w->timer = evtimer_new(base, on_watchdog, w)) == NULL) {
		free(w);
		return NULL;
	}
	ch_log_kv(CH_LOG_INFO, "systemd: watchdog", "interval_ms=%llu",
	          (unsigned long long)(half / 1000));
	on_watchdog(-1, 0, w); /* the first ping now */
	return w;
}

void ch_sd_watchdog_free(struct ch_sd_watchdog *w)
{
	if (w == NULL)
		return;
	event_free(w->timer);
	free(w);
}
