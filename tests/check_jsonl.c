/* check_jsonl.c - the jsonl handler module (handlers/jsonl.c) through the real host.
 *
 * Each test journals bodies with the daemon's intake path, runs the
 * dispatcher and reads the file back: one line per event, each line valid
 * JSON and byte for byte the journaled event minus its CR/LF bytes.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dispatch.h"
#include "harness.h"
#include "json.h"
#include "plugin.h"

#define MODULE BUILD_HANDLERS "/jsonl.so"
#define SEED   FIXTURES "/seed/"
#define CE     FIXTURES "/cloudevents/"

static const char *const seed_files[] = {
    SEED "calllegstate-establishing.json",
    SEED "calllegstate-established.json",
    SEED "dtmfreceived.json",
    SEED "inviteparticipantresult.json",
    SEED "participantsupdated.json",
    SEED "playaudioresult-completed.json",
    SEED "playaudioresult-cancelled.json",
    SEED "calllegstate-terminating.json",
    SEED "calllegstate-terminated.json",
    NULL,
};

/* Pretty-printed with CRLF, and a string holding escaped newlines. */
static const char crlf_body[] =
    "[\r\n  {\r\n    \"id\": \"crlf-1\",\r\n    \"source\": \"calling/callConnections/c1\",\r\n"
    "    \"type\": \"Microsoft.Communication.PlayCompleted\",\r\n    \"specversion\": \"1.0\",\r\n"
    "    \"time\": \"2025-06-16T20:52:32Z\",\r\n"
    "    \"data\": {\"callConnectionId\": \"c1\", \"text\": \"line1\\nline2\\r\\n\"}\r\n  }\r\n]";

struct lines {
	char *buf; /* the whole file, '\n' replaced by NUL (owned) */
	char **line;
	size_t n;
};

static char tmpdir[64];

static void make_tmpdir(void)
{
	harness_mkdtemp(tmpdir, sizeof(tmpdir), "check_jsonl");
}

static void remove_tmpdir(void)
{
	harness_rmdir(tmpdir);
}

/* "path=<tmpdir>/name" for the options list (static storage: one per test). */
static const char *path_option(const char *name)
{
	static char opt[160];

	snprintf(opt, sizeof(opt), "path=%s/%s", tmpdir, name);
	return opt;
}

/* Split a file into lines; every line must end with '\n'. */
static struct lines read_lines(const char *path)
{
	struct lines l = {0};
	size_t size, start = 0;

	l.buf = harness_read_file(path, &size);
	ck_assert_msg(l.buf != NULL, "%s: %s", path, strerror(errno));
	l.line = calloc(size + 1, sizeof(char *));
	ck_assert_ptr_nonnull(l.line);
	ck_assert_msg(size == 0 || l.buf[size - 1] == '\n', "%s: last line unterminated", path);
	for (size_t i = 0; i < size; i++) {
		if (l.buf[i] != '\n')
			continue;
		l.buf[i] = '\0';
		l.line[l.n++] = l.buf + start;
		start = i + 1;
	}
	return l;
}

static void free_lines(struct lines *l)
{
	free(l->buf);
	free(l->line);
}

static char *journal_raw(struct ch_harness *h, int64_t id)
{
	char sql[80];
	char *raw;

	snprintf(sql, sizeof(sql), "SELECT raw FROM events WHERE id = %lld", (long long)id);
	raw = harness_text(h, sql);
	ck_assert_msg(raw != NULL, "no journal row %lld", (long long)id);
	return raw;
}

/* What a line must be: the journaled text without CR and LF bytes. */
static char *one_line(const char *raw)
{
	char *out = malloc(strlen(raw) + 1);
	size_t n = 0;

	ck_assert_ptr_nonnull(out);
	for (; *raw != '\0'; raw++)
		if (*raw != '\n' && *raw != '\r')
			out[n++] = *raw;
	out[n] = '\0';
	return out;
}

static struct ch_json_doc *parse_line(const char *line)
{
	struct ch_json_limits limits = {.max_depth = 64, .max_string = 1 << 20};
	struct ch_json_doc *doc = NULL;
	struct ch_error err;

	ck_assert_msg(ch_json_parse(line, strlen(line), &limits, &doc, &err) == 0,
	              "not JSON (%s): %s", err.message, line);
	return doc;
}

/* Line i is journal row ids[i], as one line of valid JSON. */
static void assert_line_is_event(struct ch_harness *h, const char *line, int64_t id)
{
	char *raw = journal_raw(h, id);
	char *want = one_line(raw);

	ch_json_doc_free(parse_line(line));
	ck_assert_msg(strcmp(line, want) == 0, "line for event %lld:\n got %s\nwant %s",
	              (long long)id, line, want);
	free(raw);
	free(want);
}

