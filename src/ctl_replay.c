/* ctl_replay.c - run one handler over the journal, as the daemon would.
 *
 * The handler is loaded and run by the daemon's own code (plugin.c,
 * dispatch.c), so a replay derives exactly what live delivery derives; this
 * file only reports progress and how it ended.
 */
#include "ctl_replay.h"

#include <stdio.h>
#include <unistd.h>

#include "actions.h"
#include "dispatch.h"
#include "plugin.h"

struct progress {
	const char *name;
	bool tty;
	int64_t done, total;
};

/* On a terminal one line rewritten in place; elsewhere (logs, pipes) only
 * the summary, so a cron job's mail is not thousands of lines long. */
static void on_progress(void *arg, int64_t done, int64_t total)
{
	struct progress *pr = arg;

	pr->done = done;
	pr->total = total;
	if (pr->tty) {
		fprintf(stderr, "\rreplay %s: %lld/%lld events", pr->name, (long long)done,
		        (long long)total);
		fflush(stderr);
	}
}

/* Deliveries of this handler that the replay left dead or waiting. */
static int64_t count_state(sqlite3 *db, const char *name, const char *state)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM deliveries WHERE handler = ?1 AND state = ?2",
	                       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void summary(sqlite3 *db, const struct progress *pr)
{
	int64_t dead = count_state(db, pr->name, "dead");
	int64_t failed = count_state(db, pr->name, "failed");

	if (pr->tty)
		putc('\n', stderr);
	fprintf(stderr, "replay %s: %lld events replayed", pr->name, (long long)pr->done);
	if (dead > 0 || failed > 0)
		fprintf(stderr,
		        "; the handler has %lld dead and %lld failed deliveries "
		        "(callhookctl dead list --handler %s)",
		        (long long)dead, (long long)failed, pr->name);
	putc('\n', stderr);
}

int ctl_replay(const struct ch_config *cfg, sqlite3 *db, const char *name, int64_t since_us,
               struct ch_error *err)
{
	struct ch_dispatch_options opts = {
	    .max_attempts = cfg->max_attempts,
	    .retry_base_ms = cfg->retry_base_ms,
	    .retry_max_ms = cfg->retry_max_ms,
	    .batch = cfg->dispatch_batch,
	};
	struct progress pr = {.name = name, .tty = isatty(STDERR_FILENO) == 1};
	struct ch_plugin *plugin = NULL;
	int rc;

	/* Actions a replay queues are sent by the daemon; queuing them only
	 * needs to know that the configuration has an [actions] section. */
	ch_actions_set_enabled(cfg->actions.configured);
	if (ch_plugins_load_one(cfg, name, db, &plugin, err) < 0)
		return -1;
	rc = ch_dispatch_replay(db, plugin, &opts, since_us > 0 ? since_us : 0, on_progress, &pr,
	                        err);
	ch_plugin_unload(plugin);
	if (rc < 0) {
		if (pr.tty && pr.total > 0)
			putc('\n', stderr); /* end the progress line before the error */
		return -1;
	}
	summary(db, &pr);
	return 0;
}
