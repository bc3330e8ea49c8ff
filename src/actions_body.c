/* actions_body.c - see actions_body.h. */
#include "actions_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

/* One argument: present (unless optional), at most max bytes, UTF-8 (yajl
 * checks that when it writes; ids going into a path are checked here). */
static int check_arg(const char *value, const char *name, size_t max, bool optional,
                     struct ch_error *err)
{
	if (value == NULL) {
		if (optional)
			return 0;
		return ch_error_set(err, 400, "InvalidAction", "%s is missing", name);
	}
	if (value[0] == '\0')
		return ch_error_set(err, 400, "InvalidAction", "%s is empty", name);
	if (strnlen(value, max + 1) > max)
		return ch_error_set(err, 400, "InvalidAction", "%s is longer than %zu bytes", name,
		                    max);
	return 0;
}

/* "+" and 1 to 15 digits (E.164). */
static bool is_phone(const char *s)
{
	size_t n;

	if (s[0] != '+')
		return false;
	n = strspn(s + 1, "0123456789");
	return n >= 1 && n <= 15 && s[1 + n] == '\0';
}

/* A path segment: unreserved characters, ':' and '@' as they are (RFC 3986
 * pchar), everything else %-encoded, so an id can neither add a segment nor
 * start the query. */
static void append_segment(char *path, size_t size, const char *seg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);

	for (const unsigned char *p = (const unsigned char *)seg; *p && n + 4 < size; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~:@", *p) != NULL) {
			path[n++] = (char)*p;
		} else {
			path[n++] = '%';
			path[n++] = hex[*p >> 4];
			path[n++] = hex[*p & 15];
		}
	}
	path[n] = '\0';
}

static void set_path(struct ch_action_req *out, const char *call_id, const char *suffix,
                     const char *tail)
{
	snprintf(out->path, sizeof(out->path), "/calling/calls/");
	append_segment(out->path, sizeof(out->path), call_id);
	strncat(out->path, suffix, sizeof(out->path) - strlen(out->path) - 1);
	if (tail != NULL)
		append_segment(out->path, sizeof(out->path), tail);
}

static void start(struct ch_action_req *out, const char *kind, const char *method)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->method = method;
}

static bool put_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s)) == yajl_gen_status_ok;
}

static bool put_member(yajl_gen g, const char *key, const char *value)
{
	return value == NULL || (put_str(g, key) && put_str(g, value));
}

/* Hand the generator's buffer over to out. */
static int finish(yajl_gen g, bool ok, const char *what, struct ch_action_req *out,
                  struct ch_error *err)
{
	const unsigned char *buf;
	size_t len;

	if (!ok || yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		return ch_error_set(err, 400, "InvalidAction", "%s: an argument is not valid UTF-8",
		                    what);
	}
	out->body = malloc(len + 1);
	if (out->body == NULL) {
		yajl_gen_free(g);
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	}
	memcpy(out->body, buf, len);
	out->body[len] = '\0';
	out->body_len = len;
	yajl_gen_free(g);
	return 0;
}

static yajl_gen new_gen(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g != NULL)
		yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	return g;
}

int ch_action_play_audio(const char *call_id, const char *audio_file_uri, bool loop,
                         const char *operation_context, struct ch_action_req *out,
                         struct ch_error *err)
{
	yajl_gen g;
	bool ok;

	start(out, "play_audio", "POST");
	if (check_arg(call_id, "call_id", CH_ACTION_ID_MAX, false, err) < 0 ||
	    check_arg(audio_file_uri, "audio_file_uri", CH_ACTION_URI_MAX, false, err) < 0 ||
	    check_arg(operation_context, "operation_context", CH_ACTION_CONTEXT_MAX, true, err) < 0)
		return -1;
	if ((g = new_gen()) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	set_path(out, call_id, "/PlayAudio", NULL);
	ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
	     put_member(g, "audioFileUri", audio_file_uri) && put_str(g, "loop") &&
	     yajl_gen_bool(g, loop) == yajl_gen_status_ok &&
	     put_member(g, "operationContext", operation_context) &&
	     yajl_gen_map_close(g) == yajl_gen_status_ok;
	return finish(g, ok, "play_audio", out, err);
}

int ch_action_cancel_media(const char *call_id, const char *operation_context,
                           struct ch_action_req *out, struct ch_error *err)
{
	yajl_gen g;
	bool ok;

