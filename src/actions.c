/* actions.c - see actions.h.
 *
 * A send is claimed before it is made: attempts is counted and committed
 * first, so a send that crashes or hangs the process is still counted and a
 * poison row cannot be retried for ever.  The request is made with no lock
 * and no transaction held; its outcome is written afterwards as one UPDATE.
 * A process that dies between the two sends that row again at the next
 * start: the outbox guarantees a handler's action is queued once, the
 * network part is at least once (as for any retried HTTP request).
 */
#include "actions.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "acs_client.h"
#include "clocks.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "writelock.h"

#define BATCH          16         /* rows read per look */
#define RESPONSE_MAX   (64 << 10) /* the most of an answer read */
#define RESPONSE_KEEP  4096       /* the most of it stored */
#define POLL_MS        1000       /* look this often even without a kick */
#define BACKOFF_BASE_S 1
#define BACKOFF_MAX_S  60
#define RETRY_AFTER_MAX_S                                                                          \
	3600 /* the longest Retry-After honoured: a wrong one must not park an action */
#define QUERY_MAX (4096 + 100)

struct settings {
	bool configured;
	struct ch_acs_credentials creds;
	char api_version[65];
	long timeout_ms, max_attempts;
};

struct ch_action_sender {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* kicks, stop, and the thread's end */
	bool stop, kicked, finished;
	struct settings set; /* under mu */
	sqlite3 *db;
	sqlite3_stmt *due, *claim, *settle;
};

struct row {
	int64_t id, event_id;
	long attempts;
	char *handler, *call_id, *kind, *method, *path, *body;
	size_t body_len;
};

static atomic_bool enabled;
static _Thread_local bool queued_here;
/* The running sender, for kicks from the handler workers (lock order:
 * sender_mu, then the sender's mu). */
static pthread_mutex_t sender_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ch_action_sender *sender;

void ch_actions_set_enabled(bool on)
{
	atomic_store(&enabled, on);
}

bool ch_actions_enabled(void)
{
	return atomic_load(&enabled);
}

void ch_actions_note_queued(void)
{
	queued_here = true;
}

static void kick(struct ch_action_sender *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicked = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

void ch_actions_after_commit(void)
{
	if (!queued_here)
		return;
	queued_here = false;
	pthread_mutex_lock(&sender_mu);
	if (sender != NULL)
		kick(sender);
	pthread_mutex_unlock(&sender_mu);
}

/* --- settings ------------------------------------------------------------- */

static void settings_from(struct settings *out, const struct ch_config *cfg)
{
	const struct ch_actions_conf *a = &cfg->actions;

	OPENSSL_cleanse(out, sizeof(*out));
	out->configured = a->configured;
	if (!a->configured)
		return;
	out->creds = a->creds;
	snprintf(out->api_version, sizeof(out->api_version), "%s",
	         a->api_version != NULL ? a->api_version : CH_ACTIONS_DEFAULT_API_VERSION);
	out->timeout_ms = a->timeout_ms;
	out->max_attempts = a->max_attempts;
}

/* --- the database --------------------------------------------------------- */

static char *dup_col(sqlite3_stmt *st, int col, size_t *len)
{
	const unsigned char *text = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);
	char *copy;

	if (text == NULL)
		return NULL;
	if ((copy = malloc(n + 1)) != NULL) {
		memcpy(copy, text, n);
		copy[n] = '\0';
	}
	if (len != NULL)
		*len = n;
	return copy;
}

static void row_free(struct row *r)
{
	free(r->handler);
	free(r->call_id);
	free(r->kind);
	free(r->method);
	free(r->path);
	free(r->body);
}

