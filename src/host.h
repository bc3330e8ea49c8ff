/* host.h - what the public struct ch_event is, inside the host.
 *
 * The dispatcher fills one from a journal row (dispatch.c) and the host
 * table's accessors read it (host.c).  Modules only ever see the opaque
 * pointer; values (struct ch_value) are the event's own JSON nodes.
 */
#ifndef CH_HOST_H
#define CH_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"

struct ch_event {
	int64_t journal_id;
	const char *type, *format, *subject, *source, *call_id; /* NULL when absent */
	const char *time; /* never NULL: event time, else received time */
	int64_t time_us;
	const char *raw; /* the journaled text the JSON tree was parsed from */
	size_t raw_len;
	const struct ch_json *root, *data;
};

/* Values carry no pointer back to their text, so json() finds it here: the
 * event being handled on this thread (set by the dispatcher around handle()). */
void ch_host_set_current(const struct ch_event *ev);
const struct ch_event *ch_host_current(void);

/* host_actions.c: the ABI 1.1 action functions, and the per-handle() count
 * that numbers their rows (reset by ch_host_set_current). */
struct ch_context;
void ch_host_actions_reset(void);
int ch_host_play_audio(struct ch_context *ctx, const char *call_id, const char *audio_file_uri,
                       bool loop, const char *operation_context);
int ch_host_cancel_media(struct ch_context *ctx, const char *call_id,
                         const char *operation_context);
int ch_host_hangup(struct ch_context *ctx, const char *call_id);
int ch_host_invite(struct ch_context *ctx, const char *call_id, const char *participant,
                   const char *alternate_caller_id, const char *operation_context);
int ch_host_remove_participant(struct ch_context *ctx, const char *call_id,
                               const char *participant_id);

#endif