START_TEST(every_event_one_line)
{
	struct ch_harness *h;
	struct lines l;
	char file[128];
	size_t n_events = 0;

	make_tmpdir();
	const char *opts[] = {path_option("events.jsonl"), NULL};
	h = harness_new(MODULE, opts);
	n_events += (size_t)harness_post_files(h, seed_files);
	n_events += (size_t)harness_post_file(h, CE "batch.json");
	n_events += (size_t)harness_post_file(h, CE "callconnected.json");
	n_events += (size_t)harness_post_file(h, CE "unknown-type.json"); /* "*" takes it too */
	n_events += (size_t)harness_post(h, crlf_body);
	ck_assert_int_ge(n_events, 14);
	ck_assert_int_eq(harness_run(h), (int)n_events);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done'"),
	                 (int64_t)n_events);

	snprintf(file, sizeof(file), "%s/events.jsonl", tmpdir);
	l = read_lines(file);
	ck_assert_int_eq(l.n, n_events);
	for (size_t i = 0; i < l.n; i++) /* journal ids start at 1, in arrival order */
		assert_line_is_event(h, l.line[i], (int64_t)i + 1);
	/* the seed is pretty-printed: its line kept the content, lost the newlines */
	ck_assert_ptr_nonnull(strstr(l.line[2], "\"Tone\": \"Tone1\""));
	free_lines(&l);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

