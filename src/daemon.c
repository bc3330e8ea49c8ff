/* daemon.c - see daemon.h */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "api.h"
#include "dispatch.h"
#include "http_conn.h"
#include "log.h"
#include "plugin.h"
#include "store.h"
#include "writer.h"

#define DRAIN_POLL_MS 20

struct daemon {
	const struct ch_config *cfg;
	struct event_base *base;
	struct ch_store *store;
	struct ch_writer *writer;
	struct ch_plugin_set plugins;
	struct ch_workers *workers;
	struct ch_api *api;
	struct ch_http_server *http;
	struct event *sig_term, *sig_int, *sig_hup, *drain_poll, *drain_deadline;
	bool draining;
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

	if (d->draining) { /* a second signal: the operator does not want to wait */
		ch_warn(
		    "shutdown: second signal; leaving %zu requests unanswered (not acknowledged, "
		    "so the senders retry them)",
		    ch_http_server_busy(d->http));
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->draining = true;
	ch_info("shutdown: %s received; finishing %zu requests in flight",
	        sig == SIGTERM ? "SIGTERM" : "SIGINT", ch_http_server_busy(d->http));
	ch_http_server_drain(d->http);
	evtimer_add(d->drain_deadline, &deadline);
	on_drain_poll(-1, 0, d);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	/* Handlers reopen their files (logrotate); a full reload comes later. */
	ch_workers_reopen(d->workers);
	ch_info("SIGHUP: handlers reopen their files; configuration reload is not implemented "
	        "yet, restart to apply changes");
}

static void kick_workers(void *arg)
{
	ch_workers_kick(arg);
}

static int start_handlers(struct daemon *d, struct ch_error *err)
{
	const struct ch_config *cfg = d->cfg;
	struct ch_dispatch_options o = {
	    .max_attempts = cfg->max_attempts,
	    .retry_base_ms = cfg->retry_base_ms,
	    .retry_max_ms = cfg->retry_max_ms,
	    .batch = cfg->dispatch_batch,
	};

	if (ch_plugins_load(cfg, false, &d->plugins, err) < 0)
		return -1;
	for (size_t i = 0; i < d->plugins.n; i++) {
		const struct ch_plugin *p = d->plugins.items[i];

		ch_info("handler: %s module=%s version=%s", p->ctx.name, p->module_path,
		        p->desc->version ? p->desc->version : "-");
	}
	if (ch_workers_start(&d->plugins, &o, &d->workers, err) < 0)
		return -1;
	ch_writer_on_commit(d->writer, kick_workers, d->workers);
	return 0;
}

static void teardown(struct daemon *d)
{
	ch_writer_stop(d->writer);   /* commits and answers the last group */
	ch_workers_stop(d->workers); /* the handlers finish their current batch */
	ch_plugins_unload(&d->plugins);
	ch_http_server_free(d->http);
	ch_api_free(d->api);
	ch_store_close(d->store);
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
	if (d->base)
		event_base_free(d->base);
}

int ch_daemon_run(const struct ch_config *cfg, int ready_fd, struct ch_error *err)
{
	struct daemon d = {.cfg = cfg};
	struct ch_store_options sopts = {
	    .path = cfg->db_path,
	    .synchronous = cfg->synchronous,
	    .busy_timeout_ms = (int)cfg->busy_timeout_ms,
	};
	struct ch_http_limits limits = {
	    .max_header = cfg->max_header,
	    .max_body = cfg->max_body,
	    .max_connections = cfg->max_connections,
	    .request_timeout_ms = cfg->request_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .retry_after_s = cfg->retry_after_s,
	};
	char bound[300];
	int fd;

	signal(SIGPIPE, SIG_IGN);
	/* The writer thread wakes the loop with event_active(). */
	if (evthread_use_pthreads() < 0 || (d.base = event_base_new()) == NULL)
		return ch_error_set(err, 500, "StartFailed", "cannot create the event loop");
	if (ch_store_open(&sopts, &d.store, err) < 0) {
		teardown(&d);
		return -1;
	}
	ch_info("store: %s (schema %d)", cfg->db_path, ch_store_schema_version(d.store));
	if ((d.writer = ch_writer_start(d.base, d.store, cfg->max_batch, err)) == NULL ||
	    start_handlers(&d, err) < 0) {
		teardown(&d);
		return -1;
	}
	if ((d.api = ch_api_new(cfg, d.writer)) == NULL) {
		teardown(&d);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	if ((fd = listen_socket(cfg->listen, bound, sizeof(bound), err)) < 0) {
		teardown(&d);
		return -1;
	}
	if ((d.http = ch_http_server_new(d.base, fd, &limits, ch_api_handle, d.api, err)) == NULL) {
		close(fd);
		teardown(&d);
		return -1;
	}
	d.sig_term = evsignal_new(d.base, SIGTERM, on_stop_signal, &d);
	d.sig_int = evsignal_new(d.base, SIGINT, on_stop_signal, &d);
	d.sig_hup = evsignal_new(d.base, SIGHUP, on_hup, &d);
	d.drain_poll = evtimer_new(d.base, on_drain_poll, &d);
	d.drain_deadline = evtimer_new(d.base, on_drain_deadline, &d);
	if (!d.sig_term || !d.sig_int || !d.sig_hup || !d.drain_poll || !d.drain_deadline ||
	    evsignal_add(d.sig_term, NULL) < 0 || evsignal_add(d.sig_int, NULL) < 0 ||
	    evsignal_add(d.sig_hup, NULL) < 0) {
		teardown(&d);
		return ch_error_set(err, 500, "StartFailed", "cannot install signal handlers");
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		ch_info("endpoint: %s auth=%s", cfg->endpoints[i].path,
		        ch_auth_mode_name(cfg->endpoints[i].auth.mode));
	/* Scripts and tests read the port from this line when they asked for port 0. */
	ch_notice("listening on %s pid=%ld", bound, (long)getpid());
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "R", 1);

		(void)w;
		close(ready_fd);
	}
	event_base_dispatch(d.base);
	teardown(&d);
	ch_notice("shutdown: done");
	return 0;
}
