/* callhookd/handler.h - the plugin ABI of callhookd.
 *
 * A handler is a shared object exporting one function, ch_handler_entry().
 * callhookd loads it with dlopen(RTLD_NOW | RTLD_LOCAL), calls the entry with
 * its own ABI version, and gets back a descriptor (or NULL: the module
 * refuses this host).  Modules never link back into the daemon: everything
 * they may use from the host comes through the function table struct ch_host.
 * Build one with:
 *
 *     cc -shared -fPIC $(pkg-config --cflags callhookd) -o my.so my.c -lsqlite3
 *
 * Versioning (see callhookd-handler(3)): the host refuses a module whose
 * abi_major differs from CH_ABI_MAJOR or whose abi_minor is newer than the
 * host's.  Within a major version structs only grow at their end (the size
 * fields tell each side how much the other knows) and reserved[] stays zero.
 *
 * Delivery: every journaled event whose type matches one of a handler's
 * patterns is handed to handle() at least once, in journal order.  A handler
 * may see an event again (replay, a retry after CH_RETRY), so derived writes
 * must be idempotent per journal row (key them by ch_host.event_id()).
 *
 * Threading: init, handle, reopen and fini of one handler instance are never
 * called concurrently; they may be called from different threads over time.
 *
 * Ownership: the host owns every event, value and string it passes; they are
 * valid until the call that received them returns.  A handler copies what it
 * keeps.  The handler owns its state (from init until fini).
 */
#ifndef CALLHOOKD_HANDLER_H
#define CALLHOOKD_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CH_ABI_MAJOR 1
#define CH_ABI_MINOR 1

/* The symbol every module exports. */
#define CH_HANDLER_ENTRY_SYMBOL "ch_handler_entry"

#if defined(__GNUC__)
#define CH_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define CH_EXPORT            __attribute__((visibility("default")))
#else
#define CH_PRINTF(fmt, args)
#define CH_EXPORT
#endif

struct sqlite3;

/* What handle() reports. */
enum ch_result {
	CH_OK = 0,    /* done: the derived writes and the "done" mark commit together */
	CH_RETRY = 1, /* failed for now: writes rolled back, retried later with backoff,
	                 dead after max_attempts */
	CH_FAIL = 2,  /* can never succeed: writes rolled back, the delivery is dead at once */
};

enum ch_log_level { CH_LOG_ERROR = 0, CH_LOG_WARN = 1, CH_LOG_INFO = 2, CH_LOG_DEBUG = 3 };

enum ch_value_type {
	CH_VALUE_NULL = 0, /* also what a missing value reports */
	CH_VALUE_BOOL,
	CH_VALUE_NUMBER,
	CH_VALUE_STRING,
	CH_VALUE_ARRAY,
	CH_VALUE_OBJECT,
};

struct ch_event;   /* one journaled event; valid during handle() */
struct ch_value;   /* a JSON value inside an event; same lifetime */
struct ch_context; /* the host's side of one handler instance; valid from init to fini */

/* Options a handler declares; the host checks the [handler NAME] section against
 * them at start-up (unknown key, bad type, missing required key: start-up fails). */
enum ch_option_type {
	CH_OPT_STRING,
	CH_OPT_INT,      /* decimal integer, may be negative */
	CH_OPT_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	CH_OPT_DURATION, /* "250ms", "5s", "2m", "1h"; read back in milliseconds with opt_int */
};

struct ch_option {
	const char *key; /* NULL ends the table */
	enum ch_option_type type;
	const char *default_value; /* NULL: no default */
	bool required;
	const char *help; /* one line, for error messages and documentation */
};

/* Functions the host offers.  Every pointer is set for the ABI version in
 * abi_major.abi_minor; size is sizeof(struct ch_host) in the host's build. */
struct ch_host {
	uint32_t abi_major, abi_minor, size;

	/* --- the event's envelope (normalised across the three formats) --- */
	int64_t (*event_id)(const struct ch_event *ev); /* journal row: events.id */
	const char *(*event_type)(const struct ch_event *ev);
	const char *(*event_format)(const struct ch_event *ev); /* preview|eventgrid|cloudevents */
	/* Normalised UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ"; when the event carried no
	 * time, the time it was received.  Never NULL.  event_time_us: the same in
	 * microseconds since the Unix epoch.  Order state by this, not by arrival. */
	const char *(*event_time)(const struct ch_event *ev);
	int64_t (*event_time_us)(const struct ch_event *ev);
	const char *(*event_subject)(const struct ch_event *ev); /* NULL when none */
	const char *(*event_source)(const struct ch_event *ev);  /* CE source / EG topic, or NULL */
	/* data.CallLegId, else data.callConnectionId; NULL when neither. */
	const char *(*event_call_id)(const struct ch_event *ev);
	/* The event exactly as journaled (valid JSON, not NUL-terminated). */
	const char *(*event_raw)(const struct ch_event *ev, size_t *len);
	/* The event object itself, and its "data" member (NULL when it has none). */
	const struct ch_value *(*event_root)(const struct ch_event *ev);
	const struct ch_value *(*event_data)(const struct ch_event *ev);

