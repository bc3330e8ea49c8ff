/* actions_body.h - the REST requests behind the handler actions, built from
 * a handler's arguments: method, path and JSON body as in the seed's
 * "Call Automation" REST API (POST /calling/calls/{callId}/PlayAudio ...).
 *
 * Pure functions, no database: host_actions.c queues what they build and
 * the tests check their output.  Every argument is bounded and checked
 * (present, valid UTF-8, within its length), and bodies are written with
 * yajl's generator, never pasted together.
 */
#ifndef CH_ACTIONS_BODY_H
#define CH_ACTIONS_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CH_ACTION_ID_MAX      256                         /* call id, participant id */
#define CH_ACTION_URI_MAX     2048                        /* audio file URI */
#define CH_ACTION_CONTEXT_MAX 1024                        /* operation context */
#define CH_ACTION_PATH_MAX    (64 + 6 * CH_ACTION_ID_MAX) /* two ids %-encoded: < httpc's 2048 */

struct ch_action_req {
	const char *kind;              /* the actions.kind value, static */
	const char *method;            /* "POST" or "DELETE", static */
	char path[CH_ACTION_PATH_MAX]; /* without the query string */
	char *body;                    /* JSON, malloc'd; NULL: no body */
	size_t body_len;
};

/* Each fills *out (free with ch_action_req_free) or returns -1 with err
 * (status 400) naming the argument.  operation_context and
 * alternate_caller_id may be NULL (left out of the body). */
int ch_action_play_audio(const char *call_id, const char *audio_file_uri, bool loop,
                         const char *operation_context, struct ch_action_req *out,
                         struct ch_error *err);
int ch_action_cancel_media(const char *call_id, const char *operation_context,
                           struct ch_action_req *out, struct ch_error *err);
int ch_action_hangup(const char *call_id, struct ch_action_req *out, struct ch_error *err);
/* participant: "8:acs:..." (a communication user, sent as communicationUser.id)
 * or "4:+15551234567" (a phone number, sent as phoneNumber.value). */
int ch_action_invite(const char *call_id, const char *participant, const char *alternate_caller_id,
                     const char *operation_context, struct ch_action_req *out,
                     struct ch_error *err);
int ch_action_remove_participant(const char *call_id, const char *participant_id,
                                 struct ch_action_req *out, struct ch_error *err);
void ch_action_req_free(struct ch_action_req *r);

#endif
