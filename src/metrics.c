/* metrics.c - see metrics.h */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autoconfig.h" /* PACKAGE_VERSION */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Every status http_conn.c has a reason phrase for; anything else is "other". */
static const int statuses[] = {200, 202, 204, 400, 401, 403, 404, 405, 408,
                               411, 413, 415, 429, 431, 500, 501, 503, 505};
#define N_STATUS (COUNT(statuses) + 1)

/* Sorted (bsearch): the error codes callhookd(8) lists; anything else is "other". */
static const char *const reasons[] = {
    "BadRequest",       "BodyTooLarge",
    "EmptyBatch",       "EmptyBody",
    "Forbidden",        "HTTPVersionNotSupported",
    "HeadersTooLarge",  "InternalError",
    "InvalidEnvelope",  "InvalidEvent",
    "InvalidJson",      "InvalidToken",
    "InvalidUtf8",      "MethodNotAllowed",
    "NotFound",         "OriginNotAllowed",
    "OutOfMemory",      "PayloadTooLarge",
    "RequestTimeout",   "StoreError",
    "StoreUnavailable", "StringTooLong",
    "TooDeep",          "TooManyConnections",
    "TooManyEvents",    "TooManyRequests",
    "Unauthorized",     "UnsupportedMediaType",
};
#define N_REASONS (COUNT(reasons) + 1)

/* Sorted (bsearch): the event types Call Automation (2021 preview to now),
 * ACS voice and video Event Grid events and Event Grid itself are known to
 * send.  New types count as "other" until they are added here. */
static const char *const known_types[] = {
    "Microsoft.Communication.AddParticipantFailed",
    "Microsoft.Communication.AddParticipantSucceeded",
    "Microsoft.Communication.AnswerFailed",
    "Microsoft.Communication.CallConnected",
    "Microsoft.Communication.CallDisconnected",
    "Microsoft.Communication.CallEnded",
    "Microsoft.Communication.CallLegStateChanged",
    "Microsoft.Communication.CallParticipantAdded",
    "Microsoft.Communication.CallParticipantRemoved",
    "Microsoft.Communication.CallStarted",
    "Microsoft.Communication.CallTransferAccepted",
    "Microsoft.Communication.CallTransferFailed",
    "Microsoft.Communication.CancelAddParticipantFailed",
    "Microsoft.Communication.CancelAddParticipantSucceeded",
    "Microsoft.Communication.ConnectFailed",
    "Microsoft.Communication.ContinuousDtmfRecognitionStopped",
    "Microsoft.Communication.ContinuousDtmfRecognitionToneFailed",
    "Microsoft.Communication.ContinuousDtmfRecognitionToneReceived",
    "Microsoft.Communication.CreateCallFailed",
    "Microsoft.Communication.DtmfReceived",
    "Microsoft.Communication.HoldAudioCompleted",
    "Microsoft.Communication.HoldAudioPaused",
    "Microsoft.Communication.HoldAudioResumed",
    "Microsoft.Communication.HoldAudioStarted",
    "Microsoft.Communication.HoldFailed",
    "Microsoft.Communication.IncomingCall",
    "Microsoft.Communication.InviteParticipantResult",
    "Microsoft.Communication.MediaStreamingFailed",
    "Microsoft.Communication.MediaStreamingStarted",
    "Microsoft.Communication.MediaStreamingStopped",
    "Microsoft.Communication.MoveParticipantFailed",
    "Microsoft.Communication.MoveParticipantSucceeded",
    "Microsoft.Communication.ParticipantsUpdated",
    "Microsoft.Communication.PlayAudioResult",
    "Microsoft.Communication.PlayCanceled",
    "Microsoft.Communication.PlayCompleted",
    "Microsoft.Communication.PlayFailed",
    "Microsoft.Communication.PlayPaused",
    "Microsoft.Communication.PlayResumed",
    "Microsoft.Communication.PlayStarted",
    "Microsoft.Communication.RecognizeCanceled",
    "Microsoft.Communication.RecognizeCompleted",
    "Microsoft.Communication.RecognizeFailed",
    "Microsoft.Communication.RecordingFileStatusUpdated",
    "Microsoft.Communication.RecordingStateChanged",
    "Microsoft.Communication.RemoveParticipantFailed",
    "Microsoft.Communication.RemoveParticipantSucceeded",
    "Microsoft.Communication.SendDtmfTonesCompleted",
    "Microsoft.Communication.SendDtmfTonesFailed",
    "Microsoft.Communication.StartRecordingFailed",
    "Microsoft.Communication.ToneReceived",
    "Microsoft.Communication.TranscriptionCallSummaryUpdated",
    "Microsoft.Communication.TranscriptionFailed",
    "Microsoft.Communication.TranscriptionStarted",
    "Microsoft.Communication.TranscriptionStopped",
    "Microsoft.Communication.TranscriptionUpdated",
    "Microsoft.EventGrid.SubscriptionDeletedEvent",
    "Microsoft.EventGrid.SubscriptionValidationEvent",
};
#define N_TYPES (COUNT(known_types) + 1)

