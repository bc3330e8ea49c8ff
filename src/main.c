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
#include "reload.h"
#include "sdnotify.h"

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
	/* Kept for the life of the process: SIGHUP builds the next
	 * configuration from the same sources. */
	static struct ch_config_source src;
	static char start_dir[PATH_MAX];
	const char *log_level = NULL;
	bool foreground = false, check_only = false;
	struct ch_daemon_options dopts = {.ready_fd = -1, .listen_fd = -1, .source = &src};
	struct ch_sd_env sd;
	struct ch_config cfg;
	struct ch_error err;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:ftVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			src.path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 't':
			check_only = true;
			break;
		case OPT_LISTEN:
			src.listen = optarg;
			break;
		case OPT_DB:
			src.db_path = optarg;
			break;
		case OPT_LOG_LEVEL:
			log_level = optarg;
			break;
		case OPT_HANDLERS_DIR:
			src.handlers_dir = optarg;
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
	if (log_level != NULL) {
		if (ch_log_level_parse(log_level, &src.log_level) < 0) {
			fprintf(
			    stderr,
			    "callhookd: --log-level: \"%s\" is not error, warn, info or debug\n",
			    log_level);
			return 2;
		}
		src.log_level_set = true;
	}
	/* Before any thread exists: this edits the environment. */
	if (ch_sd_take_env(&sd, !check_only, &err) < 0) {
		fprintf(stderr, "callhookd: %s\n", err.message);
		return 1;
	}
	dopts.listen_fd = sd.listen_fd;
	dopts.watchdog_usec = sd.watchdog_usec;
	if (sd.listen_fd >= 0) {
		/* The passed socket is where we listen: the loopback rule for
		 * auth = none must be checked against it, not the file's listen. */
		if (src.listen != NULL)
			ch_warn("--listen %s ignored: systemd passed a socket (%s)", src.listen,
			        sd.listen_addr);
		src.listen = sd.listen_addr;
	}
	/* detach() changes to "/": relative paths must not change meaning,
	 * now or at a reload. */
	if (!foreground && !check_only) {
		if (getcwd(start_dir, sizeof(start_dir)) == NULL) {
			fprintf(stderr, "callhookd: cannot detach: %s\n", strerror(errno));
			return 1;
		}
		src.base_dir = start_dir;
	}
	if (ch_config_build(&src, &cfg, &err) < 0) {
		fprintf(stderr, "callhookd: %s\n", err.message);
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
		       src.path ? src.path : "(built-in defaults)");
		ch_config_free(&cfg);
		return 0;
	}
	if (!foreground && detach(&dopts.ready_fd) < 0) {
		fprintf(stderr, "callhookd: cannot detach: %s\n", strerror(errno));
		ch_config_free(&cfg);
		return 1;
	}
	rc = ch_daemon_run(&cfg, &dopts, &err);
	if (rc < 0)
		fprintf(stderr, "callhookd: %s\n", err.message);
	ch_config_free(&cfg);
	return rc < 0 ? 1 : 0;
}
