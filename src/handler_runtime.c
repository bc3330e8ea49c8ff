/* handler_runtime.c - see handler_runtime.h */
#include "handler_runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "clocks.h"
#include "dispatch.h"
#include "log.h"
#include "plugin.h"
#include "writer.h"

struct ch_handler_runtime {
	pthread_mutex_t lock;
	/* guarded by lock: what the writer kicks and SIGHUP reopens */
	struct ch_workers *workers;
	size_t n_handlers;
	/* owned by whoever runs: the loop thread, or the replacement thread */
	struct ch_plugin_set *set;
	struct ch_dispatch_options opts;
	/* one replacement at a time (the loop thread starts and reaps it) */
	bool replacing;
	pthread_t thread;
	const struct ch_config *next_cfg;
	struct ch_error result; /* status 0: replaced */
	struct event *done_ev;
	ch_hrt_done done;
	void *done_arg;
};

static void options_of(const struct ch_config *cfg, struct ch_dispatch_options *o)
{
	*o = (struct ch_dispatch_options){
	    .max_attempts = cfg->max_attempts,
	    .retry_base_ms = cfg->retry_base_ms,
	    .retry_max_ms = cfg->retry_max_ms,
	    .batch = cfg->dispatch_batch,
	    .share = cfg->handler_share,
	};
}

/* Runs on the writer thread after each commit that added rows. */
static void kick(void *arg)
{
	struct ch_handler_runtime *rt = arg;

	pthread_mutex_lock(&rt->lock);
	ch_workers_kick(rt->workers); /* NULL between two sets: they look anyway */
	pthread_mutex_unlock(&rt->lock);
}

static void publish(struct ch_handler_runtime *rt, struct ch_workers *w, size_t n)
{
	pthread_mutex_lock(&rt->lock);
	rt->workers = w;
	rt->n_handlers = n;
	pthread_mutex_unlock(&rt->lock);
}

static struct ch_workers *unpublish(struct ch_handler_runtime *rt)
{
	struct ch_workers *w;

	pthread_mutex_lock(&rt->lock);
	w = rt->workers;
	rt->workers = NULL;
	pthread_mutex_unlock(&rt->lock);
	return w;
}

static void free_set(struct ch_plugin_set *set)
{
	if (set != NULL) {
		ch_plugins_unload(set);
		free(set);
	}
}

/* Load and initialise cfg's modules into a new set. */
static struct ch_plugin_set *load_set(const struct ch_config *cfg, struct ch_error *err)
{
	struct ch_plugin_set *set = calloc(1, sizeof(*set));

	if (set == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		return NULL;
	}
	if (ch_plugins_load(cfg, false, set, err) < 0) {
		free(set);
		return NULL;
	}
	if (set->n == 0 && ch_dispatch_none_active(cfg->db_path, cfg->busy_timeout_ms, err) < 0) {
		ch_plugins_unload(set);
		free(set);
		return NULL;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct ch_plugin *p = set->items[i];

		ch_log_kv(CH_LOG_INFO, "handler: loaded", "handler=%s module=%s version=%s",
		          p->ctx.name, p->module_path, p->desc->version ? p->desc->version : "-");
	}
	return set;
}

static void on_replaced(evutil_socket_t fd, short what, void *arg);

struct ch_handler_runtime *ch_hrt_start(struct event_base *base, const struct ch_config *cfg,
                                        struct ch_writer *writer, struct ch_error *err)
{
	struct ch_handler_runtime *rt = calloc(1, sizeof(*rt));
	struct ch_workers *w;

	if (rt == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&rt->lock, NULL);
	options_of(cfg, &rt->opts);
	if ((rt->done_ev = event_new(base, -1, 0, on_replaced, rt)) == NULL) {
		ch_error_set(err, 500, "StartFailed", "cannot create an event");
		ch_hrt_stop(rt, -1);
		return NULL;
	}
	if ((rt->set = load_set(cfg, err)) == NULL ||
	    ch_workers_start(rt->set, &rt->opts, &w, err) < 0) {
		ch_hrt_stop(rt, -1);
		return NULL;
	}
	publish(rt, w, rt->set->n);
	ch_writer_on_commit(writer, kick, rt);
	return rt;
}

/* The replacement thread.  Module code never runs on two threads at once
 * (modules keep the host table in a global, and may keep more): the new set
 * is only checked while the old one runs (dlopen, ABI, options), and
 * initialised once the old workers have stopped.  Never two workers on one
 * handler either: its deliveries are claimed in order, and a derived state
 * must not be built by two at once. */