/* Escaped newlines inside strings are content and survive; CRLF is gone. */
START_TEST(crlf_and_escaped_newlines)
{
	struct ch_harness *h;
	struct ch_json_doc *doc;
	struct lines l;
	char file[128];

	make_tmpdir();
	const char *opts[] = {path_option("crlf.jsonl"), NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post(h, crlf_body), 1);
	ck_assert_int_eq(harness_run(h), 1);
	snprintf(file, sizeof(file), "%s/crlf.jsonl", tmpdir);
	l = read_lines(file);
	ck_assert_int_eq(l.n, 1);
	ck_assert_ptr_null(strchr(l.line[0], '\r'));
	doc = parse_line(l.line[0]);
	ck_assert_str_eq(ch_json_string(ch_json_path(ch_json_root(doc), "data.text")),
	                 "line1\nline2\r\n");
	ck_assert_str_eq(ch_json_string(ch_json_path(ch_json_root(doc), "id")), "crlf-1");
	ch_json_doc_free(doc);
	free_lines(&l);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

START_TEST(patterns_honoured)
{
	struct ch_harness *h;
	struct lines l;
	char file[128];

	make_tmpdir();
	const char *opts[] = {path_option("dtmf.jsonl"),
	                      "events=Microsoft.Communication.DtmfReceived", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-established.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, CE "callconnected.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	snprintf(file, sizeof(file), "%s/dtmf.jsonl", tmpdir);
	l = read_lines(file);
	ck_assert_int_eq(l.n, 1);
	assert_line_is_event(h, l.line[0], 2);
	free_lines(&l);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

/* envelope = wrapped: {"journal_id":N,"event":<the event>} */
START_TEST(wrapped_envelope)
{
	struct ch_harness *h;
	struct lines l;
	char file[128];

	make_tmpdir();
	const char *opts[] = {path_option("wrapped.jsonl"), "envelope=wrapped", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, CE "callconnected.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 2);
	snprintf(file, sizeof(file), "%s/wrapped.jsonl", tmpdir);
	l = read_lines(file);
	ck_assert_int_eq(l.n, 2);
	for (size_t i = 0; i < l.n; i++) {
		struct ch_json_doc *doc = parse_line(l.line[i]);
		const struct ch_json *id = ch_json_get(ch_json_root(doc), "journal_id");
		const struct ch_json *ev = ch_json_get(ch_json_root(doc), "event");
		char *raw = journal_raw(h, (int64_t)i + 1);
		char *want = one_line(raw);
		char num[24];

		snprintf(num, sizeof(num), "%zu", i + 1);
		ck_assert(id != NULL && id->type == CH_JSON_NUMBER);
		ck_assert_str_eq(id->u.str.ptr, num);
		ck_assert(ev != NULL && ev->type == CH_JSON_OBJECT);
		ck_assert_int_eq(ev->end - ev->start, strlen(want));
		ck_assert(memcmp(l.line[i] + ev->start, want, strlen(want)) == 0);
		free(raw);
		free(want);
		ch_json_doc_free(doc);
	}
	free_lines(&l);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

/* At-least-once, as documented: a replay appends the events again. */
START_TEST(replay_appends_again)
{
	struct ch_harness *h;
	struct lines l;
	char file[128];

	make_tmpdir();
	const char *opts[] = {path_option("replay.jsonl"), "fsync=yes", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 0); /* deduped */
	ck_assert_int_eq(harness_run(h), 1);
	ck_assert_int_eq(harness_replay(h), 1);
	snprintf(file, sizeof(file), "%s/replay.jsonl", tmpdir);
	l = read_lines(file);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.line[0], l.line[1]);
	assert_line_is_event(h, l.line[1], 1);
	free_lines(&l);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

START_TEST(created_mode_0640)
{
	struct ch_harness *h;
	struct stat st;
	char file[128];

	make_tmpdir();
	umask(022);
	const char *opts[] = {path_option("mode.jsonl"), NULL};
	h = harness_new(MODULE, opts);
	snprintf(file, sizeof(file), "%s/mode.jsonl", tmpdir);
	ck_assert_int_eq(stat(file, &st), 0); /* created by init, before any event */
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(st.st_size, 0);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

/* Run a second instance ("rot") on the harness's journal until it is idle. */
static void run_plugin(struct ch_harness *h, struct ch_plugin *p)
{
	struct ch_dispatch_options o = {.max_attempts = 3, .batch = 4};
	struct ch_error err;
	long did = 1;

	for (int i = 0; i < 1000 && did > 0; i++)
		ck_assert_msg(ch_dispatch_step(harness_db(h), p, &o, &did, &err) == 0, "%s",
		              err.message);
}

/* logrotate: rename the file, SIGHUP (reopen), new lines go to a new file.
 * The harness has no reopen hook, so this test loads its own instance. */
START_TEST(reopen_after_rename)
{
	struct ch_harness *h;
	struct ch_plugin *p;
	struct ch_error err;
	struct lines old, cur;
	char file[128], rotated[128], value[160];

	make_tmpdir();
	snprintf(file, sizeof(file), "%s/rot.jsonl", tmpdir);
	snprintf(rotated, sizeof(rotated), "%s/rot.jsonl.1", tmpdir);
	snprintf(value, sizeof(value), "path=%s", file);
	const char *opts[] = {path_option("unused.jsonl"), NULL};
	const char *rot_opts[] = {value, NULL};
	h = harness_new(MODULE, opts);
	p = harness_load_plugin(MODULE, "rot", rot_opts, harness_db(h));
	ck_assert_int_eq(ch_dispatch_register(harness_db(h), p, &err), 0);
	ck_assert_ptr_nonnull(p->desc->reopen);

	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-established.json"), 1);
	run_plugin(h, p);
	ck_assert_int_eq(rename(file, rotated), 0);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	run_plugin(h, p); /* not reopened yet: still the renamed file */
	p->desc->reopen(p->state);
	ck_assert_int_eq(access(file, F_OK), 0); /* reopen creates the path again */
	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-terminated.json"), 1);
	run_plugin(h, p);

	old = read_lines(rotated);
	cur = read_lines(file);
	ck_assert_int_eq(old.n, 2);
	assert_line_is_event(h, old.line[0], 1);
	assert_line_is_event(h, old.line[1], 2);
	ck_assert_int_eq(cur.n, 1);
	assert_line_is_event(h, cur.line[0], 3);
	free_lines(&old);
	free_lines(&cur);
	ch_plugin_unload(p);
	harness_free(h);
	remove_tmpdir();
}
END_TEST

/* A path that cannot be opened stops start-up, naming the path. */
START_TEST(unopenable_path_fails_init)
{
	const char *opts[] = {"path=/nonexistent-callhookd-dir/events.jsonl", NULL};

	harness_assert_init_fails(MODULE, opts, "/nonexistent-callhookd-dir/events.jsonl",
	                          "No such file or directory", NULL);
}
END_TEST

START_TEST(bad_options_fail_init)
{
	const char *bad_envelope[] = {"path=/dev/null", "envelope=cooked", NULL};
	const char *no_path[] = {NULL};

	harness_assert_init_fails(MODULE, bad_envelope, "cooked", NULL);
	harness_assert_init_fails(MODULE, no_path, "path", NULL);
}
END_TEST

/* A failing write is a retry, with the path and errno text as last_error;
 * the harness retries at once, so it ends dead after max_attempts. */
START_TEST(write_failure_retries)
{
	const char *opts[] = {"path=/dev/full", NULL};
	struct ch_harness *h = harness_new(MODULE, opts);
	char *error;

	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	harness_run(h);
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 3);
	error = harness_text(h, "SELECT last_error FROM deliveries");
	ck_assert_ptr_nonnull(error);
	ck_assert_str_eq(error, "write /dev/full: No space left on device");
	free(error);
	error = harness_text(h, "SELECT state FROM deliveries");
	ck_assert_str_eq(error, "dead");
	free(error);
	harness_free(h);
}
END_TEST

static Suite *jsonl_suite(void)
{
	Suite *s = suite_create("jsonl");
	TCase *tc = tcase_create("jsonl");

	tcase_add_test(tc, every_event_one_line);
	tcase_add_test(tc, crlf_and_escaped_newlines);
	tcase_add_test(tc, patterns_honoured);
	tcase_add_test(tc, wrapped_envelope);
	tcase_add_test(tc, replay_appends_again);
	tcase_add_test(tc, created_mode_0640);
	tcase_add_test(tc, reopen_after_rename);
	tcase_add_test(tc, unopenable_path_fails_init);
	tcase_add_test(tc, bad_options_fail_init);
	tcase_add_test(tc, write_failure_retries);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jsonl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
