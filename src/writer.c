/* writer.c - see writer.h */
#include "writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "clocks.h"
#include "log.h"
#include "metrics.h"
#include "writelock.h"

#define PROBE_INTERVAL_S 1 /* while unhealthy, how often to test the store */

struct ch_writer {
	struct ch_store *store;
	long max_batch;
	long lock_timeout_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* guarded by lock */
	struct ch_commit_job *queue_head, *queue_tail;
	struct ch_commit_job *done_head, *done_tail;
	bool stopping;
	/* loop thread only */
	struct event *done_ev;
	size_t pending;
	/* set before the first job, then read by the writer thread only */
	void (*on_commit)(void *arg);
	void *on_commit_arg;
	atomic_bool healthy;
};

static void push(struct ch_commit_job **head, struct ch_commit_job **tail,
                 struct ch_commit_job *first, struct ch_commit_job *last)
{
	if (*tail != NULL)
		(*tail)->next = first;
	else
		*head = first;
	*tail = last;
}

static void fail_all(struct ch_commit_job *jobs, const struct ch_error *err)
{
	for (struct ch_commit_job *j = jobs; j != NULL; j = j->next) {
		if (j->err.status == 0)
			j->err = *err;
		j->accepted = j->duplicates = 0;
	}
}

/* A job's rows go in all or none: a savepoint around them, so that a
 * failure undoes this job's rows and no neighbour's.  A single row needs
 * none: one INSERT is atomic by itself (its constraints are checked before
 * it writes; a failure that could leave it half done, I/O or disk full, rolls
 * the whole transaction back, and the store reports that).  Savepoints are
 * not free: each one copies every existing page its job changes (the
 * table's last leaf, an index leaf per index) into the sub-journal. */
static void write_job(struct ch_store *store, struct ch_commit_job *job)
{
	bool savepoint = job->n_rows > 1;

	if (savepoint && ch_store_savepoint(store, &job->err) < 0)
		return;
	for (size_t i = 0; i < job->n_rows; i++) {
		bool duplicate = false;

		if (ch_store_append(store, &job->rows[i], &duplicate, &job->err) < 0) {
			if (savepoint)
				ch_store_rollback_savepoint(store);
			job->accepted = job->duplicates = 0;
			return;
		}
		if (duplicate)
			job->duplicates++;
		else
			job->accepted++;
		if (job->row_duplicate != NULL) /* metrics: which rows were new */
			job->row_duplicate[i] = duplicate;
	}
	if (savepoint && ch_store_release(store, &job->err) < 0) {
		ch_store_rollback_savepoint(store);
		job->accepted = job->duplicates = 0;
	}
}

/* One transaction for a whole group of jobs. */
static void commit_group(struct ch_writer *w, struct ch_commit_job *jobs)
{
	struct ch_error err;
	const char *why = NULL;
	size_t n_jobs = 0, n_rows = 0;
	int64_t started = ch_metrics_now(); /* metrics: commit duration */

	ch_error_clear(&err);
	for (struct ch_commit_job *j = jobs; j != NULL; j = j->next)
		ch_error_clear(&j->err);
	/* In turn with the handler workers' transactions (writelock.h). */
	if (ch_write_lock(w->lock_timeout_ms) < 0) {
		/* The handler holding it may itself be waiting for another
		 * process's lock: say what is known, not whose fault it is. */
		ch_error_set(&err, 503, "StoreUnavailable",
		             "journal not writable: database is locked (waited %ld ms for the "
		             "handlers to release the write lock)",
		             w->lock_timeout_ms);
		fail_all(jobs, &err);
		goto answered;
	}
	if (ch_store_begin(w->store, &err) < 0) {
		fail_all(jobs, &err);
	} else {
		for (struct ch_commit_job *j = jobs; j != NULL; j = j->next) {
			write_job(w->store, j);
			n_jobs++;
			n_rows += j->n_rows;
		}
		if (ch_store_commit(w->store, &err) < 0) {
			ch_store_rollback(w->store);
			fail_all(jobs, &err);
		} else {
			ch_debug("writer: committed jobs=%zu rows=%zu", n_jobs, n_rows);
			ch_metrics_commit(started, n_jobs, n_rows); /* metrics */
			if (w->on_commit != NULL && n_rows > 0)
				w->on_commit(w->on_commit_arg);
		}
	}
	ch_write_unlock();
answered:
	/* Unhealthy while the store cannot take writes: /readyz says so, and the
	 * writer probes until it recovers by itself. */
	for (struct ch_commit_job *j = jobs; j != NULL && why == NULL; j = j->next) {
		if (j->err.status == 503)
			why = j->err.message;
	}
	if (why != NULL) {
		if (atomic_exchange(&w->healthy, false))
			ch_error_log("writer: journal not writable, answering 503: %s", why);
	} else if (!atomic_exchange(&w->healthy, true)) {
		ch_info("writer: journal writable again");
	}
}

