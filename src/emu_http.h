/* emu_http.h - the emulator's HTTP surface: the seed's REST API (HMAC
 * verified, api-version required) and the /emulator/ control surface. */
#ifndef CH_EMU_HTTP_H
#define CH_EMU_HTTP_H

#include "emu.h"

struct evhttp_request;

/* evhttp_set_gencb callback; arg is the struct emu. */
void emu_http_handle(struct evhttp_request *req, void *arg);

#endif