static void *replace_main(void *arg)
{
	struct ch_handler_runtime *rt = arg;
	struct ch_dispatch_options opts;
	struct ch_plugin_set check, *next;
	struct ch_workers *w;
	struct ch_error again;

	options_of(rt->next_cfg, &opts);
	if (ch_plugins_load(rt->next_cfg, true, &check, &rt->result) < 0)
		goto out; /* a typo: the old set never paused */
	ch_plugins_unload(&check);
	ch_workers_stop(unpublish(rt)); /* after their current batch */
	if ((next = load_set(rt->next_cfg, &rt->result)) != NULL &&
	    ch_workers_start(next, &opts, &w, &rt->result) == 0) {
		publish(rt, w, next->n);
		free_set(rt->set); /* fini() of the old instances */
		rt->set = next;
		rt->opts = opts;
		goto out;
	}
	free_set(next);
	/* The old instances are still initialised: run them again. */
	if (ch_workers_start(rt->set, &rt->opts, &w, &again) < 0) {
		/* Only a store failure gets here; intake goes on and the
		 * deliveries wait in the journal for the next reload or start. */
		ch_log_kv(CH_LOG_ERROR, "handlers: stopped, cannot restart the running set either",
		          "error=%s", again.message);
		w = NULL;
	}
	publish(rt, w, w != NULL ? rt->set->n : 0);
out:
	event_active(rt->done_ev, 0, 0);
	return NULL;
}

static void on_replaced(evutil_socket_t fd, short what, void *arg)
{
	struct ch_handler_runtime *rt = arg;

	pthread_join(rt->thread, NULL);
	rt->replacing = false;
	rt->next_cfg = NULL;
	rt->done(rt->done_arg, rt->result.status != 0 ? &rt->result : NULL);
}

int ch_hrt_replace(struct ch_handler_runtime *rt, const struct ch_config *cfg, ch_hrt_done done,
                   void *arg)
{
	if (rt->replacing)
		return -1;
	ch_error_clear(&rt->result);
	rt->next_cfg = cfg;
	rt->done = done;
	rt->done_arg = arg;
	if (pthread_create(&rt->thread, NULL, replace_main, rt) != 0) {
		ch_error_set(&rt->result, 500, "StartFailed", "cannot start a thread");
		done(arg, &rt->result); /* nothing changed */
		return 0;
	}
	rt->replacing = true;
	return 0;
}

bool ch_hrt_replacing(const struct ch_handler_runtime *rt)
{
	return rt->replacing;
}

void ch_hrt_reopen(struct ch_handler_runtime *rt)
{
	pthread_mutex_lock(&rt->lock);
	ch_workers_reopen(rt->workers);
	pthread_mutex_unlock(&rt->lock);
}

size_t ch_hrt_count(struct ch_handler_runtime *rt)
{
	size_t n;

	pthread_mutex_lock(&rt->lock);
	n = rt->n_handlers;
	pthread_mutex_unlock(&rt->lock);
	return n;
}

/* What a shutdown left to handlers that never returned: their threads still
 * run in it, so none of it may be freed or unloaded.  A documented singleton:
 * it keeps that memory reachable for the moments until the process exits, so
 * leak checkers do not report it. */
static struct ch_handler_runtime *abandoned;

static long ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_REALTIME, &now);
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

/* Stop the workers within the deadline; unload the plugins whose workers
 * stopped.  false when some were abandoned (the rest of the set stays). */
static bool stop_set_by(struct ch_handler_runtime *rt, const struct timespec *deadline)
{
	struct ch_plugin_set *set = rt->set;
	bool *stuck = calloc(set != NULL && set->n > 0 ? set->n : 1, sizeof(*stuck));

	if (stuck == NULL) { /* cannot tell them apart: wait for all */
		ch_workers_stop(unpublish(rt));
		free_set(rt->set);
		return true;
	}
	if (ch_workers_stop_within(unpublish(rt), ms_until(deadline), stuck) == 0) {
		free(stuck);
		free_set(rt->set);
		return true;
	}
	for (size_t i = set->n; i > 0; i--) {
		if (!stuck[i - 1]) {
			ch_plugin_unload(set->items[i - 1]);
			set->items[i - 1] = NULL;
		}
	}
	free(stuck);
	return false;
}

void ch_hrt_stop(struct ch_handler_runtime *rt, long timeout_ms)
{
	struct timespec deadline =
	    ch_deadline_us(CLOCK_REALTIME, (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000);

	if (rt == NULL)
		return;
	if (rt->replacing) {
		/* its done event dies with done_ev */
		if (timeout_ms < 0) {
			pthread_join(rt->thread, NULL);
		} else if (pthread_timedjoin_np(rt->thread, NULL, &deadline) != 0) {
			/* it waits for a worker whose handler hangs: leave it be */
			ch_log_kv(CH_LOG_WARN,
			          "shutdown: a handler reload is still waiting for a handler, "
			          "abandoned",
			          "timeout_ms=%ld", timeout_ms);
			abandoned = rt;
			return;
		}
	}
	if (timeout_ms < 0) {
		ch_workers_stop(unpublish(rt)); /* they finish their current batch */
		free_set(rt->set);
	} else if (!stop_set_by(rt, &deadline)) {
		abandoned = rt;
		return;
	}
	if (rt->done_ev != NULL)
		event_free(rt->done_ev);
	pthread_mutex_destroy(&rt->lock);
	free(rt);
}