	/* --- values, by path: dotted member names matched ASCII case-insensitively
	 * (the preview format is PascalCase, later ones camelCase), a numeric
	 * segment indexes an array: "Participants.0.Identifier.rawId".  An empty
	 * path is base itself.  A NULL base finds nothing. --- */
	const struct ch_value *(*get)(const struct ch_value *base, const char *path);
	enum ch_value_type (*type)(const struct ch_value *v); /* CH_VALUE_NULL for NULL */
	/* The string, or NULL when absent or not a string. */
	const char *(*str)(const struct ch_value *base, const char *path);
	/* false when absent or not of that type; int64 also when not an exact integer */
	bool (*num)(const struct ch_value *base, const char *path, double *out);
	bool (*int64)(const struct ch_value *base, const char *path, int64_t *out);
	bool (*boolean)(const struct ch_value *base, const char *path, bool *out);
	/* Elements of an array or members of an object; 0 for anything else. */
	size_t (*len)(const struct ch_value *v);
	/* Element i of an array, member i of an object (key in *key if key != NULL). */
	const struct ch_value *(*at)(const struct ch_value *v, size_t i, const char **key);
	/* The value's JSON text as the sender wrote it (not NUL-terminated). */
	const char *(*json)(const struct ch_value *v, size_t *len);

	/* --- the instance --- */
	const char *(*name)(const struct ch_context *ctx); /* the [handler NAME] */
	/* Options, with the declared default when unset; NULL / 0 / false when
	 * neither.  opt_int reads INT and DURATION (milliseconds) options. */
	const char *(*opt_str)(const struct ch_context *ctx, const char *key);
	int64_t (*opt_int)(const struct ch_context *ctx, const char *key);
	bool (*opt_bool)(const struct ch_context *ctx, const char *key);

	/* The database holding the journal.  The same connection from init to fini,
	 * so prepared statements may be cached (finalize them in fini).  During
	 * handle() a transaction is open: never BEGIN, COMMIT or ROLLBACK (a
	 * SAVEPOINT of your own is fine).  Calling db() is what opens the write
	 * transaction, so a handler that writes nothing holds no lock. */
	struct sqlite3 *(*db)(struct ch_context *ctx);

	void (*log)(const struct ch_context *ctx, enum ch_log_level level, const char *fmt, ...)
	    CH_PRINTF(3, 4);
	/* Why init failed or handle() returned CH_RETRY/CH_FAIL: shown at start-up,
	 * stored as the delivery's last_error.  The last call wins. */
	void (*set_error)(struct ch_context *ctx, const char *fmt, ...) CH_PRINTF(2, 3);

	/* --- actions (ABI 1.1: check abi_minor >= 1 before calling them) ---
	 * Requests to the Call Automation REST API.  Each call queues one request
	 * in the action outbox inside the current delivery's transaction; the
	 * host's action sender signs it with the configured connection string and
	 * sends it after that transaction commits, so an action never blocks
	 * intake or handle().  A delivery that is rolled back (CH_RETRY, CH_FAIL,
	 * a crash) sends nothing, and one that runs again (retry, replay) does not
	 * send twice: the n-th action a handler queues for a journal row is sent
	 * at most once.  Outcomes are logged, counted and kept in the actions
	 * table.  Valid only during handle().  Return 0 when queued, -1 after
	 * set_error() (actions not configured, a NULL or over-long argument). */
	int (*play_audio)(struct ch_context *ctx, const char *call_id, const char *audio_file_uri,
	                  bool loop, const char *operation_context);
	int (*cancel_media)(struct ch_context *ctx, const char *call_id,
	                    const char *operation_context);
	int (*hangup)(struct ch_context *ctx, const char *call_id);
	/* participant: a raw id, "8:acs:..." (communication user) or
	 * "4:+15551234567" (phone number); alternate_caller_id: "+1..." or NULL. */
	int (*invite)(struct ch_context *ctx, const char *call_id, const char *participant,
	              const char *alternate_caller_id, const char *operation_context);
	int (*remove_participant)(struct ch_context *ctx, const char *call_id,
	                          const char *participant_id);

	void *reserved[3];
};

/* Descriptor flags. */
#define CH_HANDLER_OWN_THREAD                                                                      \
	0x1u /* slow (runs commands, waits on the network):                                        \
	        give it a worker thread of its own */

struct ch_handler {
	uint32_t abi_major, abi_minor; /* CH_ABI_MAJOR, CH_ABI_MINOR of the module's build */
	uint32_t size;                 /* sizeof(struct ch_handler) in the module's build */
	uint32_t flags;                /* CH_HANDLER_* */
	const char *name;              /* the module's name, e.g. "callstate" */
	const char *version;           /* the module's own version */
	const char *description;       /* one line */
	/* NULL-terminated patterns: an exact type, "*" (every event), or a prefix
	 * ending in "*" ("Microsoft.Communication.*").  The config's events key
	 * replaces them. */
	const char *const *event_types;
	const struct ch_option *options; /* ended by an entry with key NULL; may be NULL */

	/* Called once at start-up.  Return 0 and set *state, or non-zero after
	 * set_error(): start-up then fails with that message. */
	int (*init)(const struct ch_host *host, struct ch_context *ctx, void **state);
	enum ch_result (*handle)(void *state, const struct ch_event *ev);
	/* SIGHUP: reopen files (log rotation).  May be NULL. */
	void (*reopen)(void *state);
	void (*fini)(void *state); /* may be NULL */

	void *reserved[4];
};

/* The entry point: return the descriptor (static storage) or NULL to refuse
 * a host whose version the module cannot work with. */
/* CH_EXPORT: modules may build with -fvisibility=hidden and still export this. */
CH_EXPORT const struct ch_handler *ch_handler_entry(uint32_t host_abi_major,
                                                    uint32_t host_abi_minor);
typedef const struct ch_handler *(*ch_handler_entry_fn)(uint32_t host_abi_major,
                                                        uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif
