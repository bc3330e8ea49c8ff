/* host.h - what the public struct ch_event is, inside the host.
 *
 * The dispatcher fills one from a journal row (dispatch.c) and the host
 * table's accessors read it (host.c).  Modules only ever see the opaque
 * pointer; values (struct ch_value) are the event's own JSON nodes.
 */
#ifndef CH_HOST_H
#define CH_HOST_H

#include <stdint.h>

#include "json.h"

struct ch_event {
	int64_t journal_id;
	const char *type, *format, *subject, *source, *call_id; /* NULL when absent */
	const char *time; /* never NULL: event time, else received time */
	int64_t time_us;
	const char *raw; /* the journaled text the JSON tree was parsed from */
	size_t raw_len;
	const struct ch_json *root, *data;
};

/* Values carry no pointer back to their text, so json() finds it here: the
 * event being handled on this thread (set by the dispatcher around handle()). */
void ch_host_set_current(const struct ch_event *ev);

#endif
