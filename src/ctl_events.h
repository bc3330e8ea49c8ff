/* ctl_events.h - callhookctl's views of the journal and of delivery state:
 * events list/show, dead list/retry, handlers. */
#ifndef CH_CTL_EVENTS_H
#define CH_CTL_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "ctl_output.h"
#include "error.h"

/* Journal rows matching --since/--until (event time, else receive time),
 * --call, --type (GLOB), the newest f->limit of them, oldest first. */
int ctl_events_list(sqlite3 *db, const struct ctl_filter *f, const struct ctl_print *p,
                    struct ch_error *err);
/* Every column of journal row id; raw: only the body exactly as journaled.
 * A missing row is an error naming it. */
int ctl_events_show(sqlite3 *db, int64_t id, bool raw, const struct ctl_print *p,
                    struct ch_error *err);

/* Dead deliveries, of f->handler only when set. */
int ctl_dead_list(sqlite3 *db, const struct ctl_filter *f, const struct ctl_print *p,
                  struct ch_error *err);
/* Dead deliveries (of f->handler, of journal row f->event, when set) back to
 * 'pending' with attempts 0, in one statement; *changed says how many. */
int ctl_dead_retry(sqlite3 *db, const struct ctl_filter *f, long *changed, struct ch_error *err);

/* The handlers the daemon recorded, with their backlog counts. */
int ctl_handlers(sqlite3 *db, const struct ctl_print *p, struct ch_error *err);

#endif