static const char *const formats[] = {"preview", "eventgrid", "cloudevents"};
static const char *const outcomes[] = {"done", "failed", "dead"};
/* Handler actions (actions.c): the kinds of the actions table, and how one
 * send ended: sent (2xx), retry (to be sent again), failed (given up). */
static const char *const action_kinds[] = {"play_audio", "cancel_media", "hangup", "invite",
                                           "remove_participant"};
static const char *const action_outcomes[] = {"sent", "retry", "failed"};

/* Built-in paths first; configured endpoints follow. */
enum { EP_OTHER, EP_HEALTHZ, EP_READYZ, EP_METRICS, EP_CONFIGURED };
#define N_ENDPOINTS (EP_CONFIGURED + CH_METRICS_MAX_ENDPOINTS)

struct endpoint_slot {
	char path[CH_METRICS_MAX_PATH + 1];
	size_t len;
	bool active; /* matched against requests (loop thread only) */
};

struct handler_slot {
	char name[65]; /* config_handlers.c: instance names are at most 64 bytes */
	_Atomic uint64_t outcomes[COUNT(outcomes)];
};

/* Bucket bounds: commit time in nanoseconds, batch sizes in counts. */
static const uint64_t commit_bounds[] = {
    100000,   250000,    500000,    1000000,   2500000,    5000000,    10000000,   25000000,
    50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000};
static const uint64_t request_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const uint64_t event_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536};

static struct {
	double start_time;
	struct endpoint_slot endpoints[N_ENDPOINTS]; /* loop thread only */
	size_t n_endpoints;
	_Atomic uint64_t http[N_ENDPOINTS][N_STATUS];
	_Atomic uint64_t rejections[N_REASONS];
	_Atomic int64_t connections;
	_Atomic uint64_t refused;
	_Atomic uint64_t events[N_TYPES][COUNT(formats)];
	_Atomic uint64_t duplicates;
	struct ch_histogram commit_ns, batch_requests, batch_events;
	/* Slots are appended, never removed or renamed: a worker reading a
	 * slot below n_handlers (acquire) sees its name complete. */
	struct handler_slot handlers[CH_METRICS_MAX_HANDLERS];
	_Atomic size_t n_handlers;
	_Atomic uint64_t actions[COUNT(action_kinds)][COUNT(action_outcomes)];
} m = {
    .endpoints =
        {
            [EP_OTHER] = {"other", 5, false},
            [EP_HEALTHZ] = {"/healthz", 8, true},
            [EP_READYZ] = {"/readyz", 7, true},
            [EP_METRICS] = {"/metrics", 8, true},
        },
    .n_endpoints = EP_CONFIGURED,
    .commit_ns = CH_HISTOGRAM_INIT(commit_bounds, 1e9),
    .batch_requests = CH_HISTOGRAM_INIT(request_bounds, 1),
    .batch_events = CH_HISTOGRAM_INIT(event_bounds, 1),
};

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static int compare_name(const void *key, const void *entry)
{
	return strcmp(key, *(const char *const *)entry);
}

