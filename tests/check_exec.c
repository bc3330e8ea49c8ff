/* check_exec.c - the exec handler module (handlers/exec.c) through the real host.
 *
 * Each test writes small /bin/sh scripts into a temporary directory, points
 * the module's command at one, journals events, runs the dispatcher and reads
 * back what the script recorded (stdin, environment, arguments) and what the
 * host recorded (delivery state, attempts, last_error).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MODULE  BUILD_HANDLERS "/exec.so"
#define SEED    FIXTURES "/seed/"
#define CE      FIXTURES "/cloudevents/"
#define GA_CALL "421f0b00-54a2-4c3b-8d1f-3e6a7b9c0d12"

static char dir[64];

static void make_dir(void)
{
	harness_mkdtemp(dir, sizeof(dir), "check_exec");
}

static void remove_dir(void)
{
	harness_rmdir(dir);
}

/* printf into one of a few rotating static buffers (for option lists). */
static const char *fmt(const char *format, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *format, ...)
{
	static char buf[8][512];
	static int next;
	char *out = buf[next++ % 8];
	va_list ap;

	va_start(ap, format);
	vsnprintf(out, sizeof(buf[0]), format, ap);
	va_end(ap);
	return out;
}

/* dir/name */
static const char *in_dir(const char *name)
{
	return fmt("%s/%s", dir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* A script in dir; every "@D" in body becomes the directory. */
static void script(const char *name, const char *body)
{
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text), "#!/bin/sh\n");

	for (const char *p = body; *p != '\0' && n + 64 < sizeof(text); p++) {
		if (p[0] == '@' && p[1] == 'D') {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", dir);
			p++;
		} else {
			text[n++] = *p;
		}
	}
	text[n] = '\0';
	write_file(in_dir(name), text, 0755);
}

/* The file, NULL when it does not exist (not written by the script). */
static char *read_file(const char *path)
{
	return harness_read_file(path, NULL);
}

