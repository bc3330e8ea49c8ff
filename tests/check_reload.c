/* check_reload.c - building a configuration from its sources, and what a
 * reload may change (src/reload.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reload.h"

/* A file in a fresh temporary directory; returns its path (static). */
static const char *write_file(const char *dir, const char *name, const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *temp_dir(void)
{
	char tmpl[] = "/tmp/check_reload.XXXXXX";
	char *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	return strdup(dir);
}

static void build_text(struct ch_config *cfg, const char *text)
{
	struct ch_error err;

	ch_config_init(cfg);
	ck_assert_msg(ch_config_load_string(cfg, text, &err) == 0, "%s", err.message);
	ck_assert_msg(ch_config_finish(cfg, &err) == 0, "%s", err.message);
}

START_TEST(test_build_applies_the_overrides_every_time)
{
	char *dir = temp_dir();
	struct ch_config_source src = {
	    .listen = "127.0.0.1:0",
	    .db_path = "/tmp/x.db",
	    .handlers_dir = "/opt/h",
	    .log_level_set = true,
	    .log_level = CH_LOG_DEBUG,
	};
	struct ch_config cfg;
	struct ch_error err;

	src.path = write_file(dir, "a.conf",
	                      "[server]\nlisten = 127.0.0.1:9\n[store]\npath = /elsewhere.db\n"
	                      "[log]\nlevel = error\n[handlers]\ndir = /usr/h\n");
	ck_assert_msg(ch_config_build(&src, &cfg, &err) == 0, "%s", err.message);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:0");
	ck_assert_str_eq(cfg.db_path, "/tmp/x.db");
	ck_assert_str_eq(cfg.handlers_dir, "/opt/h");
	ck_assert_int_eq(cfg.log_level, CH_LOG_DEBUG);
	ch_config_free(&cfg);
	unlink(src.path);
	rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_build_takes_relative_paths_from_the_start_directory)
{
	char *dir = temp_dir();
	struct ch_config_source src = {.path = "a.conf", .base_dir = dir};
	struct ch_config cfg;
	struct ch_error err;
	char want[600];

	write_file(dir, "a.conf", "[store]\npath = var/j.db\n[handlers]\ndir = mods\n");
	ck_assert_int_eq(chdir("/"), 0); /* what detaching does */
	ck_assert_msg(ch_config_build(&src, &cfg, &err) == 0, "%s", err.message);
	snprintf(want, sizeof(want), "%s/var/j.db", dir);
	ck_assert_str_eq(cfg.db_path, want);
	snprintf(want, sizeof(want), "%s/mods", dir);
	ck_assert_str_eq(cfg.handlers_dir, want);
	ch_config_free(&cfg);
	snprintf(want, sizeof(want), "%s/a.conf", dir);
	unlink(want);
	rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_build_failure_leaves_nothing)
{
	char *dir = temp_dir();
	struct ch_config_source src = {0};
	struct ch_config cfg;
	struct ch_error err;

	src.path = write_file(dir, "bad.conf", "[server]\nlisten = 127.0.0.1:1\nbogus = 1\n");
	ck_assert_int_eq(ch_config_build(&src, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "bad.conf:3: "));
	ck_assert_ptr_nonnull(strstr(err.message, "bogus"));
	ck_assert_ptr_null(cfg.listen); /* freed: nothing for the caller to free */
	ck_assert_uint_eq(cfg.n_endpoints, 0);
	unlink(src.path);
	src.path = "/nonexistent/callhookd.conf";
	ck_assert_int_eq(ch_config_build(&src, &cfg, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "cannot open"));
	rmdir(dir);
	free(dir);
}
END_TEST

START_TEST(test_restart_keys_are_named)
{
	struct ch_config a, b;
	char out[200];

	build_text(&a, "[server]\nmax_connections = 5\n");
	build_text(&b,
	           "[server]\nmax_connections = 6\ndrain_timeout = 1s\n[limits]\nmax_body = 2k\n"
	           "[endpoint /x]\n[log]\nlevel = debug\n[handlers]\nbatch = 3\n");
	ck_assert_uint_eq(ch_config_restart_keys(&a, &b, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ch_config_free(&b);
	build_text(&b, "[server]\nlisten = 127.0.0.1:9\n[store]\npath = /x.db\nsynchronous = off\n"
	               "busy_timeout = 1s\nmax_batch = 2\n");
	ck_assert_uint_eq(ch_config_restart_keys(&a, &b, out, sizeof(out)), 5);
	ck_assert_str_eq(out, "[server] listen, [store] path, [store] synchronous, "
	                      "[store] busy_timeout, [store] max_batch");
	/* a short buffer is cut, the count stays right */
	ck_assert_uint_eq(ch_config_restart_keys(&a, &b, out, 10), 5);
	ck_assert_uint_eq(strlen(out), 9);
	ch_config_free(&a);
	ch_config_free(&b);
}
END_TEST

START_TEST(test_same_handlers)
{
	static const char base[] = "[handlers]\ndefaults = no\n[handler j]\nmodule = jsonl\n"
	                           "path = /tmp/a\n";
	static const char *const different[] = {
	    "[handlers]\ndefaults = yes\n[handler j]\nmodule = jsonl\npath = /tmp/a\n",
	    "[handlers]\ndefaults = no\nbatch = 7\n[handler j]\nmodule = jsonl\npath = /tmp/a\n",
	    "[handlers]\ndefaults = no\nshare = 2\n[handler j]\nmodule = jsonl\npath = /tmp/a\n",
	    "[handlers]\ndefaults = no\n[handler j]\nmodule = jsonl\npath = /tmp/b\n",
	    "[handlers]\ndefaults = no\n[handler j]\nmodule = jsonl\npath = /tmp/a\nevents = X\n",
	    "[handlers]\ndefaults = no\n[handler k]\nmodule = jsonl\npath = /tmp/a\n",
	    "[handlers]\ndefaults = no\n[handler j]\nmodule = jsonl\npath = /tmp/a\n[handler k]\n",
	    "[handlers]\ndefaults = no\ndir = /x\n[handler j]\nmodule = jsonl\npath = /tmp/a\n",
	};
	struct ch_config a, b;

	build_text(&a, base);
	build_text(&b, "[server]\nmax_connections = 3\n[endpoint /y]\n");
	ck_assert(!ch_config_same_handlers(&a, &b));
	ch_config_free(&b);
	/* what is not about handlers does not count */
	build_text(&b, "[server]\nmax_connections = 3\n[endpoint /y]\n[handlers]\ndefaults = no\n"
	               "[handler j]\nmodule = jsonl\npath = /tmp/a\n");
	ck_assert(ch_config_same_handlers(&a, &b));
	ch_config_free(&b);
	for (size_t i = 0; i < sizeof(different) / sizeof(different[0]); i++) {
		build_text(&b, different[i]);
		ck_assert_msg(!ch_config_same_handlers(&a, &b), "case %zu", i);
		ch_config_free(&b);
	}
	ch_config_free(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_build_applies_the_overrides_every_time);
	tcase_add_test(tc, test_build_takes_relative_paths_from_the_start_directory);
	tcase_add_test(tc, test_build_failure_leaves_nothing);
	tcase_add_test(tc, test_restart_keys_are_named);
	tcase_add_test(tc, test_same_handlers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
