/* emu_main.c - callhookd-emulator(1): the Call Automation REST API of the
 * seed on loopback, for tests and demos (see man/callhookd-emulator.1).
 *
 * Start-up: parse flags (a bad one is one line and exit 2), read the key,
 * bind, print "listening on ADDR:PORT" on stdout (scripts wait for it), then
 * run the loop until SIGTERM or SIGINT (exit 0).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/crypto.h>

#include "acs_sign.h"
#include "autoconfig.h" /* PACKAGE_VERSION */
#include "emu.h"
#include "emu_calls.h"
#include "emu_http.h"
#include "log.h"
#include "smallfile.h"
#include "units.h"

#define KEY_FILE_MAX 4096

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: callhookd-emulator --access-key BASE64 | --access-key-file PATH\n"
	        "                          [--listen ADDR:PORT] [--allow-remote]\n"
	        "                          [--format preview|eventgrid|cloudevents]\n"
	        "                          [--step-delay DURATION] [--play-duration DURATION]\n"
	        "                          [--retry-max N] [--delivery-timeout DURATION] [-v]\n"
	        "       callhookd-emulator -h | --version\n"
	        "The Call Automation REST API of the 2021 preview on ADDR:PORT (default\n"
	        "127.0.0.1:8090), sending its events to each call's callbackUri.\n"
	        "See callhookd-emulator(1).\n");
}

/* One line on stderr for a bad command line; exit status 2. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("callhookd-emulator: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return 2;
}

/* "127.0.0.1:8090", "[::1]:0" -> a sockaddr; -1 when malformed. */
static int parse_listen(const char *text, char *host, size_t host_size, int *port, bool *loopback)
{
	const char *colon = strrchr(text, ':');
	const char *h = text;
	size_t hl;
	long p;
	struct in_addr a4;
	struct in6_addr a6;

	if (colon == NULL || ch_parse_long(colon + 1, 0, 65535, &p) < 0)
		return -1;
	hl = (size_t)(colon - text);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= host_size)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		*loopback = (ntohl(a4.s_addr) >> 24) == 127;
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6);
	else
		return -1;
	*port = (int)p;
	return 0;
}

