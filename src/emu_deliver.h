/* emu_deliver.h - getting a call's events to its callbackUri, and the record
 * of every emission (GET /emulator/events).
 *
 * Per call, in order: the next event waits until the previous one got a 2xx
 * or was given up after --retry-max retries (backoff 100 ms doubling, at most
 * 10 s apart).  Retries resend the same bytes, so a receiver that dedupes
 * stores the event once.  The record keeps the last EMU_LOG_MAX emissions.
 */
#ifndef CH_EMU_DELIVER_H
#define CH_EMU_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "emu.h"

struct evbuffer;

/* Record the emission and queue a copy of body (type: full event type; id: ""
 * when the event has none).  A full queue drops the event, recorded as not
 * delivered with 0 attempts. */
void emu_deliver_enqueue(struct emu_call *c, const char *type, const char *id,
                         struct evbuffer *body, int64_t emitted_at_us);
/* Nothing queued or in flight. */
bool emu_deliver_idle(const struct emu_call *c);
/* Drop what is queued and the connection (the call is being freed). */
void emu_deliver_release(struct emu_call *c);
/* The records with seq > since, oldest first, at most limit, as a JSON array. */
void emu_deliver_records_json(const struct emu *e, uint64_t since, uint64_t limit,
                              struct evbuffer *out);

#endif
