/* emu_deliver.c - see emu_deliver.h.
 *
 * Each call has its own evhttp_connection (keep-alive), so one slow
 * receiver URI never holds up another call's events, and one request per
 * call is in flight at a time, which is what keeps a call's events in order.
 * Sends start from a timer (0 s for the next event, the backoff for a retry)
 * rather than from inside libevent's request callback, where the connection
 * is still being torn down after a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "autoconfig.h" /* PACKAGE_VERSION */
#include "emu_deliver.h"
#include "emu_json.h"
#include "log.h"

#define BACKOFF_FIRST_MS     100
#define BACKOFF_MAX_MS       10000
#define RESPONSE_HEADERS_MAX 16384
#define RESPONSE_BODY_MAX    65536

static struct emu_record *record(const struct emu *e, uint64_t seq)
{
	struct emu_record *r = &e->log[(seq - 1) % EMU_LOG_MAX];

	return r->seq == seq ? r : NULL;
}

static void send_head(evutil_socket_t fd, short what, void *arg);

static void schedule(struct emu_call *c, long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (c->send_timer == NULL) {
		c->send_timer = evtimer_new(c->emu->base, send_head, c);
		if (c->send_timer == NULL) {
			ch_log(CH_LOG_ERROR, "emulator: out of memory for a delivery timer");
			return;
		}
	}
	evtimer_add(c->send_timer, &tv);
}

static void pop_head(struct emu_call *c)
{
	struct emu_out *o = TAILQ_FIRST(&c->queue);

	TAILQ_REMOVE(&c->queue, o, link);
	c->queued--;
	free(o->body);
	free(o);
	/* Next event; or, for an ended call, closing its connection (from the
	 * timer: not inside libevent's callback for a request on it). */
	if (!TAILQ_EMPTY(&c->queue) || c->state == EMU_TERMINATED)
		schedule(c, 0);
}

static void attempt_done(struct emu_call *c, int status)
{
	struct emu_out *o = TAILQ_FIRST(&c->queue);
	struct emu_record *r = record(c->emu, o->seq);
	long ms = BACKOFF_FIRST_MS;

	c->in_flight = false;
	if (r != NULL)
		r->status = status;
	if (status >= 200 && status <= 299) {
		if (r != NULL)
			r->delivered = true;
		if (c->emu->opt.verbose)
			ch_log_kv(CH_LOG_DEBUG, "emulator: delivered",
			          "call=%s seq=%llu status=%d attempts=%u", c->id,
			          (unsigned long long)o->seq, status, o->attempts);
		pop_head(c);
		return;
	}
	if ((long)o->attempts > c->emu->opt.retry_max) {
		ch_log_kv(CH_LOG_WARN, "emulator: event given up",
		          "call=%s seq=%llu status=%d attempts=%u", c->id,
		          (unsigned long long)o->seq, status, o->attempts);
		pop_head(c);
		return;
	}
	for (unsigned i = 1; i < o->attempts && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	ch_log_kv(CH_LOG_INFO, "emulator: delivery failed, retrying",
	          "call=%s seq=%llu status=%d attempts=%u retry_in_ms=%ld", c->id,
	          (unsigned long long)o->seq, status, o->attempts, ms);
	schedule(c, ms);
}

static void request_done(struct evhttp_request *req, void *arg)
{
	struct emu_call *c = arg;

	/* req is NULL when the connection failed or timed out. */
	attempt_done(c, req != NULL ? evhttp_request_get_response_code(req) : 0);
}

static void send_head(evutil_socket_t fd, short what, void *arg)
{
	struct emu_call *c = arg;
	struct emu_out *o = TAILQ_FIRST(&c->queue);
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct emu_record *r;
	char count[16];

	(void)fd;
	(void)what;
	if (c->in_flight)
		return;
	if (o == NULL) {
		/* An ended call sends nothing more: do not keep a connection
		 * open to the receiver for each call that ever was. */
		if (c->state == EMU_TERMINATED && c->conn != NULL) {
			evhttp_connection_free(c->conn);
			c->conn = NULL;
		}
		return;
	}
	o->attempts++;
	r = record(c->emu, o->seq);
	if (r != NULL)
		r->attempts = o->attempts;
	c->in_flight = true;
	if (c->conn == NULL) {
		c->conn = evhttp_connection_base_new(c->emu->base, NULL, c->cb_host,
		                                     (unsigned short)c->cb_port);
		if (c->conn == NULL) {
			attempt_done(c, 0);
			return;
		}
		evhttp_connection_set_timeout(c->conn, (int)c->emu->opt.deliver_timeout_s);
		/* What a receiver answers is not used: keep it small. */
		evhttp_connection_set_max_headers_size(c->conn, RESPONSE_HEADERS_MAX);
		evhttp_connection_set_max_body_size(c->conn, RESPONSE_BODY_MAX);
	}
	req = evhttp_request_new(request_done, c);
	if (req == NULL) {
		attempt_done(c, 0);
		return;
	}
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", c->cb_host_header);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "callhookd-emulator/" PACKAGE_VERSION);
	if (c->emu->opt.format == EMU_EVENTGRID) {
		/* What Event Grid adds to each delivery: the count is of earlier attempts. */
		snprintf(count, sizeof(count), "%u", o->attempts - 1);
		evhttp_add_header(h, "aeg-event-type", "Notification");
		evhttp_add_header(h, "aeg-delivery-count", count);
	}
	evbuffer_add(evhttp_request_get_output_buffer(req), o->body, o->len);
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, c->cb_path) != 0 && c->in_flight)
		/* Refused before any callback ran (libevent keeps or frees req
		 * itself depending on where it failed; we do not touch it). */
		attempt_done(c, 0);
}