/* Index of name in a sorted table, or n (the "other" slot). */
static size_t lookup(const char *name, const char *const *table, size_t n)
{
	const char *const *hit = bsearch(name, table, n, sizeof(*table), compare_name);

	return hit != NULL ? (size_t)(hit - table) : n;
}

/* --- set-up ------------------------------------------------------------- */

static size_t endpoint_find(const char *path, size_t len, bool active_only)
{
	for (size_t i = EP_HEALTHZ; i < m.n_endpoints; i++) {
		const struct endpoint_slot *s = &m.endpoints[i];

		if ((s->active || !active_only) && s->len == len && memcmp(s->path, path, len) == 0)
			return i;
	}
	return EP_OTHER;
}

void ch_metrics_start(const struct ch_config *cfg)
{
	struct timespec ts;

	if (m.start_time == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		m.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	for (size_t i = EP_CONFIGURED; i < m.n_endpoints; i++)
		m.endpoints[i].active = false;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const char *path = cfg->endpoints[i].path;
		size_t len = strlen(path), slot = endpoint_find(path, len, false);
		struct endpoint_slot *s;

		if (slot != EP_OTHER) { /* seen before, or a built-in path it overrides */
			m.endpoints[slot].active = true;
			continue;
		}
		if (len > CH_METRICS_MAX_PATH || m.n_endpoints == N_ENDPOINTS)
			continue; /* counted as "other" (documented) */
		s = &m.endpoints[m.n_endpoints++];
		memcpy(s->path, path, len + 1);
		s->len = len;
		s->active = true;
	}
}

static struct handler_slot *handler_find(const char *name)
{
	size_t n = atomic_load_explicit(&m.n_handlers, memory_order_acquire);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(m.handlers[i].name, name) == 0)
			return &m.handlers[i];
	}
	return NULL;
}

