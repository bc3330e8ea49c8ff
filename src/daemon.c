/* daemon.c - see daemon.h
 *
 * Everything here runs on the event loop thread: start-up, the signals (as
 * libevent events, so a handler may do real work), the drain and the reload.
 *
 * Reload (SIGHUP), after OpenBSD httpd: the file is read into a fresh
 * configuration; one that does not load, changes a setting that needs a
 * restart, or names a module that does not load or initialise is refused
 * with one log line, and the running configuration goes on untouched.  The
 * new configuration takes over for requests that arrive afterwards: a
 * request keeps nothing of the configuration once it has been handed to the
 * writer (api.h), so the old one is freed at once.  When the handler
 * sections changed, the new set is loaded and swapped on a thread of its own
 * (handler_runtime.h) and the configuration follows when that succeeded.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "actions.h"
#include "api.h"
#include "handler_runtime.h"
#include "http_conn.h"
#include "log.h"
#include "sdnotify.h"
#include "store.h"
#include "writer.h"

#define DRAIN_POLL_MS  20
#define STATUS_EVERY_S 5 /* systemd STATUS= refresh, only under systemd */
/* The handlers' least time to finish their batch at shutdown, even when the
 * drain used up drain_timeout: the "small margin" past it. */
#define HANDLER_GRACE_MS 500

struct daemon {
	const struct ch_config *cfg; /* running */
	struct ch_config *owned;     /* cfg, when a reload made it (main owns the first) */
	struct ch_config *pending;   /* loaded, waiting for its handler set */
	const struct ch_daemon_options *opts;
	struct event_base *base;
	struct ch_store *store;
	struct ch_writer *writer;
	struct ch_handler_runtime *handlers;
	struct ch_action_sender *actions; /* sends what handlers queued */
	struct ch_api *api;
	struct ch_http_server *http;
	struct ch_sd_watchdog *watchdog;
	struct event *sig_term, *sig_int, *sig_hup, *drain_poll, *drain_deadline, *status_tick;
	char bound[300];
	unsigned long reloads;
	struct timespec drain_started; /* CLOCK_MONOTONIC, when draining */
	bool draining;
	bool hup_again; /* SIGHUP during a reload: another one follows it */
};

static int listen_socket(const char *listen_addr, char *bound, size_t bound_size,
                         struct ch_error *err)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd, one = 1, rc;

	if (ch_split_host_port(listen_addr, host, sizeof(host), port, sizeof(port)) < 0)
		return ch_error_set(err, 500, "ListenFailed", "listen: \"%s\" is not ADDR:PORT",
		                    listen_addr);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return ch_error_set(err, 500, "ListenFailed", "listen %s: %s", listen_addr,
		                    gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return ch_error_set(err, 500, "ListenFailed", "listen %s: %s", listen_addr,
		                    strerror(e));
	}
	freeaddrinfo(res);
	if (ss.ss_family == AF_INET6)
		snprintf(bound, bound_size, "[%s]:%u", host,
		         ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	else
		snprintf(bound, bound_size, "%s:%u", host,
		         ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return fd;
}

static void limits_of(const struct ch_config *cfg, struct ch_http_limits *l)
{
	*l = (struct ch_http_limits){
	    .max_header = cfg->max_header,
	    .max_body = cfg->max_body,
	    .max_connections = cfg->max_connections,
	    .request_timeout_ms = cfg->request_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .retry_after_s = cfg->retry_after_s,
	    .max_per_source = cfg->max_conns_per_source,
	    .rate_count = cfg->rate_limit,
	    .rate_period_s = cfg->rate_period_s,
	    .rate_burst = cfg->rate_burst > 0 ? cfg->rate_burst : cfg->rate_limit,
	    .limit_loopback = cfg->limit_loopback,
	};
}

static void log_endpoints(const struct ch_config *cfg)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		ch_info("endpoint: %s auth=%s", cfg->endpoints[i].path,
		        ch_auth_mode_name(cfg->endpoints[i].auth.mode));
}