void emu_deliver_enqueue(struct emu_call *c, const char *type, const char *id,
                         struct evbuffer *body, int64_t emitted_at_us)
{
	struct emu *e = c->emu;
	uint64_t seq = e->next_seq++;
	struct emu_record *r = &e->log[(seq - 1) % EMU_LOG_MAX];
	size_t len = evbuffer_get_length(body);
	struct emu_out *o;

	memset(r, 0, sizeof(*r));
	r->seq = seq;
	snprintf(r->call_id, sizeof(r->call_id), "%s", c->id);
	snprintf(r->type, sizeof(r->type), "%s", type);
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->emitted_at_us = emitted_at_us;

	if (c->queued >= EMU_MAX_QUEUE) {
		ch_log_kv(CH_LOG_WARN, "emulator: queue full, event dropped", "call=%s seq=%llu",
		          c->id, (unsigned long long)seq);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (o != NULL)
		o->body = malloc(len > 0 ? len : 1);
	if (o == NULL || o->body == NULL) {
		free(o);
		ch_log(CH_LOG_ERROR, "emulator: out of memory queueing an event");
		return;
	}
	evbuffer_copyout(body, o->body, len);
	o->len = len;
	o->seq = seq;
	TAILQ_INSERT_TAIL(&c->queue, o, link);
	c->queued++;
	if (c->emu->opt.verbose)
		ch_log_kv(CH_LOG_DEBUG, "emulator: event", "call=%s seq=%llu type=%s body=%.*s",
		          c->id, (unsigned long long)seq, type, (int)len, o->body);
	if (c->queued == 1 && !c->in_flight)
		schedule(c, 0);
}

bool emu_deliver_idle(const struct emu_call *c)
{
	return TAILQ_EMPTY(&c->queue) && !c->in_flight;
}

void emu_deliver_release(struct emu_call *c)
{
	struct emu_out *o;

	while ((o = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, o, link);
		free(o->body);
		free(o);
	}
	c->queued = 0;
	if (c->send_timer != NULL)
		event_free(c->send_timer);
	c->send_timer = NULL;
	if (c->conn != NULL)
		evhttp_connection_free(c->conn);
	c->conn = NULL;
	c->in_flight = false;
}

void emu_deliver_records_json(const struct emu *e, uint64_t since, uint64_t limit,
                              struct evbuffer *out)
{
	uint64_t first = e->next_seq > EMU_LOG_MAX ? e->next_seq - EMU_LOG_MAX : 1;
	bool comma = false;

	if (since + 1 > first)
		first = since + 1;
	emu_json_raw(out, "[");
	for (uint64_t seq = first; seq < e->next_seq && limit > 0; seq++, limit--) {
		const struct emu_record *r = record(e, seq);

		if (r == NULL)
			continue;
		emu_json_raw(out, comma ? ",\n{" : "\n{");
		comma = true;
		emu_json_key(out, "seq");
		emu_json_int(out, (int64_t)r->seq);
		emu_json_member(out, "call_leg_id");
		emu_json_str(out, r->call_id);
		emu_json_member(out, "type");
		emu_json_str(out, r->type);
		emu_json_member(out, "id");
		emu_json_str(out, r->id[0] != '\0' ? r->id : NULL);
		emu_json_member(out, "emitted_at_us");
		emu_json_int(out, r->emitted_at_us);
		emu_json_member(out, "delivered");
		emu_json_bool(out, r->delivered);
		emu_json_member(out, "attempts");
		emu_json_int(out, r->attempts);
		emu_json_member(out, "status");
		emu_json_int(out, r->status);
		emu_json_raw(out, "}");
	}
	emu_json_raw(out, comma ? "\n]\n" : "]\n");
}
