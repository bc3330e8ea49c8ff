/* exec.c - run a configured command for every matching event.
 *
 * What webhook relays (adnanh/webhook and friends) do, behind the journal:
 * the command gets the event's raw JSON on stdin and its envelope fields in
 * CALLHOOKD_* environment variables; exit status 0 means done, anything else
 * (or a timeout) means "try again later" with the host's backoff.  Delivery is
 * at least once, so the command must tolerate seeing an event twice
 * (CALLHOOKD_EVENT_ID is the journal id: key on it).
 *
 * No shell unless shell = yes: the command is split into words here (quotes
 * and backslashes as in sh, nothing else), so an event can never inject shell
 * syntax, and a typo in the program name stops start-up.
 *
 * The descriptor asks for a worker thread of its own (CH_HANDLER_OWN_THREAD):
 * a command may take seconds and must not stall the other handlers.  This
 * module never calls host->db(), so it holds no database lock while a child
 * runs.  handle() of one instance is never concurrent, so an instance runs one
 * child at a time; separate [handler NAME] sections with module = exec each
 * get their own thread and run in parallel.
 *
 * Children: spawned with posix_spawn in a process group of their own, stdin a
 * pipe we feed without blocking, stdout and stderr one pipe we drain (keeping
 * max_output bytes) so a chatty child never blocks on a full pipe.  We wait on
 * a pidfd (or, without one, poll waitpid every few ms); no SIGCHLD handler is
 * needed.  On timeout the whole group gets SIGTERM, then SIGKILL 2 s later.
 * Background processes a command leaves behind are not waited for.
 *
 * SIGPIPE: callhookd ignores it process-wide (src/daemon.c), but the module
 * must not depend on that (callhookctl replay, tests), so the stdin write
 * blocks SIGPIPE in this thread and swallows the one it may raise.  The child
 * gets every signal disposition reset and an empty mask.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* posix_spawn_file_actions_add{chdir,closefrom}_np, pipe2 */
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "module_common.h"

extern char **environ;

#define KILL_GRACE_MS  2000    /* SIGTERM to SIGKILL */
#define NO_PIDFD_TICK  10      /* ms between waitpid polls without a pidfd */
#define MAX_OUTPUT_CAP 1048576 /* largest max_output accepted */
#define ERROR_LINE_MAX 200     /* output bytes quoted in last_error */
#define DRAIN_READS    64      /* 16 KiB reads per wake-up, before looking at the clock */

static const struct ch_host *host;

struct env_map {
	char *name; /* environment variable (owned) */
	char *path; /* value path relative to the event object (owned) */
};

/* A NULL-terminated vector of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

struct exec_state {
	struct ch_context *ctx;
	struct strv argv; /* what the child gets as argv */
	char *prog;       /* the file to execute, resolved at init (owned) */
	char *workdir;    /* NULL: the daemon's own */
	int64_t timeout_ms;
	size_t max_output;
	struct env_map *env;
	size_t n_env;
	struct strv base_env; /* the daemon's environment minus what we set */
	char *out;            /* captured output, max_output + 1 bytes (owned) */
};

/* One running child. */
struct child {
	pid_t pid;
	int pidfd;  /* -1 without pidfd support */
	int in_fd;  /* our end of its stdin, -1 once closed */
	int out_fd; /* our end of its stdout+stderr, -1 at EOF */
	const char *input;
	size_t input_len, input_off;
	char *cap; /* captured output */
	size_t cap_len, cap_max;
	bool exited;
	int status;
};

static const struct ch_option options[] = {
    {"command", CH_OPT_STRING, NULL, true,
     "program and arguments, split like sh words (quotes, backslash), no shell"},
    {"shell", CH_OPT_BOOL, "no", false, "run the command with /bin/sh -c instead"},
    {"timeout", CH_OPT_DURATION, "30s", false,
     "kill the command's process group and retry after this long"},
    {"env", CH_OPT_STRING, NULL, false,
     "space-separated NAME=path: set NAME to the event's value at path"},
    {"workdir", CH_OPT_STRING, NULL, false, "directory the command runs in"},
    {"max_output", CH_OPT_INT, "4096", false,
     "bytes of stdout+stderr kept for the log and last_error"},
    {NULL, CH_OPT_STRING, NULL, false, NULL},
};

