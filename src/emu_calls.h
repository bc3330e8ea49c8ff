/* emu_calls.h - what the emulated service does: call legs, conversations and
 * their participants, plays, tones, hang-ups, and the events each one sends
 * (through emu_events.h).
 *
 * Errors come back as ch_error with the status and code the HTTP layer
 * answers with; messages name the field or the thing that is wrong.
 */
#ifndef CH_EMU_CALLS_H
#define CH_EMU_CALLS_H

#include <stdbool.h>
#include <stddef.h>

#include "emu.h"
#include "error.h"

struct evbuffer;

struct emu_call *emu_call_find(struct emu *e, const char *id);
struct emu_conv *emu_conv_find(struct emu *e, const char *id);

/* A new call leg, Establishing, its first event queued and Established
 * scheduled after --step-delay.  conv_id NULL: create-call (a new
 * conversation with source and targets); otherwise join that conversation
 * (created when unknown, as a group id is).  callback: an http:// URI. */
struct emu_call *emu_call_create(struct emu *e, const struct emu_ident *source,
                                 const struct emu_ident *targets, size_t n_targets,
                                 const char *conv_id, const char *callback, struct ch_error *err);

/* The REST operations on a live leg (404 once it is terminating or ended). */
int emu_call_usable(const struct emu_call *c, const char *id, struct ch_error *err);
int emu_call_play(struct emu_call *c, const char *uri, bool loop, const char *context,
                  char op_id[EMU_ID_LEN], struct ch_error *err);
void emu_call_cancel_media(struct emu_call *c);
void emu_call_hangup(struct emu_call *c);
int emu_call_dtmf(struct emu_call *c, const char *tones, struct ch_error *err);

/* Participants of a conversation.  origin: the leg that asked (it gets the
 * result event), NULL for the conversation API (every established leg gets
 * it).  key: a participantId or a rawId. */
int emu_conv_invite(struct emu_conv *conv, struct emu_call *origin, const struct emu_ident *ids,
                    size_t n, const char *context, struct ch_error *err);
int emu_conv_remove(struct emu_conv *conv, struct emu_call *origin, const char *key,
                    const char *context, struct ch_error *err);
/* The far end (control surface): a participant joins or leaves on its own;
 * only ParticipantsUpdated is sent.  key: a participantId or a rawId. */
int emu_conv_join(struct emu_call *c, const struct emu_ident *id, struct ch_error *err);
int emu_conv_leave(struct emu_call *c, const char *key, struct ch_error *err);
int emu_conv_mute(struct emu_conv *conv, const char *key, bool muted, struct ch_error *err);

/* Parse an identifier from its rawId ("8:acs:...", "4:+1...", "+1...", "8:orgid:..."). */
int emu_ident_from_raw(const char *raw, struct emu_ident *out, struct ch_error *err);

/* GET /emulator/calls/{id}. */
void emu_call_json(const struct emu_call *c, struct evbuffer *out);

void emu_free_all(struct emu *e);

#endif
