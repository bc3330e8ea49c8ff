/* harness.h - run a handler module through the real host, for unit tests.
 *
 * A harness is a fresh journal in a temporary directory (every schema file
 * applied), one handler instance loaded from a module file exactly as the
 * daemon loads it, and the daemon's own intake path (envelope parsing,
 * dedupe) for posting bodies.  Fatal problems fail the running Check test.
 */
#ifndef CH_TEST_HARNESS_H
#define CH_TEST_HARNESS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

struct ch_harness;

/* module: a path, e.g. BUILD_HANDLERS "/callstate.so".  options: NULL or a
 * NULL-terminated list of "key=value" for the [handler] section ("events=..."
 * overrides the patterns).  The instance is called by the module's file name. */
struct ch_harness *harness_new(const char *module, const char *const *options);
/* The same, but a load or init failure returns NULL with the message in err. */
struct ch_harness *harness_try_new(const char *module, const char *const *options, char *err,
                                   size_t err_size);
void harness_free(struct ch_harness *h);

/* Journal one HTTP body as the daemon would (content type application/json).
 * Returns how many events were new (duplicates are not journaled twice). */
int harness_post(struct ch_harness *h, const char *body);
/* The same with a file's contents, e.g. FIXTURES "/seed/dtmfreceived.json". */
int harness_post_file(struct ch_harness *h, const char *path);

/* Run the dispatcher until nothing is due; retries run at once (no backoff
 * waits).  Returns the number of deliveries settled. */
int harness_run(struct ch_harness *h);

sqlite3 *harness_db(struct ch_harness *h);
/* The journal's file (to open other connections, e.g. in a forked child). */
const char *harness_path(struct ch_harness *h);
/* First column of the first row of sql as an integer; -1 when no row. */
int64_t harness_int(struct ch_harness *h, const char *sql);
/* The same as text (malloc'd, caller frees); NULL when no row or NULL. */
char *harness_text(struct ch_harness *h, const char *sql);

#endif