static const char *const default_events[] = {"*", NULL};

static int out_of_memory(struct ch_context *ctx)
{
	host->set_error(ctx, "out of memory");
	return -1;
}

/* --- string vectors ------------------------------------------------- */

static bool strv_push(struct strv *s, char *str)
{
	if (str == NULL)
		return false;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL) {
			free(str);
			return false;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return true;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){0};
}

/* --- init: the command line ----------------------------------------- */

/* Split cmd into words: blanks separate, '...' is literal, "..." keeps blanks
 * and honours \" and \\, a backslash outside quotes escapes any character. */
static int split_words(const char *cmd, struct strv *out, struct ch_context *ctx)
{
	size_t len = strlen(cmd);
	char *word = malloc(len + 1);
	size_t n = 0;
	bool in_word = false;
	char quote = 0;

	if (word == NULL)
		return out_of_memory(ctx);
	for (const char *p = cmd; *p != '\0'; p++) {
		if (quote == '\'') {
			if (*p == '\'')
				quote = 0;
			else
				word[n++] = *p;
		} else if (quote == '"') {
			if (*p == '"')
				quote = 0;
			else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				word[n++] = *++p;
			else
				word[n++] = *p;
		} else if (*p == ' ' || *p == '\t') {
			if (in_word && !strv_push(out, strndup(word, n)))
				goto oom;
			in_word = false;
			n = 0;
		} else {
			in_word = true;
			if (*p == '\'' || *p == '"')
				quote = *p;
			else if (*p == '\\' && p[1] != '\0')
				word[n++] = *++p;
			else
				word[n++] = *p;
		}
	}
	if (quote != 0) {
		free(word);
		host->set_error(ctx, "command: unterminated %c quote", quote);
		return -1;
	}
	if (in_word && !strv_push(out, strndup(word, n)))
		goto oom;
	free(word);
	if (out->n == 0) {
		host->set_error(ctx, "command: empty");
		return -1;
	}
	return 0;
oom:
	free(word);
	return out_of_memory(ctx);
}

static bool is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static char *join_path(const char *dir, size_t dir_len, const char *name)
{
	char *p;

	if (asprintf(&p, "%.*s/%s", (int)dir_len, dir, name) < 0)
		return NULL;
	return p;
}

/* Like execvp's search, done once now so a typo fails start-up. */
static char *search_path(const char *name)
{
	const char *path = getenv("PATH");

	if (path == NULL || path[0] == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;; p++) {
		size_t len = strcspn(p, ":");
		char *full = len ? join_path(p, len, name) : join_path(".", 1, name);

		if (full != NULL && is_executable_file(full))
			return full;
		free(full);
		p += len;
		if (*p == '\0')
			return NULL;
	}
}

/* The file to execute: PATH search for a bare name, relative names from
 * workdir (or the current directory), which the child will run in. */
static int resolve_program(struct exec_state *s)
{
	const char *name = s->argv.v[0];
	char cwd[PATH_MAX];

	if (strchr(name, '/') == NULL)
		s->prog = search_path(name);
	else if (name[0] == '/')
		s->prog = strdup(name);
	else if (s->workdir != NULL)
		s->prog = join_path(s->workdir, strlen(s->workdir), name);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		s->prog = join_path(cwd, strlen(cwd), name);
	if (s->prog == NULL || !is_executable_file(s->prog)) {
		host->set_error(s->ctx, "command: %s: %s", name,
		                s->prog ? "not an executable file" : "not found in PATH");
		return -1;
	}
	return 0;
}