/* systemctl status shows this line. */
static const char *status_text(struct daemon *d, char *buf, size_t size)
{
	snprintf(buf, size, "listening on %s; %zu connections open; %zu handlers; %lu reloads",
	         d->bound, ch_http_server_open(d->http), ch_hrt_count(d->handlers), d->reloads);
	return buf;
}

static void on_status_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {STATUS_EVERY_S, 0};
	char status[400];

	if (!d->draining)
		ch_sd_status("%s", status_text(d, status, sizeof(status)));
	evtimer_add(d->status_tick, &tv);
}

/* --- shutdown -------------------------------------------------------------- */

static void on_drain_poll(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval tv = {0, DRAIN_POLL_MS * 1000};

	if (ch_http_server_busy(d->http) == 0 && ch_writer_pending(d->writer) == 0) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	evtimer_add(d->drain_poll, &tv);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	/* Whatever is still open was never acknowledged, so nothing is lost: the
	 * sender retries it. */
	ch_warn("shutdown: drain deadline passed with %zu requests unanswered",
	        ch_http_server_busy(d->http));
	event_base_loopexit(d->base, NULL);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	long ms = d->cfg->drain_timeout_ms;
	struct timeval deadline = {ms / 1000, (ms % 1000) * 1000};
	char status[100];

	if (d->draining) { /* a second signal: the operator does not want to wait */
		ch_warn(
		    "shutdown: second signal; leaving %zu requests unanswered (not acknowledged, "
		    "so the senders retry them)",
		    ch_http_server_busy(d->http));
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->draining = true;
	clock_gettime(CLOCK_MONOTONIC, &d->drain_started);
	snprintf(status, sizeof(status), "draining %zu requests in flight",
	         ch_http_server_busy(d->http));
	ch_sd_stopping(status);
	ch_info("shutdown: %s received; finishing %zu requests in flight",
	        sig == SIGTERM ? "SIGTERM" : "SIGINT", ch_http_server_busy(d->http));
	ch_http_server_drain(d->http);
	evtimer_add(d->drain_deadline, &deadline);
	on_drain_poll(-1, 0, d);
}

/* --- reload ---------------------------------------------------------------- */

static void reload(struct daemon *d);

static void free_config(struct ch_config *cfg)
{
	if (cfg != NULL) {
		ch_config_free(cfg);
		free(cfg);
	}
}

/* next becomes the configuration of every request from now on. */
static void apply_config(struct daemon *d, struct ch_config *next)
{
	struct ch_http_limits limits;

	limits_of(next, &limits);
	ch_api_set_config(d->api, next);
	ch_http_server_set_limits(d->http, &limits);
	ch_http_server_set_tls(d->http, next->tls); /* new connections get the new certificate */
	ch_log_set_level(next->log_level);
	ch_actions_configure(d->actions, next); /* [actions]: the next send uses them */
	free_config(d->owned);
	d->owned = next;
	d->cfg = next;
	d->reloads++;
}

static void reload_over(struct daemon *d)
{
	char status[400];

	if (d->draining) /* STOPPING=1 was sent: no READY=1 after it */
		return;
	ch_sd_ready(status_text(d, status, sizeof(status)));
	if (d->hup_again) {
		d->hup_again = false;
		reload(d);
	}
}

static const char *source_name(const struct daemon *d)
{
	return d->opts->source->path != NULL ? d->opts->source->path : "(built-in defaults)";
}

static void reload_refused(struct daemon *d, struct ch_config *next, const char *why)
{
	struct ch_error err;

	/* The one line an operator needs: what was wrong, and that nothing changed. */
	ch_log_kv(CH_LOG_ERROR, "reload: refused, the running configuration stays",
	          "config=%s reason=%s", source_name(d), why);
	free_config(next);
	ch_actions_set_enabled(d->cfg->actions.configured); /* as before the reload */
	/* SIGHUP also means "read the JWKS files again" (a successful reload
	 * read them as part of the new configuration); it logs what it found. */
	for (size_t i = 0; i < d->cfg->n_endpoints; i++)
		ch_auth_reload(&d->cfg->endpoints[i].auth, &err);
	reload_over(d);
}

static void reload_done(struct daemon *d, struct ch_config *next, const char *what)
{
	apply_config(d, next);
	ch_log_kv(CH_LOG_INFO, "reload: done",
	          "config=%s handler_set=%s handlers=%zu endpoints=%zu", source_name(d), what,
	          ch_hrt_count(d->handlers), d->cfg->n_endpoints);
	log_endpoints(d->cfg);
	reload_over(d);
}

static void on_handlers_replaced(void *arg, const struct ch_error *err)
{
	struct daemon *d = arg;
	struct ch_config *next = d->pending;

	d->pending = NULL;
	if (err != NULL)
		reload_refused(d, next, err->message);
	else
		reload_done(d, next, "replaced");
}

static void reload(struct daemon *d)
{
	const struct ch_config_source *src = d->opts->source;
	struct ch_config *next;
	struct ch_error err;
	char keys[200], why[400];

	if (d->draining) {
		ch_info("SIGHUP: ignored while shutting down");
		return;
	}
	if (ch_hrt_replacing(d->handlers)) {
		d->hup_again = true;
		ch_info("SIGHUP: a reload is in progress; another one follows it");
		return;
	}
	ch_sd_reloading();
	if ((next = malloc(sizeof(*next))) == NULL) {
		reload_refused(d, NULL, "out of memory");
		return;
	}
	if (ch_config_build(src, next, &err) < 0) {
		free(next);
		reload_refused(d, NULL, err.message);
		return;
	}
	if (ch_config_restart_keys(d->cfg, next, keys, sizeof(keys)) > 0) {
		snprintf(why, sizeof(why), "%s cannot change without a restart", keys);
		reload_refused(d, next, why);
		return;
	}
	if (ch_config_same_handlers(d->cfg, next)) {
		ch_hrt_reopen(d->handlers);
		reload_done(d, next, "kept"); /* and reopening their files */
		return;
	}
	d->pending = next;
	/* New handlers may queue actions before the configuration is applied. */
	ch_actions_set_enabled(d->cfg->actions.configured || next->actions.configured);
	if (ch_hrt_replace(d->handlers, next, on_handlers_replaced, d) < 0) {
		d->pending = NULL; /* cannot happen: checked above */
		reload_refused(d, next, "a handler replacement is still running");
	}
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	reload(arg);
}

/* --- start and stop -------------------------------------------------------- */

/* What is left of drain_timeout for the handlers to finish their batch: a
 * handler that hangs must not keep the process from exiting (nothing is
 * lost: its claimed deliveries run again at the next start). */
static long handler_budget_ms(const struct daemon *d)
{
	struct timespec now;
	long left = d->cfg != NULL ? d->cfg->drain_timeout_ms : 0;

	if (d->draining) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left -= (long)(now.tv_sec - d->drain_started.tv_sec) * 1000 +
		        (now.tv_nsec - d->drain_started.tv_nsec) / 1000000L;
	}
	return left > HANDLER_GRACE_MS ? left : HANDLER_GRACE_MS;
}

