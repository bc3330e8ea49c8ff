/* callhookctl.c - the operator's tool: reports, the journal, dead
 * deliveries, handler backlogs and replays (callhookctl(1)).
 *
 * Options may come before or after the command words ("callhookctl report
 * calls --format json" reads as well as the other order), and every option
 * a command does not use is a usage error that names it: a typo in a
 * script must not silently widen a report or a retry.
 *
 * The journal is opened read-only except by the two commands that write
 * (dead retry, replay), and never created: a wrong --db is an error, not an
 * empty new database.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "autoconfig.h" /* PACKAGE_VERSION */
#include "config.h"
#include "ctl_call.h"
#include "ctl_events.h"
#include "ctl_output.h"
#include "ctl_replay.h"
#include "ctl_report.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   CTL_EXIT_USAGE

/* Option bits: what was given, and what each command accepts. */
enum {
	O_SINCE = 1u << 0,
	O_UNTIL = 1u << 1,
	O_CALL = 1u << 2,
	O_TYPE = 1u << 3,
	O_LIMIT = 1u << 4,
	O_HANDLER = 1u << 5,
	O_EVENT = 1u << 6,
	O_ALL = 1u << 7,
	O_RAW = 1u << 8,
};
/* The long option of each bit, in bit order, for messages. */
static const char *const bit_names[] = {"since",   "until", "call", "type", "limit",
                                        "handler", "event", "all",  "raw"};

struct ctl {
	const char *db_path, *config_path, *handlers_dir;
	struct ctl_print print;
	struct ctl_filter filter;
	bool all, raw;
	unsigned given; /* O_* bits */
	char **words;   /* command words and arguments */
	int n_words;
};

static void usage(FILE *out)
{
	fputs("usage: callhookctl [--db PATH] [-c FILE] [--format table|csv|json] COMMAND ...\n"
	      "commands:\n"
	      "  report calls|participants|dtmf|media|daily [--since T] [--until T] [--call ID]\n"
	      "  events list [--since T] [--until T] [--call ID] [--type PATTERN] [--limit N]\n"
	      "  events show ID [--raw]\n"
	      "  dead list [--handler NAME]\n"
	      "  dead retry [--handler NAME] (--event ID | --all)\n"
	      "  replay --handler NAME [--since T] [--handlers-dir DIR]\n"
	      "  handlers\n"
	      "  call create|hangup|play|cancel|invite|remove ...  (callhookctl call --help)\n"
	      "options:\n"
	      "  --db PATH            journal database (overrides [store] path)\n"
	      "  -c, --config FILE    callhookd configuration to read (callhookd.conf(5))\n"
	      "  --format FORMAT      table (default), csv or json\n"
	      "  --handlers-dir DIR   where replay looks up handler modules\n"
	      "  -V, --version        print the version and exit\n"
	      "  -h, --help           print this help and exit\n"
	      "T is an RFC 3339 date-time or a date YYYY-MM-DD (UTC midnight);\n"
	      "--since is inclusive, --until exclusive.  See callhookctl(1).\n",
	      out);
}

/* YYYY-MM-DD alone means that day's UTC midnight. */
static int parse_time(const char *text, int64_t *us)
{
	char full[40];

	if (strlen(text) == 10 && text[4] == '-' && text[7] == '-') {
		snprintf(full, sizeof(full), "%sT00:00:00Z", text);
		return ch_time_parse(full, strlen(full), us);
	}
	return ch_time_parse(text, strlen(text), us);
}

static int parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int bit_index(unsigned bit)
{
	int i = 0;

	while (bit > 1u) {
		bit >>= 1;
		i++;
	}
	return i;
}

/* The value of an option that takes one (bit is its O_*). */
static int take_value(struct ctl *c, unsigned bit, const char *value)
{
	int64_t n;

	switch (bit) {
	case O_SINCE:
	case O_UNTIL:
		if (parse_time(value, bit == O_SINCE ? &c->filter.since_us : &c->filter.until_us) <
		    0)
			return ctl_usage_error(
			    "--%s: \"%.100s\" is not an RFC 3339 date-time or YYYY-MM-DD",
			    bit_names[bit_index(bit)], value);
		c->filter.has_since |= bit == O_SINCE;
		c->filter.has_until |= bit == O_UNTIL;
		return 0;
	case O_CALL:
		c->filter.call = value;
		return 0;
	case O_TYPE:
		c->filter.type = value;
		return 0;
	case O_HANDLER:
		c->filter.handler = value;
		return 0;
	case O_LIMIT:
		if (parse_int(value, 0, 1000000000, &n) < 0)
			return ctl_usage_error(
			    "--limit: \"%.100s\" is not a count from 0 to 1000000000", value);
		c->filter.limit = (long)n;
		return 0;
	case O_EVENT:
		if (parse_int(value, 1, INT64_MAX, &n) < 0)
			return ctl_usage_error("--event: \"%.100s\" is not a journal id", value);
		c->filter.event = n;
		return 0;
	default:
		return 0;
	}
}