static int setup_command(struct exec_state *s, const char *command)
{
	if (!host->opt_bool(s->ctx, "shell")) {
		if (split_words(command, &s->argv, s->ctx) < 0)
			return -1;
		return resolve_program(s);
	}
	if (!strv_push(&s->argv, strdup("sh")) || !strv_push(&s->argv, strdup("-c")) ||
	    !strv_push(&s->argv, strdup(command)) || (s->prog = strdup("/bin/sh")) == NULL)
		return out_of_memory(s->ctx);
	if (!is_executable_file(s->prog)) {
		host->set_error(s->ctx, "shell: /bin/sh is not executable");
		return -1;
	}
	return 0;
}

/* --- init: environment ---------------------------------------------- */

static bool valid_env_name(const char *name, size_t len)
{
	if (len == 0 || isdigit((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return false;
	return true;
}

static int add_env_map(struct exec_state *s, const char *word, size_t len)
{
	const char *eq = memchr(word, '=', len);
	struct env_map *m;

	if (eq == NULL || !valid_env_name(word, (size_t)(eq - word)) || eq + 1 == word + len) {
		host->set_error(s->ctx, "env: expected NAME=path, not \"%.*s\"", (int)len, word);
		return -1;
	}
	if ((m = realloc(s->env, (s->n_env + 1) * sizeof(*m))) == NULL)
		return out_of_memory(s->ctx);
	s->env = m;
	m = &s->env[s->n_env];
	m->name = strndup(word, (size_t)(eq - word));
	m->path = strndup(eq + 1, (size_t)(word + len - eq - 1));
	s->n_env++;
	if (m->name == NULL || m->path == NULL)
		return out_of_memory(s->ctx);
	return 0;
}

static int parse_env_option(struct exec_state *s, const char *spec)
{
	const char *p = spec;

	while (spec != NULL && *p != '\0') {
		size_t len;

		p += strspn(p, " \t");
		if ((len = strcspn(p, " \t")) == 0)
			break;
		if (add_env_map(s, p, len) < 0)
			return -1;
		p += len;
	}
	return 0;
}

/* Does environment entry e set a variable we set per event? */
static bool env_overridden(const struct exec_state *s, const char *e)
{
	size_t len = strcspn(e, "=");

	if (strncmp(e, "CALLHOOKD_", 10) == 0)
		return true;
	for (size_t i = 0; i < s->n_env; i++)
		if (strlen(s->env[i].name) == len && strncmp(e, s->env[i].name, len) == 0)
			return true;
	return false;
}

/* A copy taken at start-up: reading environ per event would race with any
 * thread calling setenv(). */
static int snapshot_environ(struct exec_state *s)
{
	for (char **e = environ; e != NULL && *e != NULL; e++)
		if (!env_overridden(s, *e) && !strv_push(&s->base_env, strdup(*e)))
			return out_of_memory(s->ctx);
	return 0;
}

static int check_workdir(struct exec_state *s)
{
	const char *dir = host->opt_str(s->ctx, "workdir");
	struct stat st;

	if (dir == NULL || dir[0] == '\0')
		return 0;
	if (stat(dir, &st) < 0) {
		host->set_error(s->ctx, "workdir: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		host->set_error(s->ctx, "workdir: %s: not a directory", dir);
		return -1;
	}
	if ((s->workdir = strdup(dir)) == NULL)
		return out_of_memory(s->ctx);
	return 0;
}

static int check_limits(struct exec_state *s)
{
	int64_t max_output = host->opt_int(s->ctx, "max_output");

	s->timeout_ms = host->opt_int(s->ctx, "timeout");
	if (s->timeout_ms <= 0) {
		host->set_error(s->ctx, "timeout: must be more than 0");
		return -1;
	}
	if (max_output < 0 || max_output > MAX_OUTPUT_CAP) {
		host->set_error(s->ctx, "max_output: must be between 0 and %d", MAX_OUTPUT_CAP);
		return -1;
	}
	s->max_output = (size_t)max_output;
	if ((s->out = malloc(s->max_output + 1)) == NULL)
		return out_of_memory(s->ctx);
	return 0;
}

static void exec_free(struct exec_state *s)
{
	if (s == NULL)
		return;
	strv_free(&s->argv);
	strv_free(&s->base_env);
	for (size_t i = 0; i < s->n_env; i++) {
		free(s->env[i].name);
		free(s->env[i].path);
	}
	free(s->env);
	free(s->prog);
	free(s->workdir);
	free(s->out);
	free(s);
}

static int exec_init(const struct ch_host *h, struct ch_context *ctx, void **state)
{
	struct exec_state *s;
	const char *command;

	host = h;
	command = host->opt_str(ctx, "command");
	if (command == NULL || command[0] == '\0') {
		host->set_error(ctx, "command: required");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		host->set_error(ctx, "out of memory");
		return -1;
	}
	s->ctx = ctx;
	if (check_limits(s) < 0 || check_workdir(s) < 0 ||
	    parse_env_option(s, host->opt_str(ctx, "env")) < 0 || snapshot_environ(s) < 0 ||
	    setup_command(s, command) < 0) {
		exec_free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* --- per event: the environment ------------------------------------- */

static bool push_var(struct strv *env, const char *name, const char *value, size_t len)
{
	char *e;

	if (asprintf(&e, "%s=%.*s", name, (int)len, value ? value : "") < 0)
		return false;
	return strv_push(env, e);
}

static bool push_str(struct strv *env, const char *name, const char *value)
{
	return push_var(env, name, value, value ? strlen(value) : 0);
}

/* Strings as themselves, numbers as written, booleans as true/false,
 * objects and arrays as their JSON text; empty when absent or null. */
static bool push_mapped(struct strv *env, const char *name, const struct ch_value *v)
{
	size_t len = 0;
	const char *text = NULL;

	switch (host->type(v)) {
	case CH_VALUE_STRING:
		text = host->str(v, "");
		len = strlen(text);
		break;
	case CH_VALUE_NUMBER:
	case CH_VALUE_ARRAY:
	case CH_VALUE_OBJECT:
		text = host->json(v, &len);
		break;
	case CH_VALUE_BOOL: {
		bool b = false;

		host->boolean(v, "", &b);
		text = b ? "true" : "false";
		len = strlen(text);
		break;
	}
	case CH_VALUE_NULL:
		break;
	}
	return push_var(env, name, text, len);
}

static bool build_env(const struct exec_state *s, const struct ch_event *ev, struct strv *env)
{
	const struct ch_value *root = host->event_root(ev);
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, host->event_id(ev));
	for (size_t i = 0; i < s->base_env.n; i++)
		if (!strv_push(env, strdup(s->base_env.v[i])))
			return false;
	if (!push_str(env, "CALLHOOKD_EVENT_TYPE", host->event_type(ev)) ||
	    !push_str(env, "CALLHOOKD_EVENT_ID", id) ||
	    !push_str(env, "CALLHOOKD_EVENT_TIME", host->event_time(ev)) ||
	    !push_str(env, "CALLHOOKD_CALL_ID", host->event_call_id(ev)) ||
	    !push_str(env, "CALLHOOKD_SUBJECT", host->event_subject(ev)) ||
	    !push_str(env, "CALLHOOKD_HANDLER", host->name(s->ctx)))
		return false;
	for (size_t i = 0; i < s->n_env; i++)
		if (!push_mapped(env, s->env[i].name, host->get(root, s->env[i].path)))
			return false;
	return true;
}

/* --- per event: the child ------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A pipe with both ends CLOEXEC and above stdio, so the dup2 onto 0/1/2 in
 * the child never meets one of its own sources. */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] <= STDERR_FILENO) {
			int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1);

			close(fds[i]);
			fds[i] = fd;
		}
	}
	if (fds[0] < 0 || fds[1] < 0) {
		close_fd(&fds[0]);
		close_fd(&fds[1]);
		return -1;
	}
	return 0;
}

