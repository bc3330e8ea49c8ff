/* th_probe.c - a handler module for the plugin host's own tests.
 *
 * It records what the host showed it (th_seen) and can be told to misbehave:
 * retry an event a number of times, fail one type for good, abort() the
 * process on one type, hang for ever on one type, leak memory or take its
 * time on every event, or fail init.  Options exercise every option type.
 * With action set it also queues Call Automation actions (ABI 1.1) for the
 * event's call, after its row, so a retry or replay makes the same calls.
 *
 * Built twice (tests/testhandlers.am): th_probe shares the workers' common
 * thread, th_probe_own (TH_PROBE_OWN_THREAD) asks for a thread of its own,
 * which only the static descriptor can say.
 */
#include <callhookd/handler.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct ch_host *host;

struct probe {
	struct ch_context *ctx;
	int64_t retries; /* CH_RETRY this many times per event before OK */
	const char *fail_type, *crash_type, *hang_type;
	int64_t leak_bytes, slow_ms;
	bool write_then_retry;
	const char *action, *action_participant;
	char *db_file; /* for count_attempt's own connection */
};

static const char *const patterns[] = {"Microsoft.Communication.*", NULL};

static const struct ch_option options[] = {
    {"retries", CH_OPT_INT, "0", false, "CH_RETRY this many times per event"},
    {"fail_type", CH_OPT_STRING, NULL, false, "CH_FAIL events of this type"},
    {"crash_type", CH_OPT_STRING, NULL, false, "abort() on events of this type"},
    {"init_fail", CH_OPT_BOOL, "no", false, "make init fail"},
    {"pause", CH_OPT_DURATION, "0", false, "unused; a duration option"},
    {"label", CH_OPT_STRING, NULL, false, "stored with each row"},
    {"write_then_retry", CH_OPT_BOOL, "no", false, "write the row, then return CH_RETRY"},
    {"hang_type", CH_OPT_STRING, NULL, false, "never return from handle() on this type"},
    {"leak_bytes", CH_OPT_INT, "0", false, "malloc this much per event, never free it"},
    {"slow_ms", CH_OPT_INT, "0", false, "sleep this long in every handle()"},
    {"action", CH_OPT_STRING, NULL, false,
     "queue play_audio, cancel_media, hangup, invite, remove_participant or all"},
    {"action_participant", CH_OPT_STRING, "8:acs:probe-user", false,
     "the raw id invite and remove_participant name"},
    {NULL, 0, NULL, false, NULL},
};

