/* ctl_call.c - see ctl_call.h.
 *
 * Where the connection string comes from, first found wins: --connection-
 * string, then $CALLHOOKD_CONNECTION_STRING, then [actions] of the file
 * given with -c (the daemon's own parser reads it).  The command line is the
 * least private of the three (ps shows it to every user); the manual says so.
 *
 * Request bodies are built with yajl's generator, never pasted: an argument
 * with a quote or a backslash stays a string, and one that is not UTF-8 is a
 * usage error rather than a body the service would reject.  Identifiers on
 * the command line are raw ids, mapped to the seed's request shapes:
 * "+14251001000" or "4:+14251001000" is a phoneNumber, anything else a
 * communicationUser.
 */
#include "ctl_call.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yajl/yajl_gen.h>

#include "acs_client.h"
#include "ctl_output.h"
#include "autoconfig.h" /* PACKAGE_VERSION */
#include "config.h"
#include "json.h"
#include "log.h"
#include "units.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_RESPONSE       65536
#define MAX_IDS            16   /* --target / --participant */
#define MAX_ARG            2048 /* any one argument that goes into a body or path */
#define ENV_CS             "CALLHOOKD_CONNECTION_STRING"

/* Subcommand options, as bits: what was given, what each one accepts. */
enum {
	C_TARGET = 1u << 0,
	C_CALLBACK = 1u << 1,
	C_SOURCE = 1u << 2,
	C_SUBJECT = 1u << 3,
	C_ALT = 1u << 4,
	C_AUDIO = 1u << 5,
	C_LOOP = 1u << 6,
	C_CONTEXT = 1u << 7,
	C_PARTICIPANT = 1u << 8,
	C_RESOURCE = 1u << 9,
};
static const char *const c_names[] = {
    "target", "callback-uri", "source",  "subject",     "alternate-caller-id",
    "audio",  "loop",         "context", "participant", "resource-id"};

struct call {
	const char *config_path, *cs, *api_version, *timeout;
	bool json;
	unsigned given;
	const char *targets[MAX_IDS], *participants[MAX_IDS];
	size_t n_targets, n_participants;
	const char *callback, *source, *subject, *alt, *audio, *context, *resource;
	char **words; /* "call", the subcommand, its arguments */
	int n_words;
};

struct sub {
	const char *name;
	int args;          /* positional arguments after the subcommand */
	unsigned options;  /* C_* it accepts */
	unsigned required; /* C_* it needs */
	int (*build)(const struct call *c, yajl_gen g, char *path, size_t path_size);
};

static void call_usage(FILE *out)
{
	fputs("usage: callhookctl [-c FILE] [--connection-string CS] [--api-version V]\n"
	      "                   [--timeout DURATION] [--format table|json] call SUBCOMMAND ...\n"
	      "  call create --target RAWID [--target RAWID ...] --callback-uri URL\n"
	      "              [--source RAWID] [--subject TEXT] [--alternate-caller-id +NUMBER]\n"
	      "  call hangup CALLID\n"
	      "  call play CALLID --audio URI [--loop] [--context TEXT] [--resource-id ID]\n"
	      "  call cancel CALLID [--context TEXT]\n"
	      "  call invite CALLID --participant RAWID [--participant RAWID ...]\n"
	      "              [--alternate-caller-id +NUMBER] [--context TEXT]\n"
	      "  call remove CALLID PARTICIPANTID\n"
	      "The connection string comes from --connection-string, else $" ENV_CS ",\n"
	      "else [actions] in the -c file.  Exit status: 0 done, 1 the request failed,\n"
	      "2 usage or configuration error.  See callhookctl(1).\n",
	      out);
}

/* ------------------------------------------------------------ bodies */

#define GEN_OK(x)                                                                                  \
	do {                                                                                       \
		if ((x) != yajl_gen_status_ok)                                                     \
			return -1;                                                                 \
	} while (0)

