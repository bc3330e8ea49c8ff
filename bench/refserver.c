/* refserver.c - the benchmark's reference: an HTTP/1.1 server that does no work.
 *
 * It answers every request (keep-alive, any method, body read and dropped)
 * with 200 and a small JSON body, on one thread, with libevent's evhttp.  It
 * is the ceiling for callhookd on the same machine with the same client:
 * bench/run.sh prints callhookd's throughput as a fraction of this one's.
 *
 * Build: cc -O2 -o refserver bench/refserver.c $(pkg-config --cflags --libs libevent)
 * Run:   refserver PORT     (0 = any free port; prints "listening on 127.0.0.1:PORT")
 * Stops on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

static const char body[] = "{\"accepted\":0,\"duplicates\":0}";

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	(void)arg;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evbuffer_add_reference(out, body, sizeof(body) - 1, NULL, NULL);
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct event *term, *intr;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char *end;
	long port;

	if (argc != 2 || (port = strtol(argv[1], &end, 10), *end != '\0') || port < 0 ||
	    port > 65535) {
		fprintf(stderr, "usage: refserver PORT   (0 = any free port)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "refserver: cannot create the event loop\n");
		return 1;
	}
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						 EVHTTP_REQ_PUT | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(http, on_request, NULL);
	sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", (unsigned short)port);
	if (sock == NULL ||
	    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len) < 0) {
		fprintf(stderr, "refserver: cannot listen on 127.0.0.1:%ld\n", port);
		return 1;
	}
	term = evsignal_new(base, SIGTERM, on_signal, base);
	intr = evsignal_new(base, SIGINT, on_signal, base);
	if (term == NULL || intr == NULL || evsignal_add(term, NULL) < 0 ||
	    evsignal_add(intr, NULL) < 0) {
		fprintf(stderr, "refserver: cannot install signal handlers\n");
		return 1;
	}
	/* The same line callhookd logs, so one script reads both. */
	printf("listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