static int probe_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	struct probe *p;

	host = h;
	if (host->opt_bool(ctx, "init_fail")) {
		host->set_error(ctx, "told to fail (init_fail = yes)");
		return -1;
	}
	if (sqlite3_exec(host->db(ctx),
	                 "CREATE TABLE IF NOT EXISTS th_seen (event_id INTEGER PRIMARY KEY, "
	                 "type TEXT, format TEXT, time TEXT, time_us INTEGER, call_id TEXT, "
	                 "subject TEXT, state TEXT, tone TEXT, seq INTEGER, n_participants "
	                 "INTEGER, first_raw_id TEXT, data_json TEXT, label TEXT, pause_ms "
	                 "INTEGER);"
	                 "CREATE TABLE IF NOT EXISTS th_attempts (event_id INTEGER PRIMARY KEY, "
	                 "n INTEGER)",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		host->set_error(ctx, "cannot create tables: %s", sqlite3_errmsg(host->db(ctx)));
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->ctx = ctx;
	p->retries = host->opt_int(ctx, "retries");
	p->fail_type = host->opt_str(ctx, "fail_type");
	p->crash_type = host->opt_str(ctx, "crash_type");
	p->write_then_retry = host->opt_bool(ctx, "write_then_retry");
	p->hang_type = host->opt_str(ctx, "hang_type");
	p->leak_bytes = host->opt_int(ctx, "leak_bytes");
	p->slow_ms = host->opt_int(ctx, "slow_ms");
	p->action = host->opt_str(ctx, "action");
	p->action_participant = host->opt_str(ctx, "action_participant");
	if (p->action != NULL && host->abi_minor < 1) {
		host->set_error(ctx, "action needs a host with ABI 1.1");
		free(p);
		return -1;
	}
	/* Outside handle(), db() opens no transaction. */
	p->db_file = strdup(sqlite3_db_filename(host->db(ctx), "main"));
	*state = p;
	return 0;
}

/* Attempts survive rollbacks only outside the handler's transaction, so they
 * are counted on a second connection. */
static int64_t count_attempt(struct probe *p, int64_t id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t n = 0;

	if (p->db_file == NULL || sqlite3_open(p->db_file, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	sqlite3_prepare_v2(db,
	                   "INSERT INTO th_attempts VALUES (?1, 1) ON CONFLICT (event_id) DO "
	                   "UPDATE SET n = n + 1 RETURNING n",
	                   -1, &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Where each leaked block's address goes: a volatile store keeps the compiler
 * from dropping the allocation, and the next one overwrites it, so nothing
 * points to the old block any more (a real leak). */
static void *volatile leak_sink;

/* Before any db() call: a hang must not be holding a lock of its own making,
 * so what the test sees is the host's doing. */
static void misbehave(const struct probe *p, const char *type)
{
	if (p->slow_ms > 0) {
		struct timespec ts = {(time_t)(p->slow_ms / 1000),
		                      (long)(p->slow_ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) != 0)
			; /* a signal cut it short: sleep the rest */
	}
	if (p->leak_bytes > 0) {
		char *block = malloc((size_t)p->leak_bytes);

		if (block != NULL)
			memset(block, 0xa5, (size_t)p->leak_bytes); /* touch it: RSS grows */
		leak_sink = block;
	}
	if (p->hang_type != NULL && strcmp(type, p->hang_type) == 0) {
		for (;;)
			pause(); /* a signal to this thread ends one pause(), not the hang */
	}
}

/* The action option's calls, in a fixed order for "all". */
static int queue_actions(struct probe *p, const struct ch_event *ev)
{
	const char *call = host->event_call_id(ev), *who = p->action_participant;
	bool all = strcmp(p->action, "all") == 0;
	char context[64];
	int rc = 0;

	snprintf(context, sizeof(context), "probe-%lld", (long long)host->event_id(ev));
	if (call == NULL) {
		host->set_error(p->ctx, "the event names no call");
		return -1;
	}
	if (rc == 0 && (all || strcmp(p->action, "play_audio") == 0))
		rc = host->play_audio(p->ctx, call, "https://example.test/prompt.wav", false,
		                      context);
	if (rc == 0 && (all || strcmp(p->action, "cancel_media") == 0))
		rc = host->cancel_media(p->ctx, call, context);
	if (rc == 0 && (all || strcmp(p->action, "invite") == 0))
		rc = host->invite(p->ctx, call, who,
		                  strncmp(who, "4:", 2) == 0 ? "+15550001111" : NULL, context);
	if (rc == 0 && (all || strcmp(p->action, "remove_participant") == 0))
		rc = host->remove_participant(p->ctx, call, who);
	if (rc == 0 && (all || strcmp(p->action, "hangup") == 0))
		rc = host->hangup(p->ctx, call);
	return rc;
}

static enum ch_result probe_handle(void *state, const struct ch_event *ev)
{
	struct probe *p = state;
	const char *type = host->event_type(ev);
	const struct ch_value *data = host->event_data(ev);
	const struct ch_value *parts = host->get(data, "Participants");
	int64_t seq = -1, id = host->event_id(ev), attempt;
	const char *json;
	size_t json_len = 0;
	sqlite3 *db;
	sqlite3_stmt *st;
	int rc;

	misbehave(p, type);
	if (p->crash_type != NULL && strcmp(type, p->crash_type) == 0)
		abort();
	if (p->fail_type != NULL && strcmp(type, p->fail_type) == 0) {
		host->set_error(p->ctx, "fail_type %s", type);
		return CH_FAIL;
	}
	/* Counted first: count_attempt's own connection must not wait for the
	 * transaction queue_actions opens. */
	attempt = p->retries > 0 ? count_attempt(p, id) : 0;
	/* Before the retries: an attempt that retries queued them too, and its
	 * rollback must take them back. */
	if (p->action != NULL && queue_actions(p, ev) < 0)
		return CH_FAIL; /* the host said why (set_error) */
	if (p->retries > 0 && attempt <= p->retries) {
		host->set_error(p->ctx, "retry %lld", (long long)id);
		return CH_RETRY;
	}
	if ((db = host->db(p->ctx)) == NULL)
		return CH_RETRY;
	host->int64(data, "ToneInfo.SequenceId", &seq);
	json = host->json(data, &json_len);
	sqlite3_prepare_v2(db,
	                   "INSERT OR REPLACE INTO th_seen VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	                   "?9, ?10, ?11, ?12, ?13, ?14, ?15)",
	                   -1, &st, NULL);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, host->event_format(ev), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, host->event_time(ev), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, host->event_time_us(ev));
	sqlite3_bind_text(st, 6, host->event_call_id(ev), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, host->event_subject(ev), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, host->str(data, "CallState"), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, host->str(data, "toneInfo.tone"), -1, SQLITE_STATIC);
	if (seq >= 0)
		sqlite3_bind_int64(st, 10, seq);
	if (host->type(parts) == CH_VALUE_ARRAY)
		sqlite3_bind_int64(st, 11, (int64_t)host->len(parts));
	sqlite3_bind_text(st, 12, host->str(host->at(parts, 0, NULL), "identifier.rawid"), -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 13, json, (int)json_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, host->opt_str(p->ctx, "label"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, host->opt_int(p->ctx, "pause"));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		host->set_error(p->ctx, "insert: %s", sqlite3_errmsg(db));
		return CH_RETRY;
	}
	if (p->write_then_retry) {
		host->set_error(p->ctx, "wrote, then asked for a retry");
		return CH_RETRY;
	}
	return CH_OK;
}

static void probe_fini(void *state)
{
	struct probe *p = state;

	free(p->db_file);
	free(p);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
#ifdef TH_PROBE_OWN_THREAD
    .flags = CH_HANDLER_OWN_THREAD,
    .name = "th_probe_own",
#else
    .name = "th_probe",
#endif
    .version = "1.0",
    .description = "plugin host test module",
    .event_types = patterns,
    .options = options,
    .init = probe_init,
    .handle = probe_handle,
    .fini = probe_fini,
};

const struct ch_handler *ch_handler_entry(uint32_t host_major, uint32_t host_minor)
{
	(void)host_minor;
	return host_major == CH_ABI_MAJOR ? &descriptor : NULL;
}