static int read_key_file(const char *path, struct emu *e)
{
	struct ch_error err;
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (ch_read_small_file(path, "--access-key-file", KEY_FILE_MAX, &text, &len, &st, &err) <
	    0) {
		fprintf(stderr, "callhookd-emulator: %s\n", err.message);
		return -1;
	}
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		text[--len] = '\0';
	rc = ch_acs_decode_key(text, e->key, &e->key_len, &err);
	OPENSSL_cleanse(text, len);
	free(text);
	if (rc < 0)
		fprintf(stderr, "callhookd-emulator: --access-key-file %s: %s\n", path,
		        err.message);
	return rc;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	ch_log_kv(CH_LOG_INFO, "emulator: stopping", "signal=%d", (int)sig);
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	enum {
		OPT_LISTEN = 256,
		OPT_KEY,
		OPT_KEY_FILE,
		OPT_FORMAT,
		OPT_STEP,
		OPT_PLAY,
		OPT_RETRY,
		OPT_TIMEOUT,
		OPT_REMOTE,
		OPT_VERSION
	};
	static const struct option options[] = {
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"access-key", required_argument, NULL, OPT_KEY},
	    {"access-key-file", required_argument, NULL, OPT_KEY_FILE},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"step-delay", required_argument, NULL, OPT_STEP},
	    {"play-duration", required_argument, NULL, OPT_PLAY},
	    {"retry-max", required_argument, NULL, OPT_RETRY},
	    {"delivery-timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"allow-remote", no_argument, NULL, OPT_REMOTE},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct emu e; /* large (the key); lives as long as the process */
	const char *listen = "127.0.0.1:8090", *key = NULL, *key_file = NULL;
	bool allow_remote = false, loopback = false;
	char host[64];
	int port, opt, status = 1;
	struct evhttp *http = NULL;
	struct evhttp_bound_socket *bound;
	struct event *sigterm = NULL, *sigint = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ch_error err;

	e.opt = (struct emu_options){EMU_PREVIEW, 20, 50, 5, 5, false};
	opterr = 0; /* our one line instead of getopt's */
	while ((opt = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_KEY:
			key = optarg;
			break;
		case OPT_KEY_FILE:
			key_file = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "preview") == 0)
				e.opt.format = EMU_PREVIEW;
			else if (strcmp(optarg, "eventgrid") == 0)
				e.opt.format = EMU_EVENTGRID;
			else if (strcmp(optarg, "cloudevents") == 0)
				e.opt.format = EMU_CLOUDEVENTS;
			else
				return bad(
				    "--format: \"%s\" is not preview, eventgrid or cloudevents",
				    optarg);
			break;
		case OPT_STEP:
			if (ch_parse_duration_ms(optarg, 3600000, &e.opt.step_delay_ms) < 0)
				return bad(
				    "--step-delay: \"%s\" is not a duration up to 1h (20ms, 1s)",
				    optarg);
			break;
		case OPT_PLAY:
			if (ch_parse_duration_ms(optarg, 3600000, &e.opt.play_duration_ms) < 0)
				return bad(
				    "--play-duration: \"%s\" is not a duration up to 1h (50ms, 2s)",
				    optarg);
			break;
		case OPT_RETRY:
			if (ch_parse_long(optarg, 0, 100, &e.opt.retry_max) < 0)
				return bad("--retry-max: \"%s\" is not a number from 0 to 100",
				           optarg);
			break;
		case OPT_TIMEOUT: {
			long ms;

			if (ch_parse_duration_ms(optarg, 600000, &ms) < 0 || ms < 1000)
				return bad(
				    "--delivery-timeout: \"%s\" is not a duration from 1s to 10m",
				    optarg);
			e.opt.deliver_timeout_s = ms / 1000;
			break;
		}
		case OPT_REMOTE:
			allow_remote = true;
			break;
		case 'v':
			e.opt.verbose = true;
			break;
		case OPT_VERSION:
			printf("callhookd-emulator %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad("unknown option or missing value: \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument \"%s\"", argv[optind]);
	if (parse_listen(listen, host, sizeof(host), &port, &loopback) < 0)
		return bad("--listen: \"%s\" is not IPADDR:PORT", listen);
	if (!loopback && !allow_remote)
		return bad("--listen: %s is not a loopback address (add --allow-remote to mean it)",
		           host);
	if ((key == NULL) == (key_file == NULL))
		return bad("give exactly one of --access-key and --access-key-file");
	if (key != NULL && ch_acs_decode_key(key, e.key, &e.key_len, &err) < 0)
		return bad("--access-key: %s", err.message);
	if (key_file != NULL && read_key_file(key_file, &e) < 0)
		return 2;
	ch_log_set_level(e.opt.verbose ? CH_LOG_DEBUG : CH_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);

	TAILQ_INIT(&e.calls);
	TAILQ_INIT(&e.convs);
	e.next_seq = 1;
	e.log = calloc(EMU_LOG_MAX, sizeof(*e.log));
	e.base = event_base_new();
	http = e.base != NULL ? evhttp_new(e.base) : NULL;
	if (e.log == NULL || http == NULL) {
		fprintf(stderr, "callhookd-emulator: out of memory at start\n");
		goto out;
	}
	evhttp_set_max_body_size(http, 4 * EMU_BODY_MAX);
	evhttp_set_max_headers_size(http, 16384);
	evhttp_set_timeout(http, 30);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, emu_http_handle, &e);
	bound = evhttp_bind_socket_with_handle(http, host, (unsigned short)port);
	if (bound == NULL) {
		fprintf(stderr, "callhookd-emulator: cannot listen on %s: %m\n", listen);
		goto out;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                      : ((struct sockaddr_in *)&ss)->sin_port);
	sigterm = evsignal_new(e.base, SIGTERM, on_signal, e.base);
	sigint = evsignal_new(e.base, SIGINT, on_signal, e.base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0) {
		fprintf(stderr, "callhookd-emulator: cannot install signal handlers\n");
		goto out;
	}
	printf(strchr(host, ':') != NULL ? "listening on [%s]:%d\n" : "listening on %s:%d\n", host,
	       port);
	fflush(stdout);
	event_base_dispatch(e.base);
	status = 0;
out:
	emu_free_all(&e);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (http != NULL)
		evhttp_free(http);
	if (e.base != NULL)
		event_base_free(e.base);
	free(e.log);
	OPENSSL_cleanse(e.key, sizeof(e.key));
	return status;
}