void ch_metrics_add_handler(const char *name)
{
	/* Start-up runs on the loop thread, a reload's new handler set on a
	 * thread of its own: appenders take turns.  Readers need no lock. */
	static pthread_mutex_t adding = PTHREAD_MUTEX_INITIALIZER;
	size_t n;

	pthread_mutex_lock(&adding);
	n = atomic_load_explicit(&m.n_handlers, memory_order_relaxed);
	if (handler_find(name) == NULL && n < CH_METRICS_MAX_HANDLERS &&
	    strlen(name) < sizeof(m.handlers[0].name)) {
		strcpy(m.handlers[n].name, name);
		atomic_store_explicit(&m.n_handlers, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&adding);
}

/* --- hooks ---------------------------------------------------------------- */

void ch_metrics_http_answer(const char *path, size_t path_len, int status)
{
	size_t ep = path != NULL ? endpoint_find(path, path_len, true) : EP_OTHER, st = 0;

	while (st < COUNT(statuses) && statuses[st] != status)
		st++;
	add(&m.http[ep][st], 1);
}

void ch_metrics_rejection(const char *code)
{
	add(&m.rejections[lookup(code, reasons, COUNT(reasons))], 1);
}

void ch_metrics_connection_opened(void)
{
	atomic_fetch_add_explicit(&m.connections, 1, memory_order_relaxed);
}

void ch_metrics_connection_closed(void)
{
	atomic_fetch_sub_explicit(&m.connections, 1, memory_order_relaxed);
}

void ch_metrics_connection_refused(void)
{
	add(&m.refused, 1);
}

const char *ch_metrics_type_label(const char *type)
{
	size_t i = lookup(type, known_types, COUNT(known_types));

	return i < COUNT(known_types) ? known_types[i] : "other";
}

const char *ch_metrics_known_type(size_t i)
{
	return i < COUNT(known_types) ? known_types[i] : NULL;
}

void ch_metrics_event(const char *type, const char *format)
{
	size_t f = 0;

	while (f < COUNT(formats) && strcmp(formats[f], format) != 0)
		f++;
	if (f < COUNT(formats)) /* always: the envelope sets one of them */
		add(&m.events[lookup(type, known_types, COUNT(known_types))][f], 1);
}

void ch_metrics_duplicates(size_t n)
{
	add(&m.duplicates, n);
}

int64_t ch_metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void ch_metrics_commit(int64_t started, size_t requests, size_t events)
{
	int64_t took = ch_metrics_now() - started;

	ch_histogram_observe(&m.commit_ns, took > 0 ? (uint64_t)took : 0);
	ch_histogram_observe(&m.batch_requests, requests);
	ch_histogram_observe(&m.batch_events, events);
}

void ch_metrics_delivery(const char *handler, const char *state)
{
	struct handler_slot *h = handler_find(handler);
	size_t o = 0;

	while (o < COUNT(outcomes) && strcmp(outcomes[o], state) != 0)
		o++;
	if (h != NULL && o < COUNT(outcomes))
		add(&h->outcomes[o], 1);
}

void ch_metrics_action(const char *kind, const char *outcome)
{
	size_t k = 0, o = 0;

	while (k < COUNT(action_kinds) && strcmp(action_kinds[k], kind) != 0)
		k++;
	while (o < COUNT(action_outcomes) && strcmp(action_outcomes[o], outcome) != 0)
		o++;
	if (k < COUNT(action_kinds) && o < COUNT(action_outcomes))
		add(&m.actions[k][o], 1);
}

/* --- scrape --------------------------------------------------------------- */

static void render_http(struct ch_text *t)
{
	char code[16];
	struct ch_label l[2] = {{"endpoint", NULL}, {"code", code}};

	ch_prom_family(t, "callhookd_http_requests_total", "counter",
	               "HTTP requests answered, by endpoint (a configured endpoint path, "
	               "/healthz, /readyz, /metrics, or other) and status code.");
	for (size_t ep = 0; ep < m.n_endpoints; ep++) {
		l[0].value = m.endpoints[ep].path;
		for (size_t st = 0; st < N_STATUS; st++) {
			uint64_t v = get(&m.http[ep][st]);

			if (v == 0)
				continue; /* sparse: most pairs never happen */
			if (st < COUNT(statuses))
				snprintf(code, sizeof(code), "%d", statuses[st]);
			else
				strcpy(code, "other");
			ch_prom_u64(t, "callhookd_http_requests_total", l, 2, v);
		}
	}
	ch_prom_family(t, "callhookd_http_connections", "gauge", "Open HTTP connections.");
	ch_prom_double(t, "callhookd_http_connections", NULL, 0,
	               (double)atomic_load_explicit(&m.connections, memory_order_relaxed));
	ch_prom_family(t, "callhookd_http_connections_refused_total", "counter",
	               "Connections accepted past max_connections: answered 429 or closed "
	               "at once.");
	ch_prom_u64(t, "callhookd_http_connections_refused_total", NULL, 0, get(&m.refused));
	ch_prom_family(t, "callhookd_rejections_total", "counter",
	               "Requests answered with an error, by its code.");
	for (size_t i = 0; i < N_REASONS; i++) {
		struct ch_label r = {"reason", i < COUNT(reasons) ? reasons[i] : "other"};

		ch_prom_u64(t, "callhookd_rejections_total", &r, 1, get(&m.rejections[i]));
	}
}

static void render_journal(struct ch_text *t, const struct ch_metrics_scrape *s)
{
	struct ch_label l[2] = {{"type", NULL}, {"format", NULL}};

	ch_prom_family(t, "callhookd_events_total", "counter",
	               "Events newly journaled, by type (a known Call Automation or Event Grid "
	               "type, or other) and format.");
	for (size_t i = 0; i < N_TYPES; i++) {
		l[0].value = i < COUNT(known_types) ? known_types[i] : "other";
		for (size_t f = 0; f < COUNT(formats); f++) {
			uint64_t v = get(&m.events[i][f]);

			l[1].value = formats[f];
			if (v != 0) /* sparse: most types never arrive */
				ch_prom_u64(t, "callhookd_events_total", l, 2, v);
		}
	}
	ch_prom_family(t, "callhookd_events_duplicate_total", "counter",
	               "Events acknowledged as duplicates of journaled ones, not stored again.");
	ch_prom_u64(t, "callhookd_events_duplicate_total", NULL, 0, get(&m.duplicates));
	ch_prom_family(t, "callhookd_commit_duration_seconds", "histogram",
	               "Group commits that succeeded: time from the start of the group, "
	               "waiting for the write lock included, to COMMIT returned.");
	ch_prom_histogram(t, "callhookd_commit_duration_seconds", NULL, 0, &m.commit_ns);
	ch_prom_family(t, "callhookd_commit_batch_requests", "histogram",
	               "Requests per group commit that succeeded.");
	ch_prom_histogram(t, "callhookd_commit_batch_requests", NULL, 0, &m.batch_requests);
	ch_prom_family(t, "callhookd_commit_batch_events", "histogram",
	               "Events (duplicates included) per group commit that succeeded.");
	ch_prom_histogram(t, "callhookd_commit_batch_events", NULL, 0, &m.batch_events);
	ch_prom_family(t, "callhookd_store_up", "gauge",
	               "1 while the journal takes writes (as /readyz), else 0.");
	ch_prom_u64(t, "callhookd_store_up", NULL, 0, s->store_up ? 1 : 0);
}

static void render_handlers(struct ch_text *t, const struct ch_metrics_scrape *s)
{
	size_t n = atomic_load_explicit(&m.n_handlers, memory_order_acquire);
	struct ch_label l[2] = {{"handler", NULL}, {"outcome", NULL}};

	ch_prom_family(t, "callhookd_handler_deliveries_total", "counter",
	               "Handler attempts by outcome: done, failed (to be retried) or dead "
	               "(given up).");
	for (size_t i = 0; i < n; i++) {
		l[0].value = m.handlers[i].name;
		for (size_t o = 0; o < COUNT(outcomes); o++) {
			l[1].value = outcomes[o];
			ch_prom_u64(t, "callhookd_handler_deliveries_total", l, 2,
			            get(&m.handlers[i].outcomes[o]));
		}
	}
	if (s->backlog == NULL)
		return;
	ch_prom_family(t, "callhookd_handler_backlog", "gauge",
	               "Journal rows a handler has not settled: rows past its cursor plus its "
	               "pending and failed deliveries.");
	for (size_t i = 0; i < n; i++) {
		int64_t v;

		l[0].value = m.handlers[i].name;
		if (s->backlog(s->arg, m.handlers[i].name, &v) == 0)
			ch_prom_double(t, "callhookd_handler_backlog", l, 1, (double)v);
	}
}

static void render_actions(struct ch_text *t)
{
	struct ch_label l[2] = {{"kind", NULL}, {"outcome", NULL}};

	ch_prom_family(t, "callhookd_actions_total", "counter",
	               "Handler actions sent to the Call Automation API, by kind and outcome: "
	               "sent (2xx), retry (to be sent again) or failed (given up).");
	for (size_t k = 0; k < COUNT(action_kinds); k++) {
		l[0].value = action_kinds[k];
		for (size_t o = 0; o < COUNT(action_outcomes); o++) {
			l[1].value = action_outcomes[o];
			ch_prom_u64(t, "callhookd_actions_total", l, 2, get(&m.actions[k][o]));
		}
	}
}

int ch_metrics_render(struct ch_text *t, const struct ch_metrics_scrape *s)
{
	struct ch_label version = {"version", PACKAGE_VERSION};

	ch_prom_family(t, "callhookd_build_info", "gauge",
	               "Always 1; the version label says which callhookd runs.");
	ch_prom_u64(t, "callhookd_build_info", &version, 1, 1);
	ch_prom_family(t, "process_start_time_seconds", "gauge",
	               "Start time of the process since the Unix epoch in seconds.");
	ch_prom_double(t, "process_start_time_seconds", NULL, 0, m.start_time);
	render_http(t);
	render_journal(t, s);
	render_handlers(t, s);
	render_actions(t);
	return t->failed ? -1 : 0;
}