static int spawn_child(const struct exec_state *s, char **envp, int in_rd, int out_wr, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_adddup2(&fa, in_rd, STDIN_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_wr, STDOUT_FILENO)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_wr, STDERR_FILENO)) == 0 &&
	    /* the daemon's sockets and database are not the command's business */
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1)) == 0 &&
	    (s->workdir == NULL ||
	     (rc = posix_spawn_file_actions_addchdir_np(&fa, s->workdir)) == 0) &&
	    (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                              POSIX_SPAWN_SETSIGDEF)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0 &&
	    (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0)
		rc = posix_spawn(pid, s->prog, &fa, &attr, s->argv.v, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* write(2) without dying of SIGPIPE when the child closed its stdin. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

static void feed_stdin(struct child *c)
{
	while (c->in_fd >= 0 && c->input_off < c->input_len) {
		ssize_t n =
		    write_nosigpipe(c->in_fd, c->input + c->input_off, c->input_len - c->input_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) /* EPIPE: it does not want the event; fine */
			break;
		c->input_off += (size_t)n;
	}
	close_fd(&c->in_fd); /* all written (or refused): EOF for the child */
}

/* Read what is there (at most max_reads chunks: a background process may
 * keep writing); keep the first cap_max bytes, drop the rest. */
static void drain_output(struct child *c, int max_reads)
{
	char scratch[16384];

	while (c->out_fd >= 0 && max_reads-- > 0) {
		size_t room = c->cap_max - c->cap_len;
		char *dst = room ? c->cap + c->cap_len : scratch;
		ssize_t n = read(c->out_fd, dst, room ? room : sizeof(scratch));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(&c->out_fd);
			return;
		}
		if (room)
			c->cap_len += (size_t)n;
	}
}