enum { OPT_DB = 256, OPT_FORMAT, OPT_HANDLERS_DIR, OPT_BIT = 512 };

static const struct option long_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, 'c'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"handlers-dir", required_argument, NULL, OPT_HANDLERS_DIR},
    {"since", required_argument, NULL, OPT_BIT + O_SINCE},
    {"until", required_argument, NULL, OPT_BIT + O_UNTIL},
    {"call", required_argument, NULL, OPT_BIT + O_CALL},
    {"type", required_argument, NULL, OPT_BIT + O_TYPE},
    {"limit", required_argument, NULL, OPT_BIT + O_LIMIT},
    {"handler", required_argument, NULL, OPT_BIT + O_HANDLER},
    {"event", required_argument, NULL, OPT_BIT + O_EVENT},
    {"all", no_argument, NULL, OPT_BIT + O_ALL},
    {"raw", no_argument, NULL, OPT_BIT + O_RAW},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* -1: go on; otherwise the exit status. */
static int parse_option(struct ctl *c, int opt, char **argv)
{
	const char *as_typed = argv[optind - 1];

	switch (opt) {
	case OPT_DB:
		c->db_path = optarg;
		return -1;
	case 'c':
		c->config_path = optarg;
		return -1;
	case OPT_HANDLERS_DIR:
		c->handlers_dir = optarg;
		return -1;
	case OPT_FORMAT:
		if (ctl_format_parse(optarg, &c->print.format) < 0)
			return ctl_usage_error("--format: \"%.100s\" is not table, csv or json",
			                       optarg);
		return -1;
	case 'V':
		printf("callhookctl %s\n", PACKAGE_VERSION);
		return 0;
	case 'h':
		usage(stdout);
		return 0;
	case ':':
		return ctl_usage_error("option %.100s needs a value", as_typed);
	case '?':
		if (optopt > 0 && optopt < 128 && optopt != ':' && optopt != '?') {
			char name[3] = {'-', (char)optopt, '\0'};

			return ctl_usage_error("unknown option %s", name);
		}
		for (const struct option *o = long_options; o->name != NULL; o++) {
			if (optopt != 0 && o->val == optopt)
				return ctl_usage_error("option --%s takes no value", o->name);
		}
		return ctl_usage_error("unknown option %.100s", as_typed);
	default: {
		unsigned bit = (unsigned)(opt - OPT_BIT);
		int rc;

		c->given |= bit;
		c->all |= bit == O_ALL;
		c->raw |= bit == O_RAW;
		rc = optarg ? take_value(c, bit, optarg) : 0;
		return rc == 0 ? -1 : rc;
	}
	}
}

static int parse_args(struct ctl *c, int argc, char **argv)
{
	int opt, rc;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:hV", long_options, NULL)) != -1) {
		if ((rc = parse_option(c, opt, argv)) >= 0)
			return rc;
	}
	/* getopt_long moved every non-option word to the end, in order. */
	c->words = argv + optind;
	c->n_words = argc - optind;
	return -1;
}

/* ------------------------------------------------------------ database */

static int check_schema(sqlite3 *db, const char *path, struct ch_error *err)
{
	sqlite3_stmt *st = NULL;
	int version = -1, latest = ch_store_schema_latest();

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version < 0)
		return ch_error_set(err, EXIT_RUNTIME, "Database", "%s: %s", path,
		                    sqlite3_errmsg(db));
	if (version == 0)
		return ch_error_set(err, EXIT_RUNTIME, "Database", "%s is not a callhookd journal",
		                    path);
	if (version < latest)
		return ch_error_set(err, EXIT_RUNTIME, "Database",
		                    "%s has schema version %d, older than this callhookctl (%d): "
		                    "start callhookd once to migrate it",
		                    path, version, latest);
	if (version > latest)
		return ch_error_set(err, EXIT_RUNTIME, "Database",
		                    "%s has schema version %d, newer than this callhookctl (%d)",
		                    path, version, latest);
	return 0;
}

/* Open the journal; err->status is the exit status to use: 2 when there is
 * no such file (a wrong --db or [store] path), 1 for anything else. */
