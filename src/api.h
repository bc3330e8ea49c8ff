/* api.h - what each path answers (the HTTP surface in callhookd(8)).
 *
 *   POST    <endpoint>  authenticate, parse, journal; 200 {"accepted":N,"duplicates":M}
 *                       only after COMMIT; Event Grid validation answered with
 *                       {"validationResponse":"<code>"}
 *   OPTIONS <endpoint>  CloudEvents webhook validation handshake
 *   GET     /healthz    the process answers
 *   GET     /readyz     the journal takes writes
 *   GET     /metrics    Prometheus text ([server] metrics says to whom)
 */
#ifndef CH_API_H
#define CH_API_H

#include "config.h"
#include "envelope.h"
#include "http_conn.h"
#include "store.h"
#include "writer.h"

struct ch_api;

/* writer is borrowed and must outlive the api.  cfg is borrowed only while a
 * request is being handled (ch_api_handle): nothing a request keeps while it
 * waits for its commit points into it, so after ch_api_set_config (SIGHUP)
 * the caller may free the old one at once.  Keep it that way. */
struct ch_api *ch_api_new(const struct ch_config *cfg, struct ch_writer *writer);
/* Requests that arrive from now on use cfg (endpoints, auth, limits). */
void ch_api_set_config(struct ch_api *api, const struct ch_config *cfg);
void ch_api_free(struct ch_api *api);
/* The journal row of a parsed event: everything but received_us, remote_addr
 * and endpoint, which the request knows.  Pointers borrow from ev. */
void ch_api_journal_row(const struct ch_parsed_event *ev, struct ch_journal_row *row);
/* A ch_http_handler; arg is the struct ch_api. */
void ch_api_handle(struct ch_http_request *req, void *arg);

#endif