static void probe(struct ch_writer *w)
{
	struct ch_error err;

	if (ch_store_probe(w->store, &err) == 0 && !atomic_exchange(&w->healthy, true))
		ch_info("writer: journal writable again");
}

static void *writer_main(void *arg)
{
	struct ch_writer *w = arg;

	pthread_setname_np(pthread_self(), "ch-writer"); /* for top -H, perf */
	ch_write_lock_is_intake();
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct ch_commit_job *first, *last, *j;
		long n = 0;

		while (w->queue_head == NULL && !w->stopping) {
			if (atomic_load(&w->healthy)) {
				pthread_cond_wait(&w->wake, &w->lock);
			} else {
				struct timespec ts = ch_deadline_us(
				    CLOCK_REALTIME, (int64_t)PROBE_INTERVAL_S * 1000000);

				if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) != 0 &&
				    w->queue_head == NULL && !w->stopping) {
					pthread_mutex_unlock(&w->lock);
					probe(w);
					pthread_mutex_lock(&w->lock);
				}
			}
		}
		if (w->queue_head == NULL) /* stopping, and nothing left */
			break;
		/* Take up to max_batch jobs: bounded transactions, bounded latency. */
		first = last = w->queue_head;
		for (j = first; j != NULL && n < w->max_batch; j = j->next) {
			last = j;
			n++;
		}
		w->queue_head = last->next;
		if (w->queue_head == NULL)
			w->queue_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&w->lock);

		commit_group(w, first);

		pthread_mutex_lock(&w->lock);
		push(&w->done_head, &w->done_tail, first, last);
		event_active(w->done_ev, 0, 0);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Loop thread: answer everything the writer finished. */
static void run_done(struct ch_writer *w)
{
	struct ch_commit_job *j, *next;

	pthread_mutex_lock(&w->lock);
	j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		w->pending--;
		j->done(j, j->arg); /* may free j */
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	run_done(arg);
}

struct ch_writer *ch_writer_start(struct event_base *base, struct ch_store *store, long max_batch,
                                  long lock_timeout_ms, struct ch_error *err)
{
	struct ch_writer *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		return NULL;
	}
	w->store = store;
	w->max_batch = max_batch > 0 ? max_batch : 1;
	w->lock_timeout_ms = lock_timeout_ms > 0 ? lock_timeout_ms : 0;
	atomic_init(&w->healthy, true);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->done_ev = event_new(base, -1, 0, on_done, w);
	if (w->done_ev == NULL || pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		ch_error_set(err, 500, "WriterFailed", "cannot start the journal writer");
		if (w->done_ev != NULL)
			event_free(w->done_ev);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		free(w);
		return NULL;
	}
	return w;
}

void ch_writer_submit(struct ch_writer *w, struct ch_commit_job *job)
{
	job->next = NULL;
	w->pending++;
	pthread_mutex_lock(&w->lock);
	push(&w->queue_head, &w->queue_tail, job, job);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void ch_writer_on_commit(struct ch_writer *w, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&w->lock); /* publishes the pointers to the writer thread */
	w->on_commit = fn;
	w->on_commit_arg = arg;
	pthread_mutex_unlock(&w->lock);
}

bool ch_writer_healthy(struct ch_writer *w)
{
	return atomic_load(&w->healthy);
}

size_t ch_writer_pending(struct ch_writer *w)
{
	return w->pending;
}

void ch_writer_stop(struct ch_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	run_done(w); /* answers for the last group, still on the loop thread */
	event_free(w->done_ev);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}
