/* emu_json.h - writing the emulator's JSON into an evbuffer.
 *
 * Structure is written by the caller with constant text; every string that
 * came from a request goes through emu_json_str, which quotes and escapes it
 * (input strings were parsed by ch_json_parse, so they are valid UTF-8).
 */
#ifndef CH_EMU_JSON_H
#define CH_EMU_JSON_H

#include <stdint.h>

struct evbuffer;

/* "text" quoted and escaped; null when s is NULL. */
void emu_json_str(struct evbuffer *b, const char *s);
/* Constant JSON text (structure, punctuation). */
void emu_json_raw(struct evbuffer *b, const char *text);
void emu_json_int(struct evbuffer *b, int64_t n);
void emu_json_bool(struct evbuffer *b, int v);
/* "key": (key is constant text, never input) */
void emu_json_key(struct evbuffer *b, const char *key);
/* ,"key": for every member but an object's first */
void emu_json_member(struct evbuffer *b, const char *key);

#endif
