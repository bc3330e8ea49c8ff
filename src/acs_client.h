/* acs_client.h - one signed request to the Call Automation REST API: the
 * piece the daemon's action sender and callhookctl call share. */
#ifndef CH_ACS_CLIENT_H
#define CH_ACS_CLIENT_H

#include <stddef.h>

#include "acs_sign.h"
#include "httpc.h"

/* Send METHOD endpoint+path_and_query with body (JSON, may be NULL for
 * none), signed with creds' key.  Same result contract as ch_http_send. */
int ch_acs_request(const struct ch_acs_credentials *creds, const char *method,
                   const char *path_and_query, const char *body, size_t body_len,
                   int timeout_ms, size_t max_response, struct ch_http_response *resp,
                   struct ch_error *err);

#endif