static int open_db(const char *path, bool write, long busy_ms, sqlite3 **out, struct ch_error *err)
{
	int flags = write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	struct stat sb;
	sqlite3 *db = NULL;

	*out = NULL;
	/* sqlite3_open_v2 without SQLITE_OPEN_CREATE fails for a missing file
	 * too, but only stat() tells that case apart for the exit status. */
	if (stat(path, &sb) < 0) {
		int e = errno;

		ch_error_set(err, e == ENOENT ? EXIT_USAGE : EXIT_RUNTIME, "NoJournal",
		             "cannot open the journal %s: %s", path, strerror(e));
		return -1;
	}
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		ch_error_set(err, EXIT_RUNTIME, "Database", "cannot open the journal %s: %s", path,
		             db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	/* The daemon writes while we read (WAL keeps readers unblocked); a
	 * writer here may wait for the daemon's transaction to end. */
	sqlite3_busy_timeout(db, busy_ms > 5000 ? (int)busy_ms : 5000);
	if (check_schema(db, path, err) < 0) {
		sqlite3_close(db);
		return -1;
	}
	if (write && sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK) {
		ch_error_set(err, EXIT_RUNTIME, "Database", "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* ------------------------------------------------------------ commands */

struct command {
	const char *word, *sub; /* "events", "list"; sub NULL: the command has one word */
	unsigned options;       /* O_* bits it accepts */
	int args;               /* positional arguments after the words */
	bool writes;
	int (*run)(struct ctl *c, const struct ch_config *cfg, sqlite3 *db, struct ch_error *err);
};

static int run_events_list(struct ctl *c, const struct ch_config *cfg, sqlite3 *db,
                           struct ch_error *err)
{
	if (!(c->given & O_LIMIT))
		c->filter.limit = 100;
	return ctl_events_list(db, &c->filter, &c->print, err);
}

static int run_events_show(struct ctl *c, const struct ch_config *cfg, sqlite3 *db,
                           struct ch_error *err)
{
	return ctl_events_show(db, c->filter.event, c->raw, &c->print, err);
}

static int run_dead_list(struct ctl *c, const struct ch_config *cfg, sqlite3 *db,
                         struct ch_error *err)
{
	return ctl_dead_list(db, &c->filter, &c->print, err);
}

static int run_dead_retry(struct ctl *c, const struct ch_config *cfg, sqlite3 *db,
                          struct ch_error *err)
{
	long n = 0;

	if (ctl_dead_retry(db, &c->filter, &n, err) < 0)
		return -1;
	printf("%ld dead deliver%s set back to pending\n", n, n == 1 ? "y" : "ies");
	return 0;
}

static int run_replay(struct ctl *c, const struct ch_config *cfg, sqlite3 *db, struct ch_error *err)
{
	return ctl_replay(cfg, db, c->filter.handler, c->filter.has_since ? c->filter.since_us : 0,
	                  err);
}

static int run_handlers(struct ctl *c, const struct ch_config *cfg, sqlite3 *db,
                        struct ch_error *err)
{
	return ctl_handlers(db, &c->print, err);
}

static int run_report(struct ctl *c, const struct ch_config *cfg, sqlite3 *db, struct ch_error *err)
{
	return ctl_report_run(db, ctl_report_find(c->words[1]), &c->filter, &c->print, err);
}

static const struct command commands[] = {
    {"report", "*", O_SINCE | O_UNTIL | O_CALL, 0, false, run_report},
    {"events", "list", O_SINCE | O_UNTIL | O_CALL | O_TYPE | O_LIMIT, 0, false, run_events_list},
    {"events", "show", O_RAW, 1, false, run_events_show},
    {"dead", "list", O_HANDLER, 0, false, run_dead_list},
    {"dead", "retry", O_HANDLER | O_EVENT | O_ALL, 0, true, run_dead_retry},
    {"replay", NULL, O_HANDLER | O_SINCE, 0, true, run_replay},
    {"handlers", NULL, 0, 0, false, run_handlers},
};

/* The command the words name, or NULL after a usage message (*rc). */
static const struct command *find_command(const struct ctl *c, int *rc)
{
	const char *word = c->words[0];
	const char *sub = c->n_words > 1 ? c->words[1] : NULL;
	bool known = false;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(cmd->word, word) != 0)
			continue;
		known = true;
		if (cmd->sub == NULL || (sub != NULL && strcmp(cmd->sub, sub) == 0))
			return cmd;
		if (strcmp(cmd->sub, "*") == 0 && sub != NULL && ctl_report_find(sub) != NULL)
			return cmd;
	}
	if (!known)
		*rc = ctl_usage_error("unknown command \"%.100s\"", word);
	else if (sub == NULL)
		*rc = ctl_usage_error("%s: a subcommand is missing", word);
	else if (strcmp(word, "report") == 0)
		*rc = ctl_usage_error(
		    "unknown report \"%.100s\": calls, participants, dtmf, media or daily", sub);
	else
		*rc = ctl_usage_error("%s: unknown subcommand \"%.100s\"", word, sub);
	return NULL;
}

/* Options and arguments the command takes, and the ones it requires. */
static int check_command(struct ctl *c, const struct command *cmd)
{
	int words = cmd->sub ? 2 : 1;
	unsigned extra = c->given & ~cmd->options;
	int64_t id;

	if (cmd->run == run_report && !ctl_report_takes_call(ctl_report_find(c->words[1])))
		extra |= c->given & O_CALL;
	if (extra != 0)
		return ctl_usage_error("option --%s does not apply to %s%s%s",
		                       bit_names[bit_index(extra & -extra)], c->words[0],
		                       cmd->sub ? " " : "", cmd->sub ? c->words[1] : "");
	if (c->n_words > words + cmd->args)
		return ctl_usage_error("unexpected argument \"%.100s\"",
		                       c->words[words + cmd->args]);
	if (c->n_words < words + cmd->args)
		return ctl_usage_error("%s %s: an argument is missing", c->words[0], c->words[1]);
	if (cmd->run == run_events_show) {
		if (parse_int(c->words[2], 1, INT64_MAX, &id) < 0)
			return ctl_usage_error("events show: \"%.100s\" is not a journal id",
			                       c->words[2]);
		c->filter.event = id;
	}
	if (cmd->run == run_dead_retry && !(c->given & (O_EVENT | O_ALL)))
		return ctl_usage_error("dead retry: say which: --event ID or --all");
	if (cmd->run == run_dead_retry && (c->given & O_EVENT) && (c->given & O_ALL))
		return ctl_usage_error("dead retry: --event and --all exclude each other");
	if (cmd->run == run_replay && !(c->given & O_HANDLER))
		return ctl_usage_error("replay: --handler NAME is required");
	return -1;
}

/* The configuration, for the database path and (replay) the handlers.  No
 * ch_config_finish: it checks the listener and endpoint secrets, which are
 * the daemon's business and may not even be readable by the operator. */
static int load_config(const struct ctl *c, struct ch_config *cfg, struct ch_error *err)
{
	ch_config_init(cfg);
	if (c->config_path != NULL && ch_config_load(cfg, c->config_path, err) < 0)
		return -1;
	if (ch_config_override(cfg, NULL, c->db_path, err) < 0)
		return -1;
	if (c->handlers_dir != NULL && ch_config_set_handlers_dir(cfg, c->handlers_dir, err) < 0)
		return -1;
	return 0;
}

static int run_command(struct ctl *c, const struct command *cmd)
{
	struct ch_config cfg;
	struct ch_error err = {0};
	sqlite3 *db = NULL;
	int rc = 0;

	if (load_config(c, &cfg, &err) < 0) {
		fprintf(stderr, "callhookctl: %s\n", err.message);
		ch_config_free(&cfg);
		return EXIT_USAGE;
	}
	if (open_db(cfg.db_path, cmd->writes, cfg.busy_timeout_ms, &db, &err) < 0)
		rc = err.status == EXIT_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	else if (cmd->run(c, &cfg, db, &err) < 0)
		rc = EXIT_RUNTIME;
	if (rc != 0)
		fprintf(stderr, "callhookctl: %s\n", err.message);
	if (db != NULL && sqlite3_close(db) != SQLITE_OK && rc == 0) {
		fprintf(stderr, "callhookctl: closing the journal: %s\n", sqlite3_errmsg(db));
		rc = EXIT_RUNTIME;
	}
	/* A full disk under a redirected stdout must not look like success. */
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "callhookctl: cannot write the output: %s\n", strerror(errno));
		rc = EXIT_RUNTIME;
	}
	ch_config_free(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = {.print = {.format = CTL_FORMAT_TABLE, .out = stdout}};
	const struct command *cmd;
	int rc = -1;

	/* call talks to a service, not the journal: its own options */
	if (ctl_call_is_command(argc, argv))
		return ctl_call_main(argc, argv);
	if ((rc = parse_args(&c, argc, argv)) >= 0)
		return rc;
	if (c.n_words == 0)
		return ctl_usage_error("a command is missing");
	if ((cmd = find_command(&c, &rc)) == NULL)
		return rc;
	if ((rc = check_command(&c, cmd)) >= 0)
		return rc;
	/* Loading a handler logs at info level; an operator's tool stays quiet
	 * unless something is wrong. */
	ch_log_set_level(CH_LOG_WARN);
	return run_command(&c, cmd);
}