static void check_exited(struct child *c)
{
	pid_t r;

	if (c->exited)
		return;
	while ((r = waitpid(c->pid, &c->status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == c->pid || (r < 0 && errno == ECHILD)) {
		if (r < 0) /* someone else reaped it: report it as failed */
			c->status = 255 << 8;
		c->exited = true;
	}
}

/* Feed, drain and wait until the child exits or deadline (monotonic ms). */
static void pump(struct child *c, int64_t deadline)
{
	for (check_exited(c); !c->exited; check_exited(c)) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		int64_t wait = deadline - now_ms();

		if (wait <= 0)
			return;
		if (c->pidfd < 0 && wait > NO_PIDFD_TICK)
			wait = NO_PIDFD_TICK;
		if (c->in_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = c->in_fd, .events = POLLOUT};
		if (c->out_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
		if (c->pidfd >= 0)
			pfd[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
		if (poll(pfd, n, (int)wait) < 0 && errno != EINTR)
			return;
		feed_stdin(c);
		drain_output(c, DRAIN_READS);
	}
}

/* Timed out: the whole group gets SIGTERM, then SIGKILL. */
static void kill_group(struct child *c)
{
	close_fd(&c->in_fd);
	kill(-c->pid, SIGTERM);
	pump(c, now_ms() + KILL_GRACE_MS);
	if (c->exited)
		return;
	kill(-c->pid, SIGKILL);
	while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->exited = true;
}

static void set_nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Spawn, feed, wait.  Returns 0 with c->status set, or an errno value
 * (spawn failed); *timed_out tells whether the child had to be killed. */
static int run_child(const struct exec_state *s, char **envp, const char *input, size_t input_len,
                     struct child *c, bool *timed_out)
{
	int in[2], out[2];
	int rc;

	*c = (struct child){.pid = -1,
	                    .pidfd = -1,
	                    .in_fd = -1,
	                    .out_fd = -1,
	                    .input = input,
	                    .input_len = input_len,
	                    .cap = s->out,
	                    .cap_max = s->max_output};
	if (make_pipe(in) < 0)
		return errno;
	if (make_pipe(out) < 0) {
		rc = errno;
		close(in[0]);
		close(in[1]);
		return rc;
	}
	rc = spawn_child(s, envp, in[0], out[1], &c->pid);
	close(in[0]);
	close(out[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	if (rc == 0) {
		set_nonblocking(c->in_fd);
		set_nonblocking(c->out_fd);
		c->pidfd = open_pidfd(c->pid);
		pump(c, now_ms() + s->timeout_ms);
		if ((*timed_out = !c->exited))
			kill_group(c);
		drain_output(c, DRAIN_READS); /* what it wrote just before exiting */
	}
	close_fd(&c->in_fd);
	close_fd(&c->out_fd);
	close_fd(&c->pidfd);
	return rc;
}

/* --- per event: the verdict ----------------------------------------- */

/* Control characters would garble the log and last_error. */
static void sanitise(char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\n' && p[i] != '\t')
			p[i] = '?';
}

static int first_line_len(const char *p, size_t len)
{
	size_t n = strcspn(p, "\n");

	if (n > len)
		n = len;
	return (int)(n > ERROR_LINE_MAX ? ERROR_LINE_MAX : n);
}

static enum ch_result verdict(const struct exec_state *s, const struct child *c, bool timed_out)
{
	int line = first_line_len(c->cap, c->cap_len);
	const char *sep = line ? ": " : "";

	if (c->cap_len > 0)
		host->log(s->ctx, CH_LOG_DEBUG, "output: %.*s", (int)c->cap_len, c->cap);
	if (timed_out) {
		host->set_error(s->ctx,
		                "timed out after %" PRId64 " ms (process group killed)%s%.*s",
		                s->timeout_ms, sep, line, c->cap);
		return CH_RETRY;
	}
	if (WIFSIGNALED(c->status)) {
		host->set_error(s->ctx, "killed by signal %d%s%.*s", WTERMSIG(c->status), sep, line,
		                c->cap);
		return CH_RETRY;
	}
	if (WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0)
		return CH_OK;
	host->set_error(s->ctx, "exit status %d%s%.*s", WEXITSTATUS(c->status), sep, line, c->cap);
	return CH_RETRY;
}

static enum ch_result exec_handle(void *state, const struct ch_event *ev)
{
	struct exec_state *s = state;
	struct strv env = {0};
	struct child c;
	bool timed_out = false;
	size_t raw_len;
	const char *raw = host->event_raw(ev, &raw_len);
	int rc;

	if (!build_env(s, ev, &env)) {
		strv_free(&env);
		host->set_error(s->ctx, "out of memory");
		return CH_RETRY;
	}
	rc = run_child(s, env.v, raw, raw_len, &c, &timed_out);
	strv_free(&env);
	if (rc != 0) {
		host->set_error(s->ctx, "cannot run %s: %s", s->prog, strerror(rc));
		/* an event too large for the environment will not shrink */
		return rc == E2BIG ? CH_FAIL : CH_RETRY;
	}
	s->out[c.cap_len] = '\0';
	sanitise(s->out, c.cap_len);
	return verdict(s, &c, timed_out);
}

static void exec_fini(void *state)
{
	exec_free(state);
}

static const struct ch_handler descriptor = {
    .abi_major = CH_ABI_MAJOR,
    .abi_minor = CH_ABI_MINOR,
    .size = sizeof(struct ch_handler),
    .flags = CH_HANDLER_OWN_THREAD,
    .name = "exec",
    .version = "1.0",
    .description = "run a command per event (event JSON on stdin, CALLHOOKD_* in the environment)",
    .event_types = default_events,
    .options = options,
    .init = exec_init,
    .handle = exec_handle,
    .reopen = NULL,
    .fini = exec_fini,
};

HM_HANDLER_ENTRY(descriptor)
