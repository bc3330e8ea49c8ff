/* module_common.h - what the built-in handler modules share.
 *
 * Header-only on purpose: every module is a shared object of its own that
 * must not link against the daemon, and a libtool convenience library would
 * need -fPIC objects linked into each module for a few dozen lines.  All of
 * it is static inline (or a macro), so a module gets a copy of only what it
 * calls: jsonl and exec use HM_HANDLER_ENTRY alone and need no -lsqlite3.
 * Not installed: out-of-tree modules see only <callhookd/handler.h>.
 *
 * The SQL modules keep their whole state in a struct hm_state: the instance,
 * and a statement cache over a table of SQL texts indexed by the module's own
 * enum, each statement prepared on first use on the connection host->db()
 * returns (the same one from init to fini, see handler.h) and finalized by
 * hm_fini.
 */
#ifndef CH_HANDLERS_MODULE_COMMON_H
#define CH_HANDLERS_MODULE_COMMON_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include <callhookd/handler.h>

/* Defines the module's ch_handler_entry(): desc for a host of this ABI
 * major, NULL for any other.  Use at file scope, without a semicolon. */
#define HM_HANDLER_ENTRY(desc)                                                                     \
	CH_EXPORT const struct ch_handler *ch_handler_entry(uint32_t host_abi_major,               \
	                                                    uint32_t host_abi_minor)               \
	{                                                                                          \
		(void)host_abi_minor;                                                              \
		return host_abi_major == CH_ABI_MAJOR ? &(desc) : NULL;                            \
	}

struct hm_state {
	const struct ch_host *host;
	struct ch_context *ctx;
	const char *prefix;     /* put before error messages ("dtmf: ..."); NULL: none */
	sqlite3 *db;            /* set by hm_db(); the connection the statements belong to */
	const char *const *sql; /* the module's statement texts (static storage) */
	size_t n_stmts;
	sqlite3_stmt *stmt[]; /* stmt[i] is sql[i] once prepared; NULL before */
};

/* The module's init: a state for n_stmts statements of sql, in *state.
 * Fails only for want of memory (the message is set). */
static inline int hm_init(const struct ch_host *host, struct ch_context *ctx, const char *prefix,
                          const char *const *sql, size_t n_stmts, void **state)
{
	struct hm_state *s = calloc(1, sizeof(*s) + n_stmts * sizeof(s->stmt[0]));

	if (s == NULL) {
		if (prefix != NULL)
			host->set_error(ctx, "%s: out of memory", prefix);
		else
			host->set_error(ctx, "out of memory");
		return -1;
	}
	s->host = host;
	s->ctx = ctx;
	s->prefix = prefix;
	s->sql = sql;
	s->n_stmts = n_stmts;
	*state = s;
	return 0;
}

/* The module's fini. */
static inline void hm_fini(void *state)
{
	struct hm_state *s = state;

	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_stmts; i++)
		sqlite3_finalize(s->stmt[i]);
	free(s);
}

/* The connection for this handle() (which opens its write transaction), kept
 * in s->db for the statements and hm_db_error; NULL when the host has none. */
static inline sqlite3 *hm_db(struct hm_state *s)
{
	s->db = s->host->db(s->ctx);
	return s->db;
}

/* Statement i, prepared on first use; NULL with *rc set when that fails.
 * PERSISTENT: it lives from the first event to fini. */
static inline sqlite3_stmt *hm_stmt(struct hm_state *s, size_t i, int *rc)
{
	*rc = SQLITE_OK;
	if (s->stmt[i] == NULL)
		*rc = sqlite3_prepare_v3(s->db, s->sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                         &s->stmt[i], NULL);
	return s->stmt[i];
}

/* Every statement not prepared yet, for modules that use s->stmt[] directly. */
static inline int hm_prepare(struct hm_state *s)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < s->n_stmts && rc == SQLITE_OK; i++)
		hm_stmt(s, i, &rc);
	return rc;
}

/* Errors a later attempt may not see again (busy, locked, I/O, full, memory)
 * are worth a retry, dead after max_attempts; the others (constraint, type,
 * size) would fail the same way every time. */
static inline bool hm_transient(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return false;
	default:
		return true;
	}
}

/* handle()'s answer to SQLite's rc from what: the error set as
 * "[prefix: ]what: message", CH_RETRY when transient, else CH_FAIL. */
static inline enum ch_result hm_db_error(struct hm_state *s, int rc, const char *what)
{
	const char *msg = s->db != NULL ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	if (s->prefix != NULL)
		s->host->set_error(s->ctx, "%s: %s: %s", s->prefix, what, msg);
	else
		s->host->set_error(s->ctx, "%s: %s", what, msg);
	return hm_transient(rc) ? CH_RETRY : CH_FAIL;
}

/* Reset st for its next use; rc (the last step's) as SQLITE_OK when the
 * statement finished, or stopped at a row the caller has read. */
static inline int hm_finish(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Run a bound statement that returns no rows. */
static inline int hm_run(sqlite3_stmt *st)
{
	return hm_finish(st, sqlite3_step(st));
}

/* Bind s, or NULL, keeping at most max bytes: a longer text is cut before
 * the UTF-8 character that straddles the limit. */
static inline void hm_bind_text(sqlite3_stmt *st, int i, const char *s, size_t max)
{
	size_t n;

	if (s == NULL) {
		sqlite3_bind_null(st, i);
		return;
	}
	n = strnlen(s, max);
	if (n == max) {
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

/* Bind v, or NULL when the event did not have it. */
static inline void hm_bind_opt_int(sqlite3_stmt *st, int i, bool has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* The DTMF symbol a service spelling stands for ("5", "Tone5", "five",
 * "TonePound", "asterisk", "a"), or 0 when it is none of them: the preview
 * spells tones "Tone1", GA "one", "pound", "asterisk". */
static inline char hm_tone_symbol(const char *s)
{
	static const struct {
		const char *name;
		char tone;
	} names[] = {
	    {"zero", '0'},  {"one", '1'},  {"two", '2'},      {"three", '3'}, {"four", '4'},
	    {"five", '5'},  {"six", '6'},  {"seven", '7'},    {"eight", '8'}, {"nine", '9'},
	    {"pound", '#'}, {"hash", '#'}, {"asterisk", '*'}, {"star", '*'},
	};

	if (s == NULL)
		return 0;
	if (strncasecmp(s, "tone", 4) == 0 && s[4] != '\0')
		s += 4;
	if (strlen(s) == 1) {
		char c = (char)toupper((unsigned char)s[0]);
		return strchr("0123456789*#ABCD", c) != NULL ? c : 0;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].tone;
	}
	return 0;
}

#endif
