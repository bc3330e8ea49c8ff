/* emu_events.h - the events a call leg sends, in the configured format.
 *
 * Each function builds one event (or, in CloudEvents, one per participant
 * where the GA service sends one per participant) and queues it on the call
 * for delivery.  Kinds a format has no event for are skipped: the GA service
 * sends no Establishing/Terminating and no InviteParticipantResult.  Shapes
 * and key order follow the seed's samples (preview) and FORMATS.md (GA).
 */
#ifndef CH_EMU_EVENTS_H
#define CH_EMU_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "emu.h"

void emu_uuid(char out[EMU_ID_LEN]);

/* CallLegStateChanged; CloudEvents: CallConnected / CallDisconnected. */
void emu_event_state(struct emu_call *c);
/* ParticipantsUpdated with the conversation's participants. */
void emu_event_participants(struct emu_call *c);
/* DtmfReceived; CloudEvents: ContinuousDtmfRecognitionToneReceived. tone is
 * one of 0-9 * # A-D; the call's sequence id is advanced. */
void emu_event_dtmf(struct emu_call *c, char tone);
/* PlayAudioResult; CloudEvents: PlayCompleted / PlayCanceled (400/8508). */
void emu_event_play(struct emu_call *c, const struct emu_play *p, bool cancelled);
/* InviteParticipantResult; CloudEvents: AddParticipantSucceeded/Failed, one
 * per participant.  failed: every participant was already in the call. */
void emu_event_invite(struct emu_call *c, const struct emu_ident *ids, size_t n,
                      const char *context, bool failed);
/* CloudEvents only: RemoveParticipantSucceeded (the preview sends just
 * ParticipantsUpdated). */
void emu_event_removed(struct emu_call *c, const struct emu_ident *id, const char *context);

#endif
