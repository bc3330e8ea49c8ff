/* check_config.c - configuration: defaults, every section, errors with lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "units.h"

/* Load text on top of the defaults and finish; returns the rc, err filled. */
static int load(struct ch_config *cfg, const char *text, struct ch_error *err)
{
	ch_config_init(cfg);
	if (ch_config_load_string(cfg, text, err) < 0)
		return -1;
	return ch_config_finish(cfg, err);
}

START_TEST(test_defaults)
{
	struct ch_config cfg;
	struct ch_error err;

	ck_assert_int_eq(load(&cfg, "", &err), 0);
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_str_eq(cfg.db_path, "var/callhookd.db");
	ck_assert_uint_eq(cfg.max_body, 1024 * 1024);
	ck_assert_int_eq(cfg.synchronous, CH_SYNC_FULL);
	ck_assert_int_eq(cfg.handler_share, CH_HANDLER_SHARE_DEFAULT);
	ck_assert_uint_eq(cfg.n_endpoints, 1);
	ck_assert_str_eq(cfg.endpoints[0].path, "/events");
	ck_assert_int_eq(cfg.endpoints[0].auth.mode, CH_AUTH_NONE);
	ck_assert_uint_eq(cfg.endpoints[0].n_allowed_origins, 1);
	ck_assert_str_eq(cfg.endpoints[0].allowed_origins[0], "*");
	ck_assert_ptr_nonnull(ch_config_endpoint(&cfg, "/events", 7));
	ck_assert_ptr_null(ch_config_endpoint(&cfg, "/event", 6));
	ch_config_free(&cfg);
}
END_TEST

START_TEST(test_every_section)
{
	static const char text[] = "# comment\n"
	                           "; another\n"
	                           "[server]\n"
	                           "listen = [::1]:9000\n"
	                           "max_connections = 10\n"
	                           "request_timeout = 500ms\n"
	                           "idle_timeout = 2m\n"
	                           "drain_timeout = 3\n"
	                           "retry_after = 1500ms\n"
	                           "[limits]\n"
	                           "max_body = 2M\n"
	                           "max_header = 8k\n"
	                           "max_events = 50\n"
	                           "max_depth = 20\n"
	                           "max_id_length = 128\n"
	                           "[store]\n"
	                           "path = /tmp/x.db\n"
	                           "synchronous = normal\n"
	                           "busy_timeout = 250ms\n"
	                           "max_batch = 64\n"
	                           "[log]\n"
	                           "level = debug\n"
	                           "[handlers]\n"
	                           "share = 12\n"
	                           "[endpoint /acs]\n"
	                           "auth = secret\n"
	                           "query_param = code\n"
	                           "secret = a secret; with a semicolon\n"
	                           "allowed_origin = eventgrid.azure.net\n"
	                           "allowed_rate = 120\n"
	                           "[endpoint /empty]\n";
	struct ch_config cfg;
	struct ch_error err;
	const struct ch_endpoint *ep;

	ck_assert_msg(load(&cfg, text, &err) == 0, "%s", err.message);
	ck_assert_str_eq(cfg.listen, "[::1]:9000");
	ck_assert_int_eq(cfg.max_connections, 10);
	ck_assert_int_eq(cfg.request_timeout_ms, 500);
	ck_assert_int_eq(cfg.idle_timeout_ms, 120000);
	ck_assert_int_eq(cfg.drain_timeout_ms, 3000);
	ck_assert_int_eq(cfg.retry_after_s, 2); /* rounded up: never wait less */
	ck_assert_uint_eq(cfg.max_body, 2 * 1024 * 1024);
	ck_assert_uint_eq(cfg.max_header, 8192);
	ck_assert_uint_eq(cfg.max_events, 50);
	ck_assert_int_eq(cfg.max_depth, 20);
	ck_assert_uint_eq(cfg.max_id_length, 128);
	ck_assert_str_eq(cfg.db_path, "/tmp/x.db");
	ck_assert_int_eq(cfg.synchronous, CH_SYNC_NORMAL);
	ck_assert_int_eq(cfg.busy_timeout_ms, 250);
	ck_assert_int_eq(cfg.max_batch, 64);
	ck_assert_int_eq(cfg.log_level, CH_LOG_DEBUG);
	ck_assert_int_eq(cfg.handler_share, 12);
	ck_assert_uint_eq(cfg.n_endpoints, 2);
	ep = ch_config_endpoint(&cfg, "/acs", 4);
	ck_assert_ptr_nonnull(ep);
	ck_assert_int_eq(ep->auth.mode, CH_AUTH_SECRET);
	ck_assert_uint_eq(ep->auth.n_keys, 1);
	/* no inline comments: the semicolon is part of the secret */
	ck_assert_uint_eq(ep->auth.keys[0].len, strlen("a secret; with a semicolon"));
	ck_assert_str_eq(ep->allowed_origins[0], "eventgrid.azure.net");
	ck_assert_str_eq(ep->allowed_rate, "120");
	/* a section with no keys still declares its endpoint */
	ep = ch_config_endpoint(&cfg, "/empty", 6);
	ck_assert_ptr_nonnull(ep);
	ck_assert_int_eq(ep->auth.mode, CH_AUTH_NONE);
	/* configured endpoints replace the default one */
	ck_assert_ptr_null(ch_config_endpoint(&cfg, "/events", 7));
	ch_config_free(&cfg);
}
END_TEST