	start(out, "cancel_media", "POST");
	if (check_arg(call_id, "call_id", CH_ACTION_ID_MAX, false, err) < 0 ||
	    check_arg(operation_context, "operation_context", CH_ACTION_CONTEXT_MAX, true, err) < 0)
		return -1;
	if ((g = new_gen()) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	set_path(out, call_id, "/CancelMediaProcessing", NULL);
	ok = yajl_gen_map_open(g) == yajl_gen_status_ok &&
	     put_member(g, "operationContext", operation_context) &&
	     yajl_gen_map_close(g) == yajl_gen_status_ok;
	return finish(g, ok, "cancel_media", out, err);
}

int ch_action_hangup(const char *call_id, struct ch_action_req *out, struct ch_error *err)
{
	start(out, "hangup", "POST");
	if (check_arg(call_id, "call_id", CH_ACTION_ID_MAX, false, err) < 0)
		return -1;
	set_path(out, call_id, "/Hangup", NULL); /* the seed's Hangup has no body */
	return 0;
}

int ch_action_invite(const char *call_id, const char *participant, const char *alternate_caller_id,
                     const char *operation_context, struct ch_action_req *out, struct ch_error *err)
{
	yajl_gen g;
	bool ok, phone;

	start(out, "invite", "POST");
	if (check_arg(call_id, "call_id", CH_ACTION_ID_MAX, false, err) < 0 ||
	    check_arg(participant, "participant", CH_ACTION_ID_MAX, false, err) < 0 ||
	    check_arg(alternate_caller_id, "alternate_caller_id", 16, true, err) < 0 ||
	    check_arg(operation_context, "operation_context", CH_ACTION_CONTEXT_MAX, true, err) < 0)
		return -1;
	if (strncmp(participant, "4:", 2) == 0) {
		if (!is_phone(participant + 2))
			return ch_error_set(
			    err, 400, "InvalidAction",
			    "participant: a phone number is written 4:+ and 1 to 15 "
			    "digits");
		phone = true;
	} else if (strncmp(participant, "8:", 2) == 0 && participant[2] != '\0') {
		phone = false;
	} else {
		return ch_error_set(err, 400, "InvalidAction",
		                    "participant: not a raw id of a communication user (8:...) "
		                    "or a phone number (4:+...)");
	}
	if (alternate_caller_id != NULL && !is_phone(alternate_caller_id))
		return ch_error_set(err, 400, "InvalidAction",
		                    "alternate_caller_id: a phone number is written + and 1 to 15 "
		                    "digits");
	if ((g = new_gen()) == NULL)
		return ch_error_set(err, 500, "OutOfMemory", "out of memory");
	set_path(out, call_id, "/participants", NULL);
	ok = yajl_gen_map_open(g) == yajl_gen_status_ok && put_str(g, "participants") &&
	     yajl_gen_array_open(g) == yajl_gen_status_ok &&
	     yajl_gen_map_open(g) == yajl_gen_status_ok &&
	     put_str(g, phone ? "phoneNumber" : "communicationUser") &&
	     yajl_gen_map_open(g) == yajl_gen_status_ok &&
	     put_member(g, phone ? "value" : "id", phone ? participant + 2 : participant) &&
	     yajl_gen_map_close(g) == yajl_gen_status_ok &&
	     yajl_gen_map_close(g) == yajl_gen_status_ok &&
	     yajl_gen_array_close(g) == yajl_gen_status_ok;
	if (ok && alternate_caller_id != NULL)
		ok = put_str(g, "alternateCallerId") &&
		     yajl_gen_map_open(g) == yajl_gen_status_ok &&
		     put_member(g, "value", alternate_caller_id) &&
		     yajl_gen_map_close(g) == yajl_gen_status_ok;
	ok = ok && put_member(g, "operationContext", operation_context) &&
	     yajl_gen_map_close(g) == yajl_gen_status_ok;
	return finish(g, ok, "invite", out, err);
}

int ch_action_remove_participant(const char *call_id, const char *participant_id,
                                 struct ch_action_req *out, struct ch_error *err)
{
	start(out, "remove_participant", "DELETE");
	if (check_arg(call_id, "call_id", CH_ACTION_ID_MAX, false, err) < 0 ||
	    check_arg(participant_id, "participant_id", CH_ACTION_ID_MAX, false, err) < 0)
		return -1;
	set_path(out, call_id, "/participants/", participant_id);
	return 0;
}

void ch_action_req_free(struct ch_action_req *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