/* The env dump (one NAME=value per line) holds exactly one NAME, = want. */
static void assert_env(const char *dump, const char *name, const char *want)
{
	char key[128], line[1024];
	const char *p;

	snprintf(key, sizeof(key), "\n%s=", name);
	p = strstr(dump, key);
	ck_assert_msg(p != NULL, "%s not set", name);
	ck_assert_msg(strstr(p + 1, key) == NULL, "%s set twice", name);
	p += strlen(key);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
	ck_assert_msg(strcmp(line, want) == 0, "%s=\"%s\", want \"%s\"", name, line, want);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Gone, or a zombie waiting for a reaper that is not us (/proc files have
 * no size, so read this one with fgets). */
static bool process_gone(pid_t pid)
{
	char path[64], stat[512] = "";
	FILE *f;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return true;
	if (fgets(stat, sizeof(stat), f) == NULL)
		stat[0] = '\0';
	fclose(f);
	return strstr(stat, ") Z ") != NULL;
}

static void assert_gone_soon(pid_t pid)
{
	for (int i = 0; i < 200 && !process_gone(pid); i++)
		usleep(10000);
	ck_assert_msg(process_gone(pid), "process %d still running", (int)pid);
}

static pid_t read_pid(const char *name)
{
	char *text = read_file(in_dir(name));
	pid_t pid;

	ck_assert_msg(text != NULL, "%s not written", name);
	pid = (pid_t)atoi(text);
	free(text);
	ck_assert_int_gt(pid, 1);
	return pid;
}

/* stdin is the journaled event; the environment carries the envelope, the
 * mapped values and the daemon's own variables (minus spoofed CALLHOOKD_*). */
START_TEST(stdin_and_environment)
{
	struct ch_harness *h;
	char *stdin_copy, *raw, *dump, *env, *time;

	make_dir();
	script("rec.sh", "cat > @D/stdin.$CALLHOOKD_EVENT_ID\n"
	                 "{ echo; env; } > @D/env.$CALLHOOKD_EVENT_ID\n");
	setenv("CHTEST_KEPT", "kept value", 1);
	setenv("CALLHOOKD_EVENT_TYPE", "spoofed", 1);
	const char *opts[] = {fmt("command=%s/rec.sh", dir),
	                      "env=TONE=data.ToneInfo.Tone SEQ=data.toneinfo.sequenceid "
	                      "MISSING=data.NoSuchThing LEG=data.CallLegId",
	                      NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-established.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 2);
	ck_assert_int_eq(harness_int(h, "SELECT COUNT(*) FROM deliveries WHERE state = 'done' "
	                                "AND attempts = 1"),
	                 2);

	stdin_copy = read_file(in_dir("stdin.2"));
	raw = harness_text(h, "SELECT raw FROM events WHERE id = 2");
	ck_assert_ptr_nonnull(stdin_copy);
	ck_assert_str_eq(stdin_copy, raw);
	dump = read_file(in_dir("env.2"));
	ck_assert_ptr_nonnull(dump);
	time = harness_text(h, "SELECT event_time FROM events WHERE id = 2");
	assert_env(dump, "CALLHOOKD_EVENT_TYPE", "Microsoft.Communication.DtmfReceived");
	assert_env(dump, "CALLHOOKD_EVENT_ID", "2");
	assert_env(dump, "CALLHOOKD_EVENT_TIME", time);
	assert_env(dump, "CALLHOOKD_CALL_ID", "471f3600-4e1f-4cd4-9eec-4a484e4cbf00");
	assert_env(dump, "CALLHOOKD_SUBJECT", "callLeg/471f3600-4e1f-4cd4-9eec-4a484e4cbf00/dtmf");
	assert_env(dump, "CALLHOOKD_HANDLER", "exec");
	assert_env(dump, "TONE", "Tone1");
	assert_env(dump, "SEQ", "1");
	assert_env(dump, "MISSING", "");
	assert_env(dump, "LEG", "471f3600-4e1f-4cd4-9eec-4a484e4cbf00");
	assert_env(dump, "CHTEST_KEPT", "kept value");
	if ((env = getenv("PATH")) != NULL)
		assert_env(dump, "PATH", env);
	free(stdin_copy);
	free(raw);
	free(dump);
	free(time);

	/* the other event: no ToneInfo there */
	dump = read_file(in_dir("env.1"));
	ck_assert_ptr_nonnull(dump);
	assert_env(dump, "CALLHOOKD_EVENT_TYPE", "Microsoft.Communication.CallLegStateChanged");
	assert_env(dump, "TONE", "");
	free(dump);
	harness_free(h);
	remove_dir();
}
END_TEST

/* GA CloudEvents: camelCase keys match the same paths; numbers as written,
 * booleans as true/false, objects as their JSON text. */
START_TEST(cloudevents_values)
{
	struct ch_harness *h;
	char *dump;

	make_dir();
	script("rec.sh", "{ echo; env; } > @D/env.$CALLHOOKD_EVENT_ID\n");
	const char *opts[] = {fmt("command=%s/rec.sh", dir),
	                      "env=CONN=data.CallConnectionId CODE=data.ResultInformation.Code "
	                      "OK=data.ok INFO=data.resultInformation",
	                      NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post(h,
	                              "[{\"id\":\"e1\",\"source\":\"calling/callConnections/c9\","
	                              "\"type\":\"Microsoft.Communication.PlayCompleted\","
	                              "\"specversion\":\"1.0\",\"time\":\"2025-06-16T20:52:32Z\","
	                              "\"data\":{\"callConnectionId\":\"c9\",\"ok\":true,"
	                              "\"resultInformation\":{\"code\":200,\"subCode\":0}}}]"),
	                 1);
	ck_assert_int_eq(harness_post_file(h, CE "callconnected.json"), 1);
	ck_assert_int_eq(harness_run(h), 2);
	dump = read_file(in_dir("env.1"));
	ck_assert_ptr_nonnull(dump);
	assert_env(dump, "CONN", "c9");
	assert_env(dump, "CALLHOOKD_CALL_ID", "c9");
	assert_env(dump, "CODE", "200");
	assert_env(dump, "OK", "true");
	assert_env(dump, "INFO", "{\"code\":200,\"subCode\":0}");
	assert_env(dump, "CALLHOOKD_EVENT_TIME", "2025-06-16T20:52:32.000000Z");
	free(dump);
	dump = read_file(in_dir("env.2"));
	ck_assert_ptr_nonnull(dump);
	assert_env(dump, "CALLHOOKD_EVENT_TYPE", "Microsoft.Communication.CallConnected");
	assert_env(dump, "CONN", GA_CALL);
	assert_env(dump, "CALLHOOKD_SUBJECT", "calling/callConnections/" GA_CALL);
	assert_env(dump, "OK", "");
	free(dump);
	harness_free(h);
	remove_dir();
}
END_TEST

/* No shell: ';', '$(...)' and quotes reach the program as plain words. */
START_TEST(no_shell_by_default)
{
	struct ch_harness *h;
	char *args;

	make_dir();
	script("args.sh", "printf '[%s]\\n' \"$@\" > @D/args\n");
	const char *opts[] = {fmt("command=%s/args.sh a;touch %s/pwned $(id) \"x y\" "
	                          "'it''s' back\\ slash \"q\\\"uote\" ''",
	                          dir, dir),
	                      NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	args = read_file(in_dir("args"));
	ck_assert_ptr_nonnull(args);
	ck_assert_str_eq(args, fmt("[a;touch]\n[%s/pwned]\n[$(id)]\n[x y]\n[its]\n[back slash]\n"
	                           "[q\"uote]\n[]\n",
	                           dir));
	ck_assert_int_ne(access(in_dir("pwned"), F_OK), 0);
	free(args);
	harness_free(h);
	remove_dir();
}
END_TEST

START_TEST(shell_yes)
{
	struct ch_harness *h;
	char *out;

	make_dir();
	const char *opts[] = {fmt("command=echo \"$CALLHOOKD_EVENT_TYPE $TONE\" > %s/shell.out; "
	                          "test -n \"$CALLHOOKD_EVENT_ID\"",
	                          dir),
	                      "shell=yes", "env=TONE=data.ToneInfo.Tone", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	out = read_file(in_dir("shell.out"));
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "Microsoft.Communication.DtmfReceived Tone1\n");
	free(out);
	harness_free(h);
	remove_dir();
}
END_TEST

/* Non-zero exit: retried (the harness retries at once, max 3 attempts), the
 * status and the first output line in last_error; fixed script + replay: done. */
START_TEST(exit_status_then_fixed)
{
	struct ch_harness *h;

	make_dir();
	script("job.sh", "echo 'first line of trouble'\necho second >&2\nexit 3\n");
	const char *opts[] = {fmt("command=%s/job.sh", dir), NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	harness_run(h);
	harness_assert_text(h, "SELECT state FROM deliveries", "dead");
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 3);
	harness_assert_text(h, "SELECT last_error FROM deliveries",
	                    "exit status 3: first line of trouble");

	script("job.sh", "cat > /dev/null\nexit 0\n");
	ck_assert_int_eq(harness_replay(h), 1);
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 1);
	harness_free(h);
	remove_dir();
}
END_TEST

/* A command that fails once and then works: the retry makes it done. */
START_TEST(retry_succeeds)
{
	struct ch_harness *h;

	make_dir();
	script("flaky.sh", "n=$(cat @D/count 2>/dev/null || echo 0)\n"
	                   "n=$((n + 1))\necho $n > @D/count\n"
	                   "[ $n -ge 2 ] || { echo \"not yet ($n)\"; exit 75; }\n");
	const char *opts[] = {fmt("command=%s/flaky.sh", dir), NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 2);
	harness_free(h);
	remove_dir();
}
END_TEST

START_TEST(killed_by_signal)
{
	struct ch_harness *h;

	make_dir();
	script("die.sh", "echo dying\nkill -9 $$\n");
	const char *opts[] = {fmt("command=%s/die.sh", dir), NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	harness_run(h);
	harness_assert_text(h, "SELECT last_error FROM deliveries", "killed by signal 9: dying");
	harness_free(h);
	remove_dir();
}
END_TEST

/* 300 ms timeout on `sleep 60` (and a grandchild): the whole process group
 * is killed and reaped, each attempt ends in well under a second. */
START_TEST(timeout_kills_group)
{
	struct ch_harness *h;
	char *error;
	double t0, elapsed;

	make_dir();
	script("slow.sh",
	       "sleep 60 &\necho $! > @D/grandchild\necho $$ > @D/child\nexec sleep 60\n");
	const char *opts[] = {fmt("command=%s/slow.sh", dir), "timeout=300ms", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	t0 = now_s();
	harness_run(h);
	elapsed = now_s() - t0;
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 3);
	ck_assert_msg(elapsed >= 0.9 && elapsed < 6.0, "3 attempts took %.2f s", elapsed);
	error = harness_text(h, "SELECT last_error FROM deliveries");
	ck_assert_ptr_nonnull(error);
	ck_assert_msg(strncmp(error, "timed out after 300 ms", 22) == 0, "%s", error);
	free(error);
	assert_gone_soon(read_pid("child"));
	assert_gone_soon(read_pid("grandchild"));
	harness_free(h);
	remove_dir();
}
END_TEST

/* A child that ignores SIGTERM gets SIGKILL after the 2 s grace.  Only the
 * first attempt hangs (marker file), so the test costs one grace period. */
START_TEST(sigterm_ignored_then_sigkill)
{
	struct ch_harness *h;
	double t0, elapsed;

	make_dir();
	script("stubborn.sh", "[ -e @D/marker ] && exit 0\ntouch @D/marker\necho $$ > @D/child\n"
	                      "trap '' TERM\nwhile :; do sleep 0.05; done\n");
	const char *opts[] = {fmt("command=%s/stubborn.sh", dir), "timeout=200ms", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	t0 = now_s();
	ck_assert_int_eq(harness_run(h), 1);
	elapsed = now_s() - t0;
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	ck_assert_int_eq(harness_int(h, "SELECT attempts FROM deliveries"), 2);
	ck_assert_msg(elapsed >= 2.1 && elapsed < 8.0, "took %.2f s", elapsed);
	assert_gone_soon(read_pid("child"));
	harness_free(h);
	remove_dir();
}
END_TEST

/* A 200 KB event to a command that never reads stdin: EPIPE is no error,
 * and this (test) process, which does not ignore SIGPIPE, survives. */
START_TEST(child_ignores_stdin)
{
	struct ch_harness *h;
	size_t n = 200 * 1024;
	char *body = malloc(n + 512), *p;

	ck_assert_ptr_nonnull(body);
	ck_assert(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	p = body + sprintf(body, "[{\"id\":\"big\",\"source\":\"calling/callConnections/c1\","
	                         "\"type\":\"Microsoft.Communication.PlayCompleted\","
	                         "\"specversion\":\"1.0\",\"time\":\"2025-06-16T20:52:32Z\","
	                         "\"data\":{\"callConnectionId\":\"c1\",\"blob\":[");
	for (size_t i = 0; i < n / 1024; i++)
		p += sprintf(p, "%s\"%01000d\"", i ? "," : "", 0);
	strcpy(p, "]}}]");
	const char *opts[] = {"command=true", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post(h, body), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	free(body);
	harness_free(h);
}
END_TEST

/* Far more output than a pipe holds: drained, not deadlocked; max_output
 * bounds what last_error quotes. */
START_TEST(large_output_bounded)
{
	struct ch_harness *h;

	make_dir();
	script("chatty.sh", "i=0\nwhile [ $i -lt 3000 ]; do\n"
	                    "echo \"line $i ..............................................\"\n"
	                    "i=$((i + 1))\ndone\nexit 4\n");
	const char *opts[] = {fmt("command=%s/chatty.sh", dir), "max_output=10", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	harness_run(h);
	harness_assert_text(h, "SELECT last_error FROM deliveries", "exit status 4: line 0 ...");
	harness_free(h);
	remove_dir();
}
END_TEST

/* workdir: the command runs there, and a relative program is found there. */
START_TEST(workdir_and_relative_program)
{
	struct ch_harness *h;
	char *pwd;

	make_dir();
	script("here.sh", "pwd > @D/pwd.out\n");
	const char *opts[] = {"command=./here.sh", fmt("workdir=%s", dir), NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_run(h), 1);
	harness_assert_text(h, "SELECT state FROM deliveries", "done");
	pwd = read_file(in_dir("pwd.out"));
	ck_assert_ptr_nonnull(pwd);
	ck_assert_int_eq(strncmp(pwd, dir, strlen(dir)), 0);
	ck_assert_str_eq(pwd + strlen(dir), "\n");
	free(pwd);
	harness_free(h);
	remove_dir();
}
END_TEST

/* While the command runs nobody holds the journal's write lock, for every
 * event of a batch: a forked prober takes BEGIN IMMEDIATE with no busy
 * timeout while each command waits for it.  (The intake must never wait on
 * a slow command.) */
static void probe_writes(const char *db_path, int n_events)
{
	for (int id = 1; id <= n_events; id++) {
		char running[128], result[128];
		sqlite3 *db = NULL;
		FILE *f;
		int rc = -1;

		snprintf(running, sizeof(running), "%s/running.%d", dir, id);
		snprintf(result, sizeof(result), "%s/probe.%d", dir, id);
		for (int i = 0; i < 500 && access(running, F_OK) != 0; i++)
			usleep(10000);
		if (sqlite3_open(db_path, &db) == SQLITE_OK) {
			sqlite3_busy_timeout(db, 0);
			rc = sqlite3_exec(db, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL);
		}
		sqlite3_close(db);
		if ((f = fopen(result, "w")) != NULL) {
			fputs(rc == SQLITE_OK ? "free" : rc == SQLITE_BUSY ? "locked" : "error", f);
			fclose(f);
		}
		snprintf(result, sizeof(result), "%s/probed.%d", dir, id);
		fclose(fopen(result, "w"));
	}
	_exit(0);
}

START_TEST(no_write_lock_while_running)
{
	struct ch_harness *h;
	pid_t prober;
	int status;

	make_dir();
	script("wait.sh", "touch @D/running.$CALLHOOKD_EVENT_ID\n"
	                  "while [ ! -e @D/probed.$CALLHOOKD_EVENT_ID ]; do sleep 0.01; done\n");
	const char *opts[] = {fmt("command=%s/wait.sh", dir), "timeout=10s", NULL};
	h = harness_new(MODULE, opts);
	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-established.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "dtmfreceived.json"), 1);
	ck_assert_int_eq(harness_post_file(h, SEED "calllegstate-terminated.json"), 1);
	if ((prober = fork()) == 0)
		probe_writes(harness_path(h), 3);
	ck_assert_int_gt(prober, 0);
	ck_assert_int_eq(harness_run(h), 3);
	ck_assert_int_eq(waitpid(prober, &status, 0), prober);
	for (int id = 1; id <= 3; id++) {
		char *result = read_file(fmt("%s/probe.%d", dir, id));

		ck_assert_msg(result != NULL && strcmp(result, "free") == 0,
		              "event %d: the journal was %s while the command ran", id,
		              result ? result : "(not probed)");
		free(result);
	}
	harness_free(h);
	remove_dir();
}
END_TEST

static void assert_init_fails(const char *const *opts, const char *needle)
{
	harness_assert_init_fails(MODULE, opts, needle, NULL);
}

/* Typos stop start-up, with a message naming what is wrong. */
START_TEST(bad_config_fails_init)
{
	make_dir();
	write_file(in_dir("notexec.sh"), "#!/bin/sh\n", 0644);
	{
		const char *o[] = {"command=/nonexistent/prog --flag", NULL};
		assert_init_fails(o, "/nonexistent/prog: not an executable file");
	}
	{
		const char *o[] = {"command=no-such-program-callhookd arg", NULL};
		assert_init_fails(o, "no-such-program-callhookd: not found in PATH");
	}
	{
		const char *o[] = {fmt("command=%s/notexec.sh", dir), NULL};
		assert_init_fails(o, "notexec.sh: not an executable file");
	}
	{
		const char *o[] = {"command=/bin/echo 'unterminated", NULL};
		assert_init_fails(o, "unterminated ' quote");
	}
	{
		const char *o[] = {"command=/bin/true", "env=TONE", NULL};
		assert_init_fails(o, "env: expected NAME=path, not \"TONE\"");
	}
	{
		const char *o[] = {"command=/bin/true", "env=1X=data.a", NULL};
		assert_init_fails(o, "env: expected NAME=path");
	}
	{
		const char *o[] = {"command=/bin/true", "workdir=/nonexistent-callhookd", NULL};
		assert_init_fails(o, "workdir: /nonexistent-callhookd");
	}
	{
		const char *o[] = {"command=/bin/true", "max_output=-1", NULL};
		assert_init_fails(o, "max_output");
	}
	{
		/* through the config parser, as in the daemon: a value of blanks is "" */
		const char *o[] = {"command=   ", NULL};
		assert_init_fails(o, "command: required");
	}
	remove_dir();
}
END_TEST

static Suite *exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("exec");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stdin_and_environment);
	tcase_add_test(tc, cloudevents_values);
	tcase_add_test(tc, no_shell_by_default);
	tcase_add_test(tc, shell_yes);
	tcase_add_test(tc, exit_status_then_fixed);
	tcase_add_test(tc, retry_succeeds);
	tcase_add_test(tc, killed_by_signal);
	tcase_add_test(tc, timeout_kills_group);
	tcase_add_test(tc, sigterm_ignored_then_sigkill);
	tcase_add_test(tc, child_ignores_stdin);
	tcase_add_test(tc, large_output_bounded);
	tcase_add_test(tc, workdir_and_relative_program);
	tcase_add_test(tc, no_write_lock_while_running);
	tcase_add_test(tc, bad_config_fails_init);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(exec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