/* Each bad file fails, and the message names the line and the problem. */
START_TEST(test_errors_name_line_and_problem)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"[server]\nlisten = 127.0.0.1:8080\nbogus = 1\n", ":3: unknown key \"bogus\""},
	    {"[nope]\nx = 1\n", ":1: unknown section [nope]"},
	    /* a section without keys is checked too: inih alone never sees it */
	    {"[log]\nlevel = info\n[Server]\n", ":3: unknown section [Server]"},
	    {"[server\n", ":1: a section header is written [name]"},
	    /* inih would split this line and read its tail as "level = debug" */
	    {"[log]\n# "
	     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	     "x"
	     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx level = debug\n",
	     ":2: line is longer than 198 characters"},
	    {"[server]\nlisten = 127.0.0.1:+80\n", "not ADDR:PORT"},
	    {"[server]\nmax_connections = +5\n", "between 1 and"},
	    {"[endpoint /e]\nauth = secret\nquery_param =\n", "not a usable name"},
	    {"[endpoint /e]\nauth = secret\nheader = X Bad\n", "not a usable name"},
	    {"[endpoint /e]\nallowed_rate = lots\n", "requests per minute"},
	    {"x = 1\n", ":1: \"x\" is outside any [section]"},
	    {"[server]\nlisten = nowhere\n", "not ADDR:PORT"},
	    {"[server]\nlisten = 1.2.3.4:99999\n", "not ADDR:PORT"},
	    {"[server]\nmax_connections = 0\n", "between 1 and"},
	    {"[server]\nrequest_timeout = soon\n", "not a duration"},
	    {"[limits]\nmax_body = 12 parsecs\n", "not a size"},
	    {"[limits]\nmax_body = 10\n", "not a size between 1024"},
	    {"[store]\nsynchronous = maybe\n", "not full, normal or off"},
	    {"[handlers]\nshare = 0\n", "share: \"0\" is not 1..100"},
	    {"[handlers]\nshare = 101\n", "is not 1..100"},
	    {"[log]\nlevel = loud\n", "not error, warn, info or debug"},
	    {"[endpoint events]\nauth = none\n", "must start with '/'"},
	    {"[endpoint /e]\nauth = sometimes\n", "not none, secret, hmac or jwt"},
	    {"[endpoint /e]\nsecret = 0123456789abcdef\n", "set auth = secret"},
	    {"[endpoint /e]\nauth = secret\nsecret = 0123456789abcdef\n", "query parameter"},
	    {"[server]\nlisten\n", ":2: syntax error"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ch_config cfg;
		struct ch_error err;

		ck_assert_msg(load(&cfg, cases[i].text, &err) < 0, "case %zu loaded", i);
		ck_assert_msg(strstr(err.message, cases[i].expect) != NULL,
		              "case %zu: \"%s\" does not contain \"%s\"", i, err.message,
		              cases[i].expect);
		ch_config_free(&cfg);
	}
}
END_TEST

START_TEST(test_auth_none_needs_loopback)
{
	struct ch_config cfg;
	struct ch_error err;

	ck_assert_int_eq(load(&cfg, "[server]\nlisten = 0.0.0.0:8080\n", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "only allowed when listening on loopback"));
	ch_config_free(&cfg);
	ck_assert_int_eq(load(&cfg, "[server]\nlisten = 127.0.0.2:8080\n", &err), 0);
	ch_config_free(&cfg);
	ck_assert_int_eq(load(&cfg, "[server]\nlisten = [::1]:8080\n", &err), 0);
	ch_config_free(&cfg);
	ck_assert_int_eq(load(&cfg,
	                      "[server]\nlisten = 0.0.0.0:8080\n[endpoint /e]\nauth = hmac\n"
	                      "secret = whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
	                      &err),
	                 0);
	ch_config_free(&cfg);
}
END_TEST

