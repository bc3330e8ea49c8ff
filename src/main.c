/* main.c - command line of callhookd(8): options, config test mode, detaching. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoconfig.h" /* PACKAGE_VERSION */
#include "config.h"
#include "daemon.h"
#include "plugin.h"
#include "log.h"

static void usage(FILE *out)
{
	fputs("usage: callhookd [options]\n"
	      "  -c, --config FILE     read configuration from FILE (INI; see callhookd.conf(5))\n"
	      "  -f, --foreground      stay in the foreground (for systemd and tests)\n"
	      "  -t, --check-config    check the configuration, print it is OK, and exit\n"
	      "      --listen ADDR:PORT  listen here (overrides [server] listen; port 0 = any)\n"
	      "      --db PATH         journal database (overrides [store] path)\n"
	      "      --log-level LEVEL error, warn, info or debug (overrides [log] level)\n"
	      "      --handlers-dir DIR  load handler modules from DIR (overrides [handlers] dir)\n"
	      "  -V, --version         print the version and exit\n"
	      "  -h, --help            print this help and exit\n",
	      out);
}

/* A relative database path would break once we chdir("/") to detach. */
static char *absolute_path(const char *path)
{
	char cwd[PATH_MAX];
	char *abs;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return strdup(path);
	if (asprintf(&abs, "%s/%s", cwd, path) < 0)
		return NULL;
	return abs;
}

/* Fork; the parent waits until the child listens (one byte on a pipe) or dies,
 * so `callhookd` without -f still exits non-zero when start-up fails. */
static int detach(int *ready_fd)
{
	int pipefd[2], fd;
	pid_t pid;
	char byte;

	if (pipe(pipefd) < 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid > 0) {
		int status;

		close(pipefd[1]);
		if (read(pipefd[0], &byte, 1) == 1)
			exit(0);
		waitpid(pid, &status, 0);
		exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
	}
	close(pipefd[0]);
	if (setsid() < 0 || chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO); /* stderr stays: it carries the log */
		if (fd > STDERR_FILENO)
			close(fd);
	}
	*ready_fd = pipefd[1];
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_DB, OPT_LOG_LEVEL, OPT_HANDLERS_DIR };
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 't'},
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"db", required_argument, NULL, OPT_DB},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"handlers-dir", required_argument, NULL, OPT_HANDLERS_DIR},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = NULL, *listen = NULL, *db = NULL, *log_level = NULL;
	const char *handlers_dir = NULL;
	bool foreground = false, check_only = false;
	struct ch_config cfg;
	struct ch_error err;
	int opt, ready_fd = -1, rc;

	while ((opt = getopt_long(argc, argv, "c:ftVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check_only = true;
			break;
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_DB:
			db = optarg;
			break;
		case OPT_LOG_LEVEL:
			log_level = optarg;
			break;
		case OPT_HANDLERS_DIR:
			handlers_dir = optarg;
			break;
		case 'V':
			printf("callhookd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "callhookd: unexpected argument \"%s\" (see --help)\n",
		        argv[optind]);
		return 2;
	}

	ch_config_init(&cfg);
	if ((config_path != NULL && ch_config_load(&cfg, config_path, &err) < 0) ||
	    ch_config_override(&cfg, listen, db, &err) < 0 ||
	    (handlers_dir != NULL && ch_config_set_handlers_dir(&cfg, handlers_dir, &err) < 0) ||
	    ch_config_finish(&cfg, &err) < 0) {
		fprintf(stderr, "callhookd: %s\n", err.message);
		ch_config_free(&cfg);
		return 2;
	}
	if (log_level != NULL && ch_log_level_parse(log_level, &cfg.log_level) < 0) {
		fprintf(stderr,
		        "callhookd: --log-level: \"%s\" is not error, warn, info or debug\n",
		        log_level);
		ch_config_free(&cfg);
		return 2;
	}
	ch_log_set_level(cfg.log_level);
	if (check_only) {
		struct ch_plugin_set set;

		/* Every module must load and accept its options; init runs at start. */
		if (ch_plugins_load(&cfg, true, &set, &err) < 0) {
			fprintf(stderr, "callhookd: %s\n", err.message);
			ch_config_free(&cfg);
			return 2;
		}
		ch_plugins_unload(&set);
		printf("callhookd: configuration %s is OK\n",
		       config_path ? config_path : "(built-in defaults)");
		ch_config_free(&cfg);
		return 0;
	}
	if (!foreground) {
		/* detach() changes to "/": relative paths must not change meaning. */
		char *abs = absolute_path(cfg.db_path);
		char *abs_dir = absolute_path(cfg.handlers_dir);

		if (abs == NULL || abs_dir == NULL || detach(&ready_fd) < 0) {
			fprintf(stderr, "callhookd: cannot detach: %s\n", strerror(errno));
			free(abs);
			free(abs_dir);
			ch_config_free(&cfg);
			return 1;
		}
		free(cfg.db_path);
		cfg.db_path = abs;
		free(cfg.handlers_dir);
		cfg.handlers_dir = abs_dir;
	}
	rc = ch_daemon_run(&cfg, ready_fd, &err);
	if (rc < 0)
		fprintf(stderr, "callhookd: %s\n", err.message);
	ch_config_free(&cfg);
	return rc < 0 ? 1 : 0;
}