/* One statement, autocommit, after the other threads of the process. */
static int step_write(struct ch_action_sender *s, sqlite3_stmt *st, int *changes)
{
	int rc;

	ch_write_lock(-1);
	rc = sqlite3_step(st);
	if (changes != NULL)
		*changes = sqlite3_changes(s->db);
	ch_write_unlock();
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* --- one send ------------------------------------------------------------- */

enum outcome { SENT, RETRY, FAILED };
static const char *const outcome_names[] = {"sent", "retry", "failed"};

static void settle(struct ch_action_sender *s, const struct row *r, enum outcome o, int status,
                   const char *response, size_t response_len, const char *error, int64_t next_us)
{
	static const char *const states[] = {"sent", "pending", "failed"};
	char when[CH_TIME_TEXT_SIZE];

	ch_time_format(ch_clock_us(CLOCK_REALTIME), when);
	/* Lost, this outcome would make a sent action go out again: insist. */
	for (int tries = 1;; tries++) {
		struct timespec pause = {1, 0};

		sqlite3_bind_text(s->settle, 1, states[o], -1, SQLITE_STATIC);
		if (status > 0)
			sqlite3_bind_int(s->settle, 2, status);
		if (response != NULL)
			sqlite3_bind_text(
			    s->settle, 3, response,
			    (int)(response_len > RESPONSE_KEEP ? RESPONSE_KEEP : response_len),
			    SQLITE_STATIC);
		if (error != NULL)
			sqlite3_bind_text(s->settle, 4, error, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->settle, 5, next_us);
		sqlite3_bind_text(s->settle, 6, when, -1, SQLITE_STATIC);
		sqlite3_bind_int(s->settle, 7, o == SENT);
		sqlite3_bind_int64(s->settle, 8, r->id);
		if (step_write(s, s->settle, NULL) == 0)
			return;
		ch_log_kv(CH_LOG_ERROR, "action: cannot record the outcome",
		          "id=%lld attempt=%d error=%s", (long long)r->id, tries,
		          sqlite3_errmsg(s->db));
		if (tries == 5)
			return;
		nanosleep(&pause, NULL);
	}
}

static void send_one(struct ch_action_sender *s, const struct settings *set, struct row *r)
{
	char query[QUERY_MAX], error[400], when[CH_TIME_TEXT_SIZE];
	struct ch_http_response resp = {0};
	struct ch_error err = {0};
	enum outcome o;
	int64_t next_us = 0;
	int changes = 0, status = 0, rc;
	long attempt = r->attempts + 1;

	/* Attempts used up without an outcome (the process stopped during each,
	 * or a reload lowered max_attempts): give up without sending. */
	if (r->attempts >= set->max_attempts) {
		o = FAILED;
		attempt = r->attempts;
		snprintf(error, sizeof(error), "gave up after %ld attempts", r->attempts);
		goto done;
	}
	/* Claim: count the attempt before making it. */
	ch_time_format(ch_clock_us(CLOCK_REALTIME), when);
	sqlite3_bind_int64(s->claim, 1, r->id);
	sqlite3_bind_text(s->claim, 2, when, -1, SQLITE_STATIC);
	if (step_write(s, s->claim, &changes) < 0) {
		ch_log_kv(CH_LOG_ERROR, "action: cannot claim", "id=%lld error=%s",
		          (long long)r->id, sqlite3_errmsg(s->db));
		return;
	}
	if (changes == 0)
		return; /* settled meanwhile */

	rc = snprintf(query, sizeof(query), "%s?api-version=%s", r->path, set->api_version);
	if (rc < 0 || (size_t)rc >= sizeof(query) || r->path[0] != '/') {
		o = FAILED;
		snprintf(error, sizeof(error), "the request path is not usable");
		goto done;
	}
	rc = ch_acs_request(&set->creds, r->method, query, r->body, r->body_len,
	                    (int)set->timeout_ms, RESPONSE_MAX, &resp, &err);
	if (rc < 0) {
		/* 502/504: the network or the peer (worth another try); anything
		 * else is ours (a URL httpc refuses) and will not get better. */
		o = err.status == 502 || err.status == 504 ? RETRY : FAILED;
		snprintf(error, sizeof(error), "%s", err.message);
	} else {
		status = resp.status;
		if (status >= 200 && status <= 299) {
			o = SENT;
			error[0] = '\0';
		} else {
			o = status == 408 || status == 429 || status >= 500 ? RETRY : FAILED;
			if (resp.retry_after_s >= 0)
				snprintf(error, sizeof(error),
				         "the service answered %d, Retry-After %ld s", status,
				         resp.retry_after_s);
			else
				snprintf(error, sizeof(error), "the service answered %d", status);
		}
	}
	if (o == RETRY) {
		if (attempt >= set->max_attempts) {
			char why[sizeof(error)];

			o = FAILED;
			snprintf(why, sizeof(why), "%s", error);
			snprintf(error, sizeof(error), "gave up after %ld attempts: %.300s",
			         attempt, why);
		} else {
			long delay = BACKOFF_BASE_S;

			for (long i = 1; i < attempt && delay < BACKOFF_MAX_S; i++)
				delay *= 2;
			if (delay > BACKOFF_MAX_S)
				delay = BACKOFF_MAX_S;
			/* A 429 or 503 saying when to come back: not sooner. */
			if (resp.retry_after_s > delay)
				delay = resp.retry_after_s < RETRY_AFTER_MAX_S ? resp.retry_after_s
				                                               : RETRY_AFTER_MAX_S;
			next_us = ch_clock_us(CLOCK_REALTIME) + (int64_t)delay * 1000000;
		}
	}
done:
	settle(s, r, o, status, resp.body, resp.body_len, o == SENT ? NULL : error, next_us);
	ch_metrics_action(r->kind, outcome_names[o]);
	ch_log_kv(o == SENT ? CH_LOG_INFO : CH_LOG_WARN,
	          o == SENT    ? "action: sent"
	          : o == RETRY ? "action: not sent, will retry"
	                       : "action: failed",
	          "id=%lld handler=%s event=%lld kind=%s call=%s attempt=%ld status=%d error=%s",
	          (long long)r->id, r->handler, (long long)r->event_id, r->kind, r->call_id,
	          attempt, status, o == SENT ? "" : error);
	ch_http_response_free(&resp);
}

/* Send what is due now; how many rows were looked at, -1 on a store error. */
static int send_due(struct ch_action_sender *s, const struct settings *set)
{
	struct row rows[BATCH];
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(s->due, 1, ch_clock_us(CLOCK_REALTIME));
	while (n < BATCH && (rc = sqlite3_step(s->due)) == SQLITE_ROW) {
		struct row *r = &rows[n];

		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(s->due, 0);
		r->handler = dup_col(s->due, 1, NULL);
		r->event_id = sqlite3_column_int64(s->due, 2);
		r->call_id = dup_col(s->due, 3, NULL);
		r->kind = dup_col(s->due, 4, NULL);
		r->method = dup_col(s->due, 5, NULL);
		r->path = dup_col(s->due, 6, NULL);
		r->body = dup_col(s->due, 7, &r->body_len);
		r->attempts = (long)sqlite3_column_int64(s->due, 8);
		n++;
		if (!r->handler || !r->call_id || !r->kind || !r->method || !r->path ||
		    (sqlite3_column_type(s->due, 7) != SQLITE_NULL && !r->body)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(s->due); /* no read transaction is held across the sends */
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ch_log_kv(CH_LOG_ERROR, "action: cannot read the outbox", "error=%s",
		          sqlite3_errstr(rc));
		for (size_t i = 0; i < n; i++)
			row_free(&rows[i]);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		bool stop;

		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (!stop)
			send_one(s, set, &rows[i]);
		row_free(&rows[i]);
	}
	return (int)n;
}

/* --- the thread ----------------------------------------------------------- */

static void *sender_main(void *arg)
{
	struct ch_action_sender *s = arg;
	struct settings set;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		int did = 0;

		set = s->set;
		s->kicked = false;
		pthread_mutex_unlock(&s->mu);
		if (set.configured)
			did = send_due(s, &set);
		OPENSSL_cleanse(&set, sizeof(set));
		pthread_mutex_lock(&s->mu);
		if (did > 0 || s->kicked || s->stop)
			continue;
		struct timespec deadline = ch_deadline_us(CLOCK_MONOTONIC, (int64_t)POLL_MS * 1000);

		pthread_cond_timedwait(&s->cond, &s->mu, &deadline);
	}
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void sender_free(struct ch_action_sender *s)
{
	sqlite3_finalize(s->due);
	sqlite3_finalize(s->claim);
	sqlite3_finalize(s->settle);
	sqlite3_close(s->db);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	OPENSSL_cleanse(&s->set, sizeof(s->set));
	free(s);
}

struct ch_action_sender *ch_actions_start(const struct ch_config *cfg, struct ch_error *err)
{
	struct ch_action_sender *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (s == NULL) {
		ch_error_set(err, 500, "OutOfMemory", "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	settings_from(&s->set, cfg);
	rc = sqlite3_open_v2(cfg->db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(s->db, (int)cfg->busy_timeout_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	/* Due, and not behind an unsettled earlier action of the same call. */
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db,
		    "SELECT id, handler, event_id, call_id, kind, method, path, body, attempts "
		    "FROM actions a WHERE state = 'pending' AND next_attempt_us <= ?1 "
		    "AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.state = 'pending' "
		    "AND b.call_id = a.call_id AND b.id < a.id) ORDER BY id",
		    -1, &s->due, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db,
		    "UPDATE actions SET attempts = attempts + 1, updated_at = ?2 "
		    "WHERE id = ?1 AND state = 'pending'",
		    -1, &s->claim, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    s->db,
		    "UPDATE actions SET state = ?1, http_status = ?2, response = ?3, "
		    "last_error = ?4, next_attempt_us = ?5, updated_at = ?6, "
		    "sent_at = CASE WHEN ?7 THEN ?6 ELSE sent_at END WHERE id = ?8",
		    -1, &s->settle, NULL);
	if (rc != SQLITE_OK) {
		ch_error_set(err, 500, "StartFailed", "action sender: %s: %s", cfg->db_path,
		             s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sender_free(s);
		return NULL;
	}
	if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
		ch_error_set(err, 500, "StartFailed", "action sender: cannot start its thread");
		sender_free(s);
		return NULL;
	}
	ch_actions_set_enabled(cfg->actions.configured);
	pthread_mutex_lock(&sender_mu);
	sender = s;
	pthread_mutex_unlock(&sender_mu);
	if (cfg->actions.configured)
		ch_log_kv(CH_LOG_INFO, "action sender: started", "endpoint=%s api_version=%s",
		          s->set.creds.endpoint, s->set.api_version);
	return s;
}

void ch_actions_configure(struct ch_action_sender *s, const struct ch_config *cfg)
{
	if (s == NULL)
		return;
	ch_actions_set_enabled(cfg->actions.configured);
	pthread_mutex_lock(&s->mu);
	settings_from(&s->set, cfg);
	s->kicked = true; /* rows that waited for a configuration may go now */
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

void ch_actions_stop(struct ch_action_sender *s, long timeout_ms)
{
	struct timespec deadline;
	bool finished;

	if (s == NULL)
		return;
	pthread_mutex_lock(&sender_mu);
	if (sender == s)
		sender = NULL;
	pthread_mutex_unlock(&sender_mu);
	deadline = ch_deadline_us(CLOCK_MONOTONIC, (int64_t)timeout_ms * 1000);
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	while (!s->finished) {
		if (timeout_ms < 0)
			pthread_cond_wait(&s->cond, &s->mu);
		else if (pthread_cond_timedwait(&s->cond, &s->mu, &deadline) != 0)
			break;
	}
	finished = s->finished;
	pthread_mutex_unlock(&s->mu);
	if (!finished) {
		/* Its request will time out on its own; the row stays pending. */
		ch_log_kv(CH_LOG_WARN, "action sender: a request is still in flight, not waiting",
		          "timeout_ms=%ld", timeout_ms);
		pthread_detach(s->thread);
		return;
	}
	pthread_join(s->thread, NULL);
	sender_free(s);
}