START_TEST(test_overrides_and_files)
{
	struct ch_config cfg;
	struct ch_error err;
	char path[] = "/tmp/check_config_XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("[store]\npath = from-file.db\n[server]\nlisten = 127.0.0.1:1\n", f);
	fclose(f);
	ch_config_init(&cfg);
	ck_assert_int_eq(ch_config_load(&cfg, path, &err), 0);
	ck_assert_str_eq(cfg.db_path, "from-file.db");
	ck_assert_int_eq(ch_config_override(&cfg, "127.0.0.1:0", "flag.db", &err), 0);
	ck_assert_str_eq(cfg.db_path, "flag.db");
	ck_assert_str_eq(cfg.listen, "127.0.0.1:0");
	ck_assert_int_eq(ch_config_override(&cfg, "no-port", NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "--listen"));
	ch_config_free(&cfg);
	unlink(path);

	ch_config_init(&cfg);
	ck_assert_int_eq(ch_config_load(&cfg, "/nonexistent/callhookd.conf", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/callhookd.conf: cannot open"));
	ch_config_free(&cfg);
}
END_TEST

START_TEST(test_units)
{
	size_t n;
	long ms, v;
	bool b;

	ck_assert_int_eq(ch_parse_size("1M", (size_t)-1, &n), 0);
	ck_assert_uint_eq(n, 1048576);
	ck_assert_int_eq(ch_parse_size("64KiB", (size_t)-1, &n), 0);
	ck_assert_uint_eq(n, 65536);
	ck_assert_int_eq(ch_parse_size("7", (size_t)-1, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(ch_parse_size("-1", (size_t)-1, &n), -1);
	ck_assert_int_eq(ch_parse_size(" 1", (size_t)-1, &n), -1);
	ck_assert_int_eq(ch_parse_size("1T", (size_t)-1, &n), -1);
	ck_assert_int_eq(ch_parse_size("2G", 1024, &n), -1);
	ck_assert_int_eq(ch_parse_size("99999999999999999999999", (size_t)-1, &n), -1);
	ck_assert_int_eq(ch_parse_duration_ms("30", 1000000, &ms), 0);
	ck_assert_int_eq(ms, 30000);
	ck_assert_int_eq(ch_parse_duration_ms("250ms", 1000000, &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(ch_parse_duration_ms("1h", 10000000, &ms), 0);
	ck_assert_int_eq(ms, 3600000);
	ck_assert_int_eq(ch_parse_duration_ms("1h", 1000, &ms), -1);
	ck_assert_int_eq(ch_parse_duration_ms("1.5s", 100000, &ms), -1);
	ck_assert_int_eq(ch_parse_long("12", 0, 20, &v), 0);
	ck_assert_int_eq(v, 12);
	ck_assert_int_eq(ch_parse_long("12x", 0, 20, &v), -1);
	ck_assert_int_eq(ch_parse_long("21", 0, 20, &v), -1);
	ck_assert_int_eq(ch_parse_bool("Yes", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(ch_parse_bool("off", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(ch_parse_bool("perhaps", &b), -1);
}
END_TEST

START_TEST(test_split_host_port)
{
	char host[64], port[8];

	ck_assert_int_eq(ch_split_host_port("127.0.0.1:80", host, sizeof(host), port, sizeof(port)),
	                 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_str_eq(port, "80");
	ck_assert_int_eq(ch_split_host_port("[::1]:0", host, sizeof(host), port, sizeof(port)), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(ch_split_host_port("::1:80", host, sizeof(host), port, sizeof(port)), -1);
	ck_assert_int_eq(ch_split_host_port(":80", host, sizeof(host), port, sizeof(port)), -1);
	ck_assert_int_eq(ch_split_host_port("h:", host, sizeof(host), port, sizeof(port)), -1);
	ck_assert_int_eq(ch_split_host_port("h:65536", host, sizeof(host), port, sizeof(port)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_section);
	tcase_add_test(tc, test_errors_name_line_and_problem);
	tcase_add_test(tc, test_auth_none_needs_loopback);
	tcase_add_test(tc, test_overrides_and_files);
	tcase_add_test(tc, test_units);
	tcase_add_test(tc, test_split_host_port);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
