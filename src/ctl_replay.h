/* ctl_replay.h - callhookctl replay: back-fill one handler from the journal. */
#ifndef CH_CTL_REPLAY_H
#define CH_CTL_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "config.h"
#include "error.h"

/* Load the handler called name as the daemon would (cfg: its [handler]
 * section or the built-in default, cfg->handlers_dir) on db, a read-write
 * connection, and run it over every matching journal row with event time
 * >= since_us (every row when since_us <= 0).  Progress and a summary go to
 * stderr. */
int ctl_replay(const struct ch_config *cfg, sqlite3 *db, const char *name, int64_t since_us,
               struct ch_error *err);

#endif
