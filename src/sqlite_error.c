/* sqlite_error.c - see sqlite_error.h */
#include "sqlite_error.h"

#include <sqlite3.h>

bool ch_sqlite_unavailable(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_NOMEM:
	case SQLITE_PROTOCOL:
		return true;
	default:
		return false;
	}
}

int ch_sqlite_error(sqlite3 *db, int rc, const char *op, struct ch_error *err)
{
	if (ch_sqlite_unavailable(rc))
		return ch_error_set(err, 503, "StoreUnavailable",
		                    "journal not writable: %s (%s, sqlite error %d)",
		                    sqlite3_errmsg(db), op, rc);
	return ch_error_set(err, 500, "StoreError", "journal error: %s (%s, sqlite error %d)",
	                    sqlite3_errmsg(db), op, rc);
}
