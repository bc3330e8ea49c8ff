/* sqlite_error.h - one mapping from a failed SQLite call to the error
 * callhookd answers with: conditions that can pass (busy, locked, disk full,
 * read-only, I/O) are 503 "StoreUnavailable", so the sender retries and
 * nothing acknowledged is lost; anything else is 500 "StoreError". */
#ifndef CH_SQLITE_ERROR_H
#define CH_SQLITE_ERROR_H

#include <stdbool.h>

#include "error.h"

struct sqlite3;

bool ch_sqlite_unavailable(int rc);
/* Record the failure of `op`; call before resetting the statement, so that
 * sqlite3_errmsg still describes it.  Returns -1. */
int ch_sqlite_error(struct sqlite3 *db, int rc, const char *op, struct ch_error *err);

#endif
