/* host_actions.c - the action functions of struct ch_host (ABI 1.1).
 *
 * Each call builds its request (actions_body.h) and inserts it into the
 * action outbox on the handler's own connection, inside the savepoint the
 * dispatcher opened for this event: a delivery that is rolled back queues
 * nothing.  The row is keyed by (handler, journal row, ordinal), the ordinal
 * counting the handler's action calls during this handle(), and inserted
 * with INSERT OR IGNORE: a retry or replay of the same row, making the same
 * calls, finds them queued and adds nothing.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "actions_body.h"
#include "host.h"
#include "plugin.h"
#include "timefmt.h"

/* Action calls made so far during the handle() running on this thread. */
static _Thread_local int64_t ordinal;

void ch_host_actions_reset(void)
{
	ordinal = 0;
}

static int refuse(struct ch_context *ctx, const char *msg)
{
	ch_host_table.set_error(ctx, "%s", msg);
	return -1;
}

static int queue(struct ch_context *ctx, const char *call_id, int built, struct ch_action_req *req,
                 const struct ch_error *berr)
{
	static const char sql[] =
	    "INSERT OR IGNORE INTO actions (handler, event_id, ordinal, call_id, kind, method, "
	    "path, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)";
	const struct ch_event *ev = ch_host_current();
	char when[CH_TIME_TEXT_SIZE];
	struct timespec ts;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc;

	if (built < 0) {
		ch_host_table.set_error(ctx, "%s: %s", req->kind, berr->message);
		return -1;
	}
	if ((db = ch_host_table.db(ctx)) == NULL) {
		ch_action_req_free(req);
		return refuse(ctx, "actions: could not open the delivery's transaction");
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ch_time_format((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, when);
	/* Prepared per call: actions are a few per call, and the statement
	 * would otherwise have to live in the context from init to fini. */
	rc = sqlite3_prepare_v2(db, sql, sizeof(sql) - 1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ch_host_table.name(ctx), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, ev->journal_id);
		sqlite3_bind_int64(st, 3, ++ordinal);
		sqlite3_bind_text(st, 4, call_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, req->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, req->method, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, req->path, -1, SQLITE_STATIC);
		if (req->body != NULL)
			sqlite3_bind_text(st, 8, req->body, (int)req->body_len, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, when, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		ch_host_table.set_error(ctx, "%s: could not queue: %s", req->kind,
		                        sqlite3_errmsg(db));
		sqlite3_finalize(st);
		ch_action_req_free(req);
		return -1;
	}
	if (sqlite3_changes(db) > 0)
		ch_actions_note_queued(); /* wake the sender once this commits */
	sqlite3_finalize(st);
	ch_action_req_free(req);
	return 0;
}

/* Common checks: during handle(), with actions configured. */
static int usable(struct ch_context *ctx)
{
	if (ctx == NULL)
		return -1;
	if (!ctx->dispatching || ch_host_current() == NULL)
		return refuse(ctx, "actions may only be queued during handle()");
	if (!ch_actions_enabled())
		return refuse(ctx, "actions are not configured (no [actions] section)");
	return 0;
}

int ch_host_play_audio(struct ch_context *ctx, const char *call_id, const char *audio_file_uri,
                       bool loop, const char *operation_context)
{
	struct ch_action_req req;
	struct ch_error err;
	int rc;

	if (usable(ctx) < 0)
		return -1;
	rc = ch_action_play_audio(call_id, audio_file_uri, loop, operation_context, &req, &err);
	return queue(ctx, call_id, rc, &req, &err);
}

int ch_host_cancel_media(struct ch_context *ctx, const char *call_id, const char *operation_context)
{
	struct ch_action_req req;
	struct ch_error err;
	int rc;

	if (usable(ctx) < 0)
		return -1;
	rc = ch_action_cancel_media(call_id, operation_context, &req, &err);
	return queue(ctx, call_id, rc, &req, &err);
}

int ch_host_hangup(struct ch_context *ctx, const char *call_id)
{
	struct ch_action_req req;
	struct ch_error err;
	int rc;

	if (usable(ctx) < 0)
		return -1;
	rc = ch_action_hangup(call_id, &req, &err);
	return queue(ctx, call_id, rc, &req, &err);
}

int ch_host_invite(struct ch_context *ctx, const char *call_id, const char *participant,
                   const char *alternate_caller_id, const char *operation_context)
{
	struct ch_action_req req;
	struct ch_error err;
	int rc;

	if (usable(ctx) < 0)
		return -1;
	rc = ch_action_invite(call_id, participant, alternate_caller_id, operation_context, &req,
	                      &err);
	return queue(ctx, call_id, rc, &req, &err);
}

int ch_host_remove_participant(struct ch_context *ctx, const char *call_id,
                               const char *participant_id)
{
	struct ch_action_req req;
	struct ch_error err;
	int rc;

	if (usable(ctx) < 0)
		return -1;
	rc = ch_action_remove_participant(call_id, participant_id, &req, &err);
	return queue(ctx, call_id, rc, &req, &err);
}