static int gen_str(yajl_gen g, const char *s)
{
	GEN_OK(yajl_gen_string(g, (const unsigned char *)s, strlen(s)));
	return 0;
}

static int gen_kv(yajl_gen g, const char *key, const char *value)
{
	if (value == NULL)
		return 0;
	return gen_str(g, key) < 0 || gen_str(g, value) < 0 ? -1 : 0;
}

static const char *phone_of(const char *raw)
{
	if (strncmp(raw, "4:", 2) == 0)
		return raw + 2;
	return raw[0] == '+' ? raw : NULL;
}

/* {"communicationUser":{"id":RAW}} or {"phoneNumber":{"value":"+..."}} */
static int gen_ident(yajl_gen g, const char *raw)
{
	const char *phone = phone_of(raw);

	GEN_OK(yajl_gen_map_open(g));
	if (gen_str(g, phone != NULL ? "phoneNumber" : "communicationUser") < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (gen_kv(g, phone != NULL ? "value" : "id", phone != NULL ? phone : raw) < 0)
		return -1;
	GEN_OK(yajl_gen_map_close(g));
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

static int gen_alt(yajl_gen g, const char *alt)
{
	if (alt == NULL)
		return 0;
	if (gen_str(g, "alternateCallerId") < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (gen_kv(g, "value", phone_of(alt)) < 0)
		return -1;
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

/* Characters outside RFC 3986's unreserved set are percent-encoded: a call
 * or participant id must stay one path segment. */
static int append_segment(char *path, size_t size, const char *seg)
{
	size_t len = strlen(path);

	for (const unsigned char *p = (const unsigned char *)seg; *p != '\0'; p++) {
		int n;

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			n = snprintf(path + len, size - len, "%c", *p);
		else
			n = snprintf(path + len, size - len, "%%%02X", *p);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
	}
	return 0;
}

static int append(char *path, size_t size, const char *text)
{
	size_t len = strlen(path);
	int n = snprintf(path + len, size - len, "%s", text);

	return n < 0 || (size_t)n >= size - len ? -1 : 0;
}

/* "/calling/calls[/ID[/TAIL[/ID2]]]?api-version=V" */
static int make_path(const struct call *c, char *path, size_t size, const char *id,
                     const char *tail, const char *id2)
{
	path[0] = '\0';
	if (append(path, size, "/calling/calls") < 0)
		return -1;
	if (id != NULL && (append(path, size, "/") < 0 || append_segment(path, size, id) < 0))
		return -1;
	if (tail != NULL && (append(path, size, "/") < 0 || append(path, size, tail) < 0))
		return -1;
	if (id2 != NULL && (append(path, size, "/") < 0 || append_segment(path, size, id2) < 0))
		return -1;
	if (append(path, size, "?api-version=") < 0)
		return -1;
	return append_segment(path, size, c->api_version);
}

static int build_create(const struct call *c, yajl_gen g, char *path, size_t size)
{
	if (make_path(c, path, size, NULL, NULL, NULL) < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (c->source != NULL && (gen_str(g, "source") < 0 || gen_ident(g, c->source) < 0))
		return -1;
	if (gen_str(g, "targets") < 0)
		return -1;
	GEN_OK(yajl_gen_array_open(g));
	for (size_t i = 0; i < c->n_targets; i++)
		if (gen_ident(g, c->targets[i]) < 0)
			return -1;
	GEN_OK(yajl_gen_array_close(g));
	if (gen_kv(g, "subject", c->subject) < 0 || gen_kv(g, "callbackUri", c->callback) < 0 ||
	    gen_alt(g, c->alt) < 0)
		return -1;
	if (gen_str(g, "requestedModalities") < 0)
		return -1;
	GEN_OK(yajl_gen_array_open(g));
	if (gen_str(g, "audio") < 0)
		return -1;
	GEN_OK(yajl_gen_array_close(g));
	if (gen_str(g, "requestedCallEvents") < 0)
		return -1;
	GEN_OK(yajl_gen_array_open(g));
	if (gen_str(g, "participantsUpdated") < 0 || gen_str(g, "dtmfReceived") < 0)
		return -1;
	GEN_OK(yajl_gen_array_close(g));
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

static int build_hangup(const struct call *c, yajl_gen g, char *path, size_t size)
{
	(void)g; /* the seed's Hangup has no body */
	return make_path(c, path, size, c->words[2], "Hangup", NULL);
}

static int build_play(const struct call *c, yajl_gen g, char *path, size_t size)
{
	if (make_path(c, path, size, c->words[2], "PlayAudio", NULL) < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (gen_kv(g, "audioFileUri", c->audio) < 0 || gen_str(g, "loop") < 0)
		return -1;
	GEN_OK(yajl_gen_bool(g, (c->given & C_LOOP) != 0));
	if (gen_kv(g, "operationContext", c->context) < 0 ||
	    gen_kv(g, "resourceId", c->resource) < 0)
		return -1;
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

static int build_cancel(const struct call *c, yajl_gen g, char *path, size_t size)
{
	if (make_path(c, path, size, c->words[2], "CancelMediaProcessing", NULL) < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (gen_kv(g, "operationContext", c->context) < 0)
		return -1;
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

static int build_invite(const struct call *c, yajl_gen g, char *path, size_t size)
{
	if (make_path(c, path, size, c->words[2], "participants", NULL) < 0)
		return -1;
	GEN_OK(yajl_gen_map_open(g));
	if (gen_alt(g, c->alt) < 0 || gen_str(g, "participants") < 0)
		return -1;
	GEN_OK(yajl_gen_array_open(g));
	for (size_t i = 0; i < c->n_participants; i++)
		if (gen_ident(g, c->participants[i]) < 0)
			return -1;
	GEN_OK(yajl_gen_array_close(g));
	if (gen_kv(g, "operationContext", c->context) < 0)
		return -1;
	GEN_OK(yajl_gen_map_close(g));
	return 0;
}

static int build_remove(const struct call *c, yajl_gen g, char *path, size_t size)
{
	(void)g;
	return make_path(c, path, size, c->words[2], "participants", c->words[3]);
}

static const struct sub subs[] = {
    {"create", 0, C_TARGET | C_CALLBACK | C_SOURCE | C_SUBJECT | C_ALT, C_TARGET | C_CALLBACK,
     build_create},
    {"hangup", 1, 0, 0, build_hangup},
    {"play", 1, C_AUDIO | C_LOOP | C_CONTEXT | C_RESOURCE, C_AUDIO, build_play},
    {"cancel", 1, C_CONTEXT, 0, build_cancel},
    {"invite", 1, C_PARTICIPANT | C_ALT | C_CONTEXT, C_PARTICIPANT, build_invite},
    {"remove", 2, 0, 0, build_remove},
};

/* ------------------------------------------------------------ options */

enum {
	OPT_CS = 256,
	OPT_API,
	OPT_TIMEOUT,
	OPT_FORMAT,
	OPT_FOREIGN, /* a journal command's option */
	OPT_BIT = 512,
};

static const struct option options[] = {
    {"config", required_argument, NULL, 'c'},
    {"connection-string", required_argument, NULL, OPT_CS},
    {"api-version", required_argument, NULL, OPT_API},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"target", required_argument, NULL, OPT_BIT + 0},
    {"callback-uri", required_argument, NULL, OPT_BIT + 1},
    {"source", required_argument, NULL, OPT_BIT + 2},
    {"subject", required_argument, NULL, OPT_BIT + 3},
    {"alternate-caller-id", required_argument, NULL, OPT_BIT + 4},
    {"audio", required_argument, NULL, OPT_BIT + 5},
    {"loop", no_argument, NULL, OPT_BIT + 6},
    {"context", required_argument, NULL, OPT_BIT + 7},
    {"participant", required_argument, NULL, OPT_BIT + 8},
    {"resource-id", required_argument, NULL, OPT_BIT + 9},
    {"db", required_argument, NULL, OPT_FOREIGN},
    {"handlers-dir", required_argument, NULL, OPT_FOREIGN},
    {"since", required_argument, NULL, OPT_FOREIGN},
    {"until", required_argument, NULL, OPT_FOREIGN},
    {"call", required_argument, NULL, OPT_FOREIGN},
    {"type", required_argument, NULL, OPT_FOREIGN},
    {"limit", required_argument, NULL, OPT_FOREIGN},
    {"handler", required_argument, NULL, OPT_FOREIGN},
    {"event", required_argument, NULL, OPT_FOREIGN},
    {"all", no_argument, NULL, OPT_FOREIGN},
    {"raw", no_argument, NULL, OPT_FOREIGN},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

bool ctl_call_is_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1 < argc && strcmp(argv[i + 1], "call") == 0;
		if (a[0] != '-' || a[1] == '\0')
			return strcmp(a, "call") == 0;
		if (strcmp(a, "-c") == 0) {
			i++;
			continue;
		}
		if (a[1] != '-' || strchr(a, '=') != NULL)
			continue;
		for (const struct option *o = options; o->name != NULL; o++)
			if (strcmp(a + 2, o->name) == 0 && o->has_arg == required_argument)
				i++;
	}
	return false;
}

static int printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Check one argument that ends up in a body or a path. */
static int check_arg(const char *what, const char *v)
{
	if (*v == '\0')
		return ctl_usage_error("%s is empty", what);
	if (strlen(v) > MAX_ARG)
		return ctl_usage_error("%s is longer than %d bytes", what, MAX_ARG);
	if (!printable(v))
		return ctl_usage_error("%s has a control character", what);
	return 0;
}

static int check_phone(const char *what, const char *v)
{
	const char *p = phone_of(v);
	size_t digits = 0;

	if (p == NULL || p[0] != '+')
		return ctl_usage_error("%s: \"%.60s\" is not a phone number (+ and digits)", what,
		                       v);
	for (const char *d = p + 1; *d != '\0'; d++, digits++)
		if (*d < '0' || *d > '9')
			return ctl_usage_error("%s: \"%.60s\" is not a phone number (+ and digits)",
			                       what, v);
	if (digits < 2 || digits > 15)
		return ctl_usage_error("%s: \"%.60s\" is not a phone number (2 to 15 digits)", what,
		                       v);
	return 0;
}

static int check_ident(const char *what, const char *v)
{
	int rc = check_arg(what, v);

	if (rc != 0)
		return rc;
	if (phone_of(v) != NULL)
		return check_phone(what, v);
	return 0;
}

static int take(struct call *c, unsigned bit, const char *v)
{
	const char *what = c_names[__builtin_ctz(bit)];
	char flag[32];
	int rc;

	snprintf(flag, sizeof(flag), "--%s", what);
	if (bit != C_TARGET && bit != C_PARTICIPANT && (c->given & bit) && bit != C_LOOP)
		return ctl_usage_error("%s given twice", flag);
	c->given |= bit;
	if (bit == C_LOOP)
		return 0;
	rc = (bit == C_TARGET || bit == C_PARTICIPANT || bit == C_SOURCE) ? check_ident(flag, v)
	     : bit == C_ALT ? check_arg(flag, v) || check_phone(flag, v)
	                    : check_arg(flag, v);
	if (rc != 0)
		return CTL_CALL_EXIT_USAGE;
	switch (bit) {
	case C_TARGET:
	case C_PARTICIPANT: {
		const char **list = bit == C_TARGET ? c->targets : c->participants;
		size_t *n = bit == C_TARGET ? &c->n_targets : &c->n_participants;

		if (*n == MAX_IDS)
			return ctl_usage_error("more than %d %s options", MAX_IDS, flag);
		list[(*n)++] = v;
		return 0;
	}
	case C_CALLBACK: {
		struct ch_url u;
		struct ch_error err = {0};

		if (ch_url_parse(v, &u, &err) < 0)
			return ctl_usage_error("--callback-uri: %s", err.message);
		c->callback = v;
		return 0;
	}
	case C_SOURCE:
		c->source = v;
		return 0;
	case C_SUBJECT:
		c->subject = v;
		return 0;
	case C_ALT:
		c->alt = v;
		return 0;
	case C_AUDIO:
		c->audio = v;
		return 0;
	case C_CONTEXT:
		c->context = v;
		return 0;
	default:
		c->resource = v;
		return 0;
	}
}

/* -1: go on; otherwise the exit status. */
static int parse_args(struct call *c, int argc, char **argv)
{
	int opt, rc;

	opterr = 0;
	optind = 1;
	int longindex = -1;

	while ((opt = getopt_long(argc, argv, ":c:hV", options, &longindex)) != -1) {
		const char *as_typed = argv[optind - 1];

		switch (opt) {
		case 'c':
			c->config_path = optarg;
			break;
		case OPT_CS:
			c->cs = optarg;
			break;
		case OPT_API:
			if (check_arg("--api-version", optarg) != 0)
				return CTL_CALL_EXIT_USAGE;
			c->api_version = optarg;
			break;
		case OPT_TIMEOUT:
			c->timeout = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				c->json = true;
			else if (strcmp(optarg, "table") == 0)
				c->json = false;
			else
				return ctl_usage_error("--format: \"%.100s\" is not table or json",
				                       optarg);
			break;
		case OPT_FOREIGN:
			return ctl_usage_error("option --%s does not apply to call",
			                       options[longindex].name);
		case 'V':
			printf("callhookctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			call_usage(stdout);
			return 0;
		case ':':
			return ctl_usage_error("option %.100s needs a value", as_typed);
		case '?':
			if (optopt == OPT_BIT + 6 || optopt == OPT_FOREIGN)
				return ctl_usage_error("option %.100s takes no value", as_typed);
			return ctl_usage_error("unknown option %.100s", as_typed);
		default:
			if ((rc = take(c, 1u << (opt - OPT_BIT), optarg)) != 0)
				return rc;
		}
	}
	c->words = argv + optind;
	c->n_words = argc - optind;
	return -1;
}

/* The subcommand, its arguments and its options; NULL after a usage message. */
static const struct sub *check_sub(const struct call *c, int *rc)
{
	const struct sub *s = NULL;
	unsigned extra, missing;

	if (c->n_words < 2) {
		*rc =
		    ctl_usage_error("call: a subcommand is missing: create, hangup, play, cancel, "
		                    "invite or remove");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(subs[i].name, c->words[1]) == 0)
			s = &subs[i];
	if (s == NULL) {
		*rc = ctl_usage_error(
		    "call: unknown subcommand \"%.100s\": create, hangup, play, cancel, "
		    "invite or remove",
		    c->words[1]);
		return NULL;
	}
	extra = c->given & ~s->options;
	missing = s->required & ~c->given;
	if (extra != 0) {
		*rc = ctl_usage_error("option --%s does not apply to call %s",
		                      c_names[__builtin_ctz(extra)], s->name);
		return NULL;
	}
	if (missing != 0) {
		*rc = ctl_usage_error("call %s: --%s is required", s->name,
		                      c_names[__builtin_ctz(missing)]);
		return NULL;
	}
	if (c->n_words > 2 + s->args) {
		*rc = ctl_usage_error("unexpected argument \"%.100s\"", c->words[2 + s->args]);
		return NULL;
	}
	if (c->n_words < 2 + s->args) {
		*rc = ctl_usage_error("call %s: %s is missing", s->name,
		                      c->n_words == 2 ? "CALLID" : "PARTICIPANTID");
		return NULL;
	}
	for (int i = 2; i < c->n_words; i++) {
		if ((*rc = check_arg(i == 2 ? "CALLID" : "PARTICIPANTID", c->words[i])) != 0)
			return NULL;
	}
	return s;
}

/* ------------------------------------------------------------ sending */

struct target {
	struct ch_acs_credentials creds;
	char api_version[128];
	long timeout_ms;
};

/* Where to send and how long to wait: flags, environment, configuration.
 * err->message is one line; every failure here is a usage error. */
static int resolve_target(const struct call *c, struct target *t, struct ch_error *err)
{
	struct ch_config cfg;
	const struct ch_actions_conf *a = &cfg.actions;
	const char *cs = c->cs != NULL ? c->cs : getenv(ENV_CS);
	int rc = -1;

	ch_config_init(&cfg);
	snprintf(t->api_version, sizeof(t->api_version), "%s", CH_ACTIONS_DEFAULT_API_VERSION);
	t->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (c->config_path != NULL) {
		if (ch_config_load(&cfg, c->config_path, err) < 0)
			goto out;
		if (cs == NULL && !a->configured) {
			ch_error_set(err, 2, "NoConnectionString",
			             "%.200s has no [actions] section and no connection string was "
			             "given",
			             c->config_path);
			goto out;
		}
		/* the daemon's own check: reads connection_string_file, parses */
		if (cs == NULL && ch_config_actions_finish(&cfg, err) < 0)
			goto out;
		if (a->api_version != NULL)
			snprintf(t->api_version, sizeof(t->api_version), "%s", a->api_version);
		if (a->timeout_ms > 0)
			t->timeout_ms = a->timeout_ms;
	}
	if (c->api_version != NULL)
		snprintf(t->api_version, sizeof(t->api_version), "%s", c->api_version);
	if (c->timeout != NULL &&
	    (ch_parse_duration_ms(c->timeout, 3600000, &t->timeout_ms) < 0 || t->timeout_ms <= 0)) {
		ch_error_set(err, 2, "BadTimeout",
		             "--timeout: \"%.60s\" is not a duration from 1ms to 1h", c->timeout);
		goto out;
	}
	if (cs == NULL && c->config_path != NULL) {
		t->creds = a->creds;
	} else if (cs == NULL) {
		ch_error_set(err, 2, "NoConnectionString",
		             "no connection string: give --connection-string, set " ENV_CS
		             ", or -c FILE with [actions] connection_string");
		goto out;
	} else if (ch_acs_parse_connection_string(cs, &t->creds, err) < 0) {
		char line[sizeof(err->message)];

		snprintf(line, sizeof(line), "%s", err->message);
		ch_error_set(
		    err, 2, "BadConnectionString", "%s%s",
		    strncmp(line, "connection string", 17) == 0 ? "" : "connection string: ", line);
		goto out;
	}
	rc = 0;
out:
	ch_config_free(&cfg); /* wipes the key it read */
	return rc;
}

/* Print text from the network on one line: control characters become '?'. */
static void print_clean(FILE *out, const char *s, size_t max)
{
	for (size_t i = 0; s[i] != '\0' && i < max; i++)
		fputc((unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i], out);
}

static const char *json_str(const struct ch_json_doc *doc, const char *key)
{
	return doc != NULL ? ch_json_string(ch_json_get_ci(ch_json_root(doc), key)) : NULL;
}

/* The answer: an error line (exit 1), or what the subcommand prints. */
static int report(const struct call *c, const struct sub *s, const struct ch_http_response *r)
{
	static const struct ch_json_limits limits = {.max_depth = 32, .max_string = 65536};
	struct ch_json_doc *doc = NULL;
	struct ch_error jerr = {0};
	const char *value;
	int rc = 0;

	if (r->body_len > 0)
		ch_json_parse(r->body, r->body_len, &limits, &doc, &jerr);
	if (r->status < 200 || r->status > 299) {
		const char *code = json_str(doc, "code"), *msg = json_str(doc, "message");

		fprintf(stderr, "callhookctl: call %s: HTTP %d", s->name, r->status);
		if (code != NULL) {
			fputs(" ", stderr);
			print_clean(stderr, code, 100);
		}
		fputs(": ", stderr);
		if (msg != NULL)
			print_clean(stderr, msg, 300);
		else
			fputs("the answer has no error message", stderr);
		if (r->retry_after_s >= 0) /* 429, 503: when a script may try again */
			fprintf(stderr, " (retry after %ld s)", r->retry_after_s);
		fputs("\n", stderr);
		rc = CTL_CALL_EXIT_FAILED;
	} else if (c->json) {
		if (r->body_len > 0)
			printf("%s\n", r->body);
	} else if (strcmp(s->name, "create") == 0) {
		if ((value = json_str(doc, "callLegId")) == NULL) {
			fprintf(stderr,
			        "callhookctl: call create: HTTP %d but no callLegId in the "
			        "answer\n",
			        r->status);
			rc = CTL_CALL_EXIT_FAILED;
		} else {
			print_clean(stdout, value, 1024);
			fputs("\n", stdout);
		}
	} else if ((value = json_str(doc, "id")) != NULL && *value != '\0') {
		/* play and cancel: the operation id the result event will carry */
		print_clean(stdout, value, 1024);
		fputs("\n", stdout);
	}
	ch_json_doc_free(doc);
	return rc;
}

static int send_call(const struct call *c, const struct sub *s)
{
	struct target t;
	struct ch_error err = {0};
	struct ch_http_response resp = {0};
	struct call local = *c;
	char path[4096];
	const unsigned char *body = NULL;
	size_t body_len = 0;
	yajl_gen g = NULL;
	int rc;

	if (resolve_target(c, &t, &err) < 0) {
		fprintf(stderr, "callhookctl: %s\n", err.message);
		return CTL_CALL_EXIT_USAGE;
	}
	local.api_version = t.api_version;
	g = yajl_gen_alloc(NULL);
	if (g == NULL) {
		OPENSSL_cleanse(&t.creds, sizeof(t.creds));
		fprintf(stderr, "callhookctl: out of memory\n");
		return CTL_CALL_EXIT_FAILED;
	}
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	if (s->build(&local, g, path, sizeof(path)) < 0) {
		rc = ctl_usage_error("an argument is not valid UTF-8 or too long for the request");
		goto out;
	}
	yajl_gen_get_buf(g, &body, &body_len);
	rc = ch_acs_request(&t.creds, strcmp(s->name, "remove") == 0 ? "DELETE" : "POST", path,
	                    body_len > 0 ? (const char *)body : NULL, body_len, (int)t.timeout_ms,
	                    MAX_RESPONSE, &resp, &err);
	if (rc < 0) {
		fprintf(stderr, "callhookctl: call %s: %s\n", s->name, err.message);
		rc = CTL_CALL_EXIT_FAILED;
		goto out;
	}
	rc = report(c, s, &resp);
out:
	OPENSSL_cleanse(&t.creds, sizeof(t.creds));
	ch_http_response_free(&resp);
	yajl_gen_free(g);
	return rc;
}

int ctl_call_main(int argc, char **argv)
{
	struct call c = {0};
	const struct sub *s;
	int rc;

	if ((rc = parse_args(&c, argc, argv)) >= 0)
		return rc;
	if (c.n_words == 0 || strcmp(c.words[0], "call") != 0)
		return ctl_usage_error(
		    "options of call come after callhookctl, call or its subcommand");
	if ((s = check_sub(&c, &rc)) == NULL)
		return rc;
	/* a TLS peer that hangs up must not kill us with SIGPIPE (httpc.c) */
	signal(SIGPIPE, SIG_IGN);
	ch_log_set_level(CH_LOG_WARN); /* an operator's tool is quiet unless something is wrong */
	rc = send_call(&c, s);
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "callhookctl: cannot write the output: %s\n", strerror(errno));
		rc = CTL_CALL_EXIT_FAILED;
	}
	return rc;
}
