/* emu.h - callhookd-emulator's state: calls, conversations, plays, the
 * per-call outbound event queue and the bounded record of every emission.
 *
 * One thread, one libevent loop: the HTTP server, the timers that move calls
 * along and the HTTP client that delivers events all run on it, so nothing
 * here is locked.  Every table has a fixed cap (EMU_MAX_*); a request that
 * would pass one is refused, never grown into.
 *
 * Ownership: struct emu owns its conversations and calls; a call owns its
 * queued events, its timers and its client connection; a conversation is
 * freed when its last call leg is.
 */
#ifndef CH_EMU_H
#define CH_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "acs_sign.h"

#define EMU_ID_LEN           37     /* a UUID and its NUL */
#define EMU_RAW_MAX          256    /* an identifier's rawId */
#define EMU_CONV_MAX         512    /* a conversation id */
#define EMU_TEXT_MAX         1024   /* operationContext, audioFileUri, subject */
#define EMU_URI_MAX          2048   /* callbackUri */
#define EMU_MAX_PARTICIPANTS 64     /* per conversation */
#define EMU_MAX_PLAYS        16     /* running + queued per call */
#define EMU_MAX_CALLS        10000  /* call legs remembered, live or ended */
#define EMU_MAX_QUEUE        1000   /* undelivered events per call */
#define EMU_LOG_MAX          100000 /* emissions kept for GET /emulator/events */
#define EMU_BODY_MAX         65536  /* request bodies */
#define EMU_TONES_MAX        64     /* tones in one /dtmf request */

enum emu_format { EMU_PREVIEW, EMU_EVENTGRID, EMU_CLOUDEVENTS };
enum emu_kind { EMU_USER, EMU_PHONE, EMU_TEAMS };
enum emu_state { EMU_ESTABLISHING, EMU_ESTABLISHED, EMU_TERMINATING, EMU_TERMINATED };

struct emu_ident {
	enum emu_kind kind;
	char raw_id[EMU_RAW_MAX]; /* "8:acs:...", "4:+14251001000" */
	char value[EMU_RAW_MAX];  /* communicationUser.id, phoneNumber.value, teams userId */
};

struct emu_participant {
	struct emu_ident id;
	char participant_id[EMU_ID_LEN];
	bool muted;
};

struct emu_play {
	char id[EMU_ID_LEN];
	char *context; /* owned; NULL when the request had none */
	char *uri;     /* owned */
	bool loop;
};

struct emu_call;

struct emu_conv {
	TAILQ_ENTRY(emu_conv) link;
	struct emu *emu;
	char id[EMU_CONV_MAX];
	struct emu_participant parts[EMU_MAX_PARTICIPANTS];
	size_t n_parts;
	unsigned legs; /* calls pointing here */
};

/* One event waiting for (or in) delivery. */
struct emu_out {
	TAILQ_ENTRY(emu_out) link;
	uint64_t seq; /* its record in the emission log */
	char *body;   /* owned */
	size_t len;
	unsigned attempts;
};

struct emu_call {
	TAILQ_ENTRY(emu_call) link;
	struct emu *emu;
	char id[EMU_ID_LEN];
	char correlation_id[EMU_ID_LEN];
	struct emu_conv *conv;
	enum emu_state state;
	bool conv_announced; /* Established sent: ConversationId no longer null */
	struct emu_ident source;
	char callback[EMU_URI_MAX];
	char cb_host[256];
	int cb_port;
	char cb_path[EMU_URI_MAX]; /* path and query */
	char cb_host_header[270];
	struct emu_play plays[EMU_MAX_PLAYS]; /* [0] is playing */
	size_t n_plays;
	int64_t dtmf_seq;         /* last ToneInfo.SequenceId sent */
	int64_t participants_seq; /* GA sequenceNumber */
	struct event *step_timer; /* Establishing -> Established, Terminating -> Terminated */
	struct event *play_timer; /* the current play's end */
	/* delivery */
	TAILQ_HEAD(, emu_out) queue;
	size_t queued;
	bool in_flight;
	struct event *send_timer; /* next send or retry */
	struct evhttp_connection *conn;
};

/* One line of GET /emulator/events. */
struct emu_record {
	uint64_t seq; /* 0: free slot */
	char call_id[EMU_ID_LEN];
	char type[72];
	char id[EMU_ID_LEN]; /* "" when the event has no id (most preview events) */
	int64_t emitted_at_us;
	bool delivered;
	unsigned attempts;
	int status; /* last HTTP status, 0 when none came back */
};

struct emu_options {
	enum emu_format format;
	long step_delay_ms;
	long play_duration_ms;
	long retry_max;
	long deliver_timeout_s;
	bool verbose;
};

struct emu {
	struct event_base *base;
	struct emu_options opt;
	unsigned char key[CH_ACS_KEY_MAX];
	size_t key_len;
	TAILQ_HEAD(, emu_call) calls; /* oldest first */
	size_t n_calls;
	TAILQ_HEAD(, emu_conv) convs;
	struct emu_record *log; /* ring of EMU_LOG_MAX, allocated at start */
	uint64_t next_seq;      /* seq of the next emission; starts at 1 */
};

#endif