static void teardown(struct daemon *d)
{
	ch_writer_stop(d->writer); /* commits and answers the last group */
	/* the handlers finish their current batch, within the drain deadline */
	ch_hrt_stop(d->handlers, handler_budget_ms(d));
	/* then the action sender, after its request in flight (unsent rows stay pending) */
	ch_actions_stop(d->actions, handler_budget_ms(d));
	ch_http_server_free(d->http);
	ch_api_free(d->api);
	ch_store_close(d->store);
	ch_sd_watchdog_free(d->watchdog);
	free_config(d->pending);
	free_config(d->owned);
	if (d->sig_term)
		event_free(d->sig_term);
	if (d->sig_int)
		event_free(d->sig_int);
	if (d->sig_hup)
		event_free(d->sig_hup);
	if (d->drain_poll)
		event_free(d->drain_poll);
	if (d->drain_deadline)
		event_free(d->drain_deadline);
	if (d->status_tick)
		event_free(d->status_tick);
	if (d->base)
		event_base_free(d->base);
}

static int open_listener(struct daemon *d, struct ch_error *err)
{
	struct ch_http_limits limits;
	int fd = d->opts->listen_fd;

	if (fd >= 0) {
		/* main() made the socket's address the listen setting, so the
		 * loopback rule for auth = none was checked against it. */
		snprintf(d->bound, sizeof(d->bound), "%s", d->cfg->listen);
		ch_log_kv(CH_LOG_INFO, "systemd: socket activation, serving on the passed socket",
		          "fd=%d address=%s", fd, d->cfg->listen);
	} else if ((fd = listen_socket(d->cfg->listen, d->bound, sizeof(d->bound), err)) < 0) {
		return -1;
	}
	limits_of(d->cfg, &limits);
	if ((d->http = ch_http_server_new(d->base, fd, &limits, ch_api_handle, d->api, err)) ==
	    NULL) {
		close(fd);
		return -1;
	}
	ch_http_server_set_tls(d->http, d->cfg->tls);
	return 0;
}

static int watch_signals(struct daemon *d, struct ch_error *err)
{
	d->sig_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	d->drain_poll = evtimer_new(d->base, on_drain_poll, d);
	d->drain_deadline = evtimer_new(d->base, on_drain_deadline, d);
	d->status_tick = evtimer_new(d->base, on_status_tick, d);
	if (!d->sig_term || !d->sig_int || !d->sig_hup || !d->drain_poll || !d->drain_deadline ||
	    !d->status_tick || evsignal_add(d->sig_term, NULL) < 0 ||
	    evsignal_add(d->sig_int, NULL) < 0 || evsignal_add(d->sig_hup, NULL) < 0)
		return ch_error_set(err, 500, "StartFailed", "cannot install signal handlers");
	return 0;
}

int ch_daemon_run(const struct ch_config *cfg, const struct ch_daemon_options *opts,
                  struct ch_error *err)
{
	struct daemon d = {.cfg = cfg, .opts = opts};
	struct ch_store_options sopts = {
	    .path = cfg->db_path,
	    .synchronous = cfg->synchronous,
	    .busy_timeout_ms = (int)cfg->busy_timeout_ms,
	};
	char status[400];

	signal(SIGPIPE, SIG_IGN);
	/* The writer and handler threads wake the loop with event_active(). */
	if (evthread_use_pthreads() < 0 || (d.base = event_base_new()) == NULL) {
		if (opts->listen_fd >= 0)
			close(opts->listen_fd);
		return ch_error_set(err, 500, "StartFailed", "cannot create the event loop");
	}
	if (ch_store_open(&sopts, &d.store, err) < 0)
		goto fail;
	ch_info("store: %s (schema %d)", cfg->db_path, ch_store_schema_version(d.store));
	if ((d.writer = ch_writer_start(d.base, d.store, cfg->max_batch, cfg->busy_timeout_ms,
	                                err)) == NULL ||
	    /* before the handlers: their first events may already queue actions */
	    (d.actions = ch_actions_start(cfg, err)) == NULL ||
	    (d.handlers = ch_hrt_start(d.base, cfg, d.writer, err)) == NULL)
		goto fail;
	if ((d.api = ch_api_new(cfg, d.writer)) == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		goto fail;
	}
	if (open_listener(&d, err) < 0) {
		teardown(&d);
		return -1;
	}
	if (watch_signals(&d, err) < 0) {
		teardown(&d);
		return -1;
	}
	log_endpoints(cfg);
	/* Scripts and tests read the port from this line when they asked for port 0. */
	ch_notice("listening on %s pid=%ld", d.bound, (long)getpid());
	if (opts->ready_fd >= 0) {
		ssize_t w = write(opts->ready_fd, "R", 1);

		(void)w;
		close(opts->ready_fd);
	}
	/* Store open, handlers loaded, socket listening: ready. */
	ch_sd_ready(status_text(&d, status, sizeof(status)));
	d.watchdog = ch_sd_watchdog_start(d.base, opts->watchdog_usec);
	if (getenv("NOTIFY_SOCKET") != NULL)
		on_status_tick(-1, 0, &d);
	event_base_dispatch(d.base);
	teardown(&d);
	ch_notice("shutdown: done");
	return 0;
fail:
	if (opts->listen_fd >= 0)
		close(opts->listen_fd);
	teardown(&d);
	return -1;
}
