/* emu_json.c - see emu_json.h. */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "emu_json.h"

void emu_json_str(struct evbuffer *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;

	if (s == NULL) {
		evbuffer_add(b, "null", 4);
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (run = s; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			evbuffer_add(b, esc, 2);
		} else {
			evbuffer_add(b, esc, 6);
		}
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
	evbuffer_add(b, "\"", 1);
}

void emu_json_raw(struct evbuffer *b, const char *text)
{
	evbuffer_add(b, text, strlen(text));
}

void emu_json_int(struct evbuffer *b, int64_t n)
{
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%lld", (long long)n);

	evbuffer_add(b, buf, (size_t)len);
}

void emu_json_bool(struct evbuffer *b, int v)
{
	emu_json_raw(b, v ? "true" : "false");
}

void emu_json_key(struct evbuffer *b, const char *key)
{
	emu_json_str(b, key);
	evbuffer_add(b, ":", 1);
}

void emu_json_member(struct evbuffer *b, const char *key)
{
	evbuffer_add(b, ",", 1);
	emu_json_key(b, key);
}
