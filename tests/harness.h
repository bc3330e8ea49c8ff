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

#if defined(__GNUC__)
#define HARNESS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define HARNESS_SENTINEL          __attribute__((sentinel))
#else
#define HARNESS_PRINTF(fmt, args)
#define HARNESS_SENTINEL
#endif

struct ch_harness;
struct ch_plugin;

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
/* Each file of a NULL-terminated list; every one must journal at least one
 * new event.  Returns how many were journaled in all. */
int harness_post_files(struct ch_harness *h, const char *const *paths);
/* harness_post of the body printf makes of fmt (any length). */
int harness_postf(struct ch_harness *h, const char *fmt, ...) HARNESS_PRINTF(2, 3);
/* One GA CloudEvent as the service posts it (an array of one): type is the
 * name after "Microsoft.Communication.", data_members the JSON members of
 * data that come before its callConnectionId (call), or "". */
int harness_post_ga(struct ch_harness *h, const char *id, const char *type, const char *call,
                    const char *time, const char *data_members);

/* Run the dispatcher until nothing is due; retries run at once (no backoff
 * waits).  Returns the number of deliveries settled. */
int harness_run(struct ch_harness *h);
/* Every delivery pending again with no attempts, as `callhookctl replay`
 * does, then harness_run (whose count it returns). */
int harness_replay(struct ch_harness *h);

sqlite3 *harness_db(struct ch_harness *h);
/* The journal's file (to open other connections, e.g. in a forked child). */
const char *harness_path(struct ch_harness *h);
/* Load another instance of a module on a connection of the caller's (what a
 * restarted daemon does), options as for harness_new; name NULL: the module's
 * file name.  Fails the test on error. */
struct ch_plugin *harness_load_plugin(const char *module, const char *name,
                                      const char *const *options, sqlite3 *db);
/* First column of the first row of sql as an integer; -1 when no row. */
int64_t harness_int(struct ch_harness *h, const char *sql);
/* The same as text (malloc'd, caller frees); NULL when no row or NULL. */
char *harness_text(struct ch_harness *h, const char *sql);
/* Every row of sql as one string, to compare whole rows or tables: columns
 * joined by '|', rows by ';', NULL written '-' (malloc'd, caller frees);
 * NULL when there is no row. */
char *harness_rows(struct ch_harness *h, const char *sql);
/* Fail the test unless harness_text (harness_rows) of sql is want; a NULL
 * want asks for NULL. */
void harness_assert_text(struct ch_harness *h, const char *sql, const char *want);
void harness_assert_rows(struct ch_harness *h, const char *sql, const char *want);

/* Fail the test unless loading module with options fails with a message
 * holding every one of the needles that follow (ended by NULL). */
void harness_assert_init_fails(const char *module, const char *const *options,
                               ...) HARNESS_SENTINEL;

/* --- files, for tests of modules that write or run them --- */

/* A whole file, NUL-terminated (malloc'd, caller frees; its size in *len
 * when len is not NULL); NULL, errno set, when it cannot be read. */
char *harness_read_file(const char *path, size_t *len);
/* Create a fresh directory "/tmp/<name>.XXXXXX" into dir[size]. */
void harness_mkdtemp(char *dir, size_t size, const char *name);
/* Remove it and everything in it. */
void harness_rmdir(const char *dir);

#endif
