/* actions.h - the action sender: sends what handlers queued in the actions
 * table (schema/009_actions.sql) to the Call Automation REST API.
 *
 * One thread with a connection of its own.  It sends pending rows oldest
 * first, one call's actions in queue order (a row waiting for a retry holds
 * back the later ones of its call), signs each with the [actions]
 * connection string (acs_client.h), and settles it: 'sent' on 2xx, 'failed'
 * at once on any other answer except 408 and 429, and after max_attempts on
 * network errors, 408, 429 and 5xx (retried with backoff meanwhile).  Each
 * outcome is one log line and one count in callhookd_actions_total.  It
 * wakes when a delivery that queued actions commits, and looks every second
 * anyway (rows queued by callhookctl replay in another process).
 *
 * The settings are a documented process-wide singleton, like the log level:
 * whether actions are configured decides whether a handler's action call
 * may queue at all (host_actions.c), in the daemon and in callhookctl.
 */
#ifndef CH_ACTIONS_H
#define CH_ACTIONS_H

#include <stdbool.h>

#include "config.h"
#include "error.h"

/* Are actions configured in this process?  Set by ch_actions_start and
 * ch_actions_configure, and by callhookctl replay from its configuration. */
void ch_actions_set_enabled(bool enabled);
bool ch_actions_enabled(void);

/* host_actions.c: the transaction open on this thread queued an action. */
void ch_actions_note_queued(void);
/* dispatch.c, after a COMMIT: wake the sender if that transaction queued
 * actions.  Cheap when it did not (a thread-local flag). */
void ch_actions_after_commit(void);

struct ch_action_sender;

/* Open the sender's connection to cfg's journal and start its thread with
 * cfg's [actions] (none: it sends nothing until a reload configures them). */
struct ch_action_sender *ch_actions_start(const struct ch_config *cfg, struct ch_error *err);
/* A reload: new settings for the next send (the journal path stays). */
void ch_actions_configure(struct ch_action_sender *s, const struct ch_config *cfg);
/* Stop after the request in flight, waiting at most timeout_ms for it; a
 * thread still waiting on the network then is left to finish on its own
 * (the process is exiting).  Unsent rows stay pending for the next start.
 * NULL is fine. */
void ch_actions_stop(struct ch_action_sender *s, long timeout_ms);

#endif
