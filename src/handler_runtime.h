/* handler_runtime.h - the running handler set: its modules, their worker
 * threads, and replacing both on reload while intake goes on.
 *
 * The journal writer tells the workers about new rows through here, under a
 * lock that a replacement also takes to swap the workers, so the writer never
 * kicks a set that is being freed.  A replacement runs on a thread of its
 * own: the old workers finish their current batch before they stop, which
 * takes as long as a slow handler's batch, and the event loop must go on
 * answering (and pinging the systemd watchdog) meanwhile.  Delivery state
 * lives in the database, so stopping one set and starting the next loses
 * nothing: the new workers resume from each handler's cursor.
 */
#ifndef CH_HANDLER_RUNTIME_H
#define CH_HANDLER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"

struct event_base;
struct ch_writer;
struct ch_handler_runtime;

/* Load cfg's handler set (init included), start its workers, and have the
 * writer kick them after each commit.  cfg is only read during the call. */
struct ch_handler_runtime *ch_hrt_start(struct event_base *base, const struct ch_config *cfg,
                                        struct ch_writer *writer, struct ch_error *err);

typedef void (*ch_hrt_done)(void *arg, const struct ch_error *err);

/* Replace the running set with cfg's, on a thread: check the new modules
 * (load, ABI, options) while the old ones keep running, stop the old workers
 * after their current batch, initialise the new modules and start their
 * workers, unload the old modules.  If the new set fails its check, nothing
 * pauses; if it fails to initialise or start, the old workers start again.
 * Either way done gets the reason.  done(arg, err) runs on the loop thread
 * when it is over, err NULL on success.  cfg must stay valid until then.
 * -1 when a replacement is already running. */
int ch_hrt_replace(struct ch_handler_runtime *rt, const struct ch_config *cfg, ch_hrt_done done,
                   void *arg);
bool ch_hrt_replacing(const struct ch_handler_runtime *rt);

/* SIGHUP: every module's reopen() (log rotation), on its worker thread. */
void ch_hrt_reopen(struct ch_handler_runtime *rt);
/* Handlers in the running set. */
size_t ch_hrt_count(struct ch_handler_runtime *rt);

/* Wait for a replacement in progress (its done callback is not run), stop the
 * workers after their current batch, unload the modules, free.  Stop the
 * writer first: it kicks through rt.  NULL is fine.  timeout_ms < 0 waits as
 * long as that takes; otherwise a handler still running after timeout_ms
 * (one that hangs) is abandoned to its thread with what it uses (no fini, no
 * unload: the caller is about to exit) and the rest is unloaded. */
void ch_hrt_stop(struct ch_handler_runtime *rt, long timeout_ms);

#endif
