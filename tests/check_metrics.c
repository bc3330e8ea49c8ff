/* check_metrics.c - the Prometheus text format (prom.c), the registry and its
 * bounded label sets (metrics.c), the [server] metrics key, and the
 * key=value log lines (log.c). */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h" /* PACKAGE_VERSION */
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"

/* ---- helpers ----------------------------------------------------------- */

static char *render(void)
{
	struct ch_metrics_scrape s = {.store_up = true};
	struct ch_text t;
	char *out;

	ch_text_init(&t, 1 << 20);
	ck_assert_int_eq(ch_metrics_render(&t, &s), 0);
	out = strdup(t.buf);
	ch_text_free(&t);
	return out;
}

/* The value of the sample whose name and labels are exactly series, or -1.
 * The registry is process-wide: tests compare before and after. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');

		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = eol != NULL ? eol + 1 : NULL;
	}
	return -1;
}

static double sample_now(const char *series)
{
	char *text = render();
	double v = sample(text, series);

	free(text);
	return v < 0 ? 0 : v; /* sparse families: absent means 0 */
}

static void load_config(struct ch_config *cfg, const char *text)
{
	struct ch_error err;

	ch_config_init(cfg);
	ck_assert_msg(ch_config_load_string(cfg, text, &err) == 0, "%s", err.message);
	ck_assert_msg(ch_config_finish(cfg, &err) == 0, "%s", err.message);
}

/* ---- the text format ----------------------------------------------------- */

START_TEST(test_label_value_escaping)
{
	struct ch_text t;
	struct ch_label l[2] = {{"path", "a\\b\"c\nd"}, {"plain", "x y"}};

	ch_text_init(&t, 4096);
	ch_prom_u64(&t, "m_total", l, 2, 7);
	ck_assert_str_eq(t.buf, "m_total{path=\"a\\\\b\\\"c\\nd\",plain=\"x y\"} 7\n");
	ch_text_free(&t);
}
END_TEST

START_TEST(test_help_escaping_and_family_header)
{
	struct ch_text t;

	ch_text_init(&t, 4096);
	/* HELP escapes backslash and newline, not quotes */
	ch_prom_family(&t, "m_total", "counter", "a \"quoted\" back\\slash\nnext");
	ck_assert_str_eq(t.buf, "# HELP m_total a \"quoted\" back\\\\slash\\nnext\n"
	                        "# TYPE m_total counter\n");
	ch_text_free(&t);
}
END_TEST

START_TEST(test_values)
{
	struct ch_text t;

	ch_text_init(&t, 4096);
	ch_prom_u64(&t, "big", NULL, 0, 18446744073709551615ull); /* exact, not a float */
	ch_prom_double(&t, "a", NULL, 0, 0.1);
	ch_prom_double(&t, "b", NULL, 0, 1.0 / 3.0);
	ch_prom_double(&t, "c", NULL, 0, INFINITY);
	ch_prom_double(&t, "d", NULL, 0, -INFINITY);
	ch_prom_double(&t, "e", NULL, 0, NAN);
	ch_prom_double(&t, "f", NULL, 0, 1700000000.25);
	ck_assert_str_eq(t.buf, "big 18446744073709551615\n"
	                        "a 0.1\n"
	                        "b 0.33333333333333331\n"
	                        "c +Inf\n"
	                        "d -Inf\n"
	                        "e NaN\n"
	                        "f 1700000000.25\n");
	ch_text_free(&t);
}
END_TEST

START_TEST(test_metric_names)
{
	ck_assert(ch_prom_valid_name("callhookd_events_total"));
	ck_assert(ch_prom_valid_name("a:b_c9"));
	ck_assert(ch_prom_valid_name("_x"));
	ck_assert(!ch_prom_valid_name(""));
	ck_assert(!ch_prom_valid_name("9lives"));
	ck_assert(!ch_prom_valid_name("a-b"));
	ck_assert(!ch_prom_valid_name("a b"));
}
END_TEST

START_TEST(test_text_cap)
{
	struct ch_text t;

	ch_text_init(&t, 16);
	ch_text_puts(&t, "0123456789");
	ck_assert(!t.failed);
	ch_text_printf(&t, "%s", "abcdef"); /* 16 with the NUL: over the cap */
	ck_assert(t.failed);
	ck_assert_uint_eq(t.len, 10);
	ch_text_puts(&t, "x"); /* nothing after a failure */
	ck_assert_uint_eq(t.len, 10);
	ch_text_free(&t);
	/* a long printf goes through the growing path */
	ch_text_init(&t, 1 << 16);
	ch_text_printf(&t, "%0300d|", 7);
	ck_assert_uint_eq(t.len, 301);
	ck_assert_str_eq(t.buf + 296, "0007|");
	ch_text_free(&t);
}
END_TEST

/* ---- histograms ------------------------------------------------------------ */

static const uint64_t small_bounds[] = {1, 5, 10};

START_TEST(test_histogram_cumulative_buckets)
{
	static struct ch_histogram h = CH_HISTOGRAM_INIT(small_bounds, 1);
	struct ch_label l = {"kind", "x"};
	struct ch_text t;

	/* 0 and 1 land in le=1 (bounds are inclusive), 2 and 5 in le=5, none
	 * in le=10, 11 and 100 only in +Inf */
	for (uint64_t v = 0; v < 3; v++)
		ch_histogram_observe(&h, v);
	ch_histogram_observe(&h, 5);
	ch_histogram_observe(&h, 11);
	ch_histogram_observe(&h, 100);
	ch_text_init(&t, 4096);
	ch_prom_histogram(&t, "h", &l, 1, &h);
	ck_assert_str_eq(t.buf, "h_bucket{kind=\"x\",le=\"1\"} 2\n"
	                        "h_bucket{kind=\"x\",le=\"5\"} 4\n"
	                        "h_bucket{kind=\"x\",le=\"10\"} 4\n"
	                        "h_bucket{kind=\"x\",le=\"+Inf\"} 6\n"
	                        "h_sum{kind=\"x\"} 119\n"
	                        "h_count{kind=\"x\"} 6\n");
	ch_text_free(&t);
}
END_TEST

static const uint64_t ns_bounds[] = {500000, 1000000, 2500000000};

START_TEST(test_histogram_seconds_from_nanoseconds)
{
	static struct ch_histogram h = CH_HISTOGRAM_INIT(ns_bounds, 1e9);
	struct ch_text t;

	ch_histogram_observe(&h, 400000);  /* 0.4 ms */
	ch_histogram_observe(&h, 1500000); /* 1.5 ms */
	ch_text_init(&t, 4096);
	ch_prom_histogram(&t, "d_seconds", NULL, 0, &h);
	ck_assert_str_eq(t.buf, "d_seconds_bucket{le=\"0.0005\"} 1\n"
	                        "d_seconds_bucket{le=\"0.001\"} 1\n"
	                        "d_seconds_bucket{le=\"2.5\"} 2\n"
	                        "d_seconds_bucket{le=\"+Inf\"} 2\n"
	                        "d_seconds_sum 0.0019\n"
	                        "d_seconds_count 2\n");
	ch_text_free(&t);
}
END_TEST

/* ---- the registry ------------------------------------------------------------ */

START_TEST(test_commit_histograms)
{
	double count = sample_now("callhookd_commit_duration_seconds_count");
	double le_1ms = sample_now("callhookd_commit_duration_seconds_bucket{le=\"0.001\"}");
	double le_5ms = sample_now("callhookd_commit_duration_seconds_bucket{le=\"0.005\"}");
	double req4 = sample_now("callhookd_commit_batch_requests_bucket{le=\"4\"}");
	double req2 = sample_now("callhookd_commit_batch_requests_bucket{le=\"2\"}");
	double ev_sum = sample_now("callhookd_commit_batch_events_sum");

	/* started 2 ms ago: not in le=0.001; in le=0.005 on any sane machine */
	ch_metrics_commit(ch_metrics_now() - 2000000, 3, 70);
	ck_assert(sample_now("callhookd_commit_duration_seconds_count") == count + 1);
	ck_assert(sample_now("callhookd_commit_duration_seconds_bucket{le=\"0.001\"}") == le_1ms);
	ck_assert(sample_now("callhookd_commit_duration_seconds_bucket{le=\"0.005\"}") ==
	          le_5ms + 1);
	ck_assert(sample_now("callhookd_commit_duration_seconds_bucket{le=\"+Inf\"}") == count + 1);
	ck_assert(sample_now("callhookd_commit_batch_requests_bucket{le=\"4\"}") == req4 + 1);
	ck_assert(sample_now("callhookd_commit_batch_requests_bucket{le=\"2\"}") == req2);
	ck_assert(sample_now("callhookd_commit_batch_events_sum") == ev_sum + 70);
}
END_TEST

/* A list callhookd(8) gives, read from the page itself: the "\\%Name" words
 * from the line holding `from` to the line that is exactly `to`, each with
 * prefix unless it names itself in full ("Microsoft.").  n found. */
#define MAX_DOC_WORDS 128
static size_t documented(const char *from, const char *to, const char *prefix,
                         char words[MAX_DOC_WORDS][96])
{
	FILE *f = fopen(MAN_DIR "/callhookd.8", "r");
	char line[512];
	bool in_list = false;
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!in_list && strstr(line, from) != NULL)
			in_list = true;
		else if (in_list && strcmp(line, to) == 0)
			break;
		for (char *p = line; in_list && (p = strstr(p, "\\%")) != NULL;) {
			size_t len;

			p += 2;
			len = strspn(
			    p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.");
			while (len > 0 && p[len - 1] == '.')
				len--; /* the sentence's full stop */
			ck_assert_uint_lt(n, MAX_DOC_WORDS);
			snprintf(words[n++], 96, "%s%.*s",
			         strncmp(p, "Microsoft.", 10) == 0 ? "" : prefix, (int)len, p);
			p += len;
		}
	}
	fclose(f);
	return n;
}

START_TEST(test_event_types_are_a_closed_set)
{
	char series[256];
	double other;

	static char doc[MAX_DOC_WORDS][96];
	size_t n_doc = documented("is the event type when it is one of the types below", ".ad\n",
	                          "Microsoft.Communication.", doc),
	       n_known = 0;

	/* every documented type is found (the table is sorted for bsearch) and
	 * every type in the table is documented: the page and the code agree */
	ck_assert_uint_gt(n_doc, 50);
	for (size_t i = 0; i < n_doc; i++)
		ck_assert_str_eq(ch_metrics_type_label(doc[i]), doc[i]);
	for (const char *t; (t = ch_metrics_known_type(n_known)) != NULL; n_known++) {
		bool listed = false;

		for (size_t i = 0; i < n_doc && !listed; i++)
			listed = strcmp(doc[i], t) == 0;
		ck_assert_msg(listed, "%s is counted but not in callhookd(8)", t);
	}
	ck_assert_uint_eq(n_known, n_doc);
	ck_assert_str_eq(ch_metrics_type_label("Microsoft.Communication.Nonsense"), "other");
	ck_assert_str_eq(ch_metrics_type_label("microsoft.communication.callconnected"), "other");
	ck_assert_str_eq(ch_metrics_type_label(""), "other");

	other = sample_now("callhookd_events_total{type=\"other\",format=\"cloudevents\"}");
	ch_metrics_event("x\"\n{evil}", "cloudevents");
	ch_metrics_event("Microsoft.Communication.Brand.New", "cloudevents");
	ck_assert(sample_now("callhookd_events_total{type=\"other\",format=\"cloudevents\"}") ==
	          other + 2);
	snprintf(series, sizeof(series), "callhookd_events_total{type=\"%s\",format=\"preview\"}",
	         doc[4]);
	ch_metrics_event(doc[4], "preview");
	ck_assert(sample_now(series) >= 1);
}
END_TEST

START_TEST(test_rejection_reasons)
{
	/* the reasons callhookd(8) lists: each is a series of its own */
	static char codes[MAX_DOC_WORDS][96];
	size_t n_codes = documented(".B callhookd_rejections_total", "else\n", "", codes);
	size_t n_series = 0;
	double before[MAX_DOC_WORDS], other;
	char series[160];
	char *text = render();

	/* and the code has none the page does not list */
	ck_assert_uint_gt(n_codes, 20);
	for (const char *p = text; (p = strstr(p, "callhookd_rejections_total{reason=")) != NULL;
	     p++)
		n_series++;
	ck_assert_uint_eq(n_series, n_codes + 1); /* + "other" */
	for (size_t i = 0; i < n_codes; i++) {
		snprintf(series, sizeof(series), "callhookd_rejections_total{reason=\"%.95s\"}",
		         codes[i]);
		before[i] = sample(text, series);
		ck_assert_msg(before[i] >= 0, "%s is not listed at 0", codes[i]);
		ch_metrics_rejection(codes[i]);
	}
	other = sample(text, "callhookd_rejections_total{reason=\"other\"}");
	free(text);
	ch_metrics_rejection("SomethingNew");
	text = render();
	for (size_t i = 0; i < n_codes; i++) {
		snprintf(series, sizeof(series), "callhookd_rejections_total{reason=\"%.95s\"}",
		         codes[i]);
		ck_assert_msg(sample(text, series) == before[i] + 1, "%s", codes[i]);
	}
	ck_assert(sample(text, "callhookd_rejections_total{reason=\"other\"}") == other + 1);
	free(text);
}
END_TEST

START_TEST(test_endpoint_labels)
{
	struct ch_config cfg;
	const char *weird = "/we\"ird\\path";
	char *text;

	load_config(&cfg, "[endpoint /we\"ird\\path]\n[endpoint /events]\n");
	ch_metrics_start(&cfg);
	ch_metrics_http_answer(weird, strlen(weird), 200);
	ch_metrics_http_answer(weird, strlen(weird), 200);
	ch_metrics_http_answer("/events", 7, 413);
	ch_metrics_http_answer("/events?x", 7, 413); /* path_len stops at '?' */
	ch_metrics_http_answer("/healthz", 8, 200);
	ch_metrics_http_answer("/unknown/attacker/path", 22, 404);
	ch_metrics_http_answer(NULL, 0, 400);      /* before the request line was read */
	ch_metrics_http_answer("/events", 7, 299); /* a status outside the table */
	text = render();
	ck_assert(sample(text, "callhookd_http_requests_total{endpoint=\"/we\\\"ird\\\\path\","
	                       "code=\"200\"}") == 2);
	ck_assert(
	    sample(text, "callhookd_http_requests_total{endpoint=\"/events\",code=\"413\"}") == 2);
	ck_assert(
	    sample(text, "callhookd_http_requests_total{endpoint=\"/healthz\",code=\"200\"}") == 1);
	ck_assert(sample(text, "callhookd_http_requests_total{endpoint=\"other\",code=\"404\"}") >=
	          1);
	ck_assert(sample(text, "callhookd_http_requests_total{endpoint=\"other\",code=\"400\"}") >=
	          1);
	ck_assert(sample(text, "callhookd_http_requests_total{endpoint=\"/events\","
	                       "code=\"other\"}") == 1);
	ck_assert_ptr_null(strstr(text, "attacker"));
	free(text);
	ch_config_free(&cfg);

	/* a reload without the weird path: its count stays, new requests are "other" */
	load_config(&cfg, "[endpoint /events]\n");
	ch_metrics_start(&cfg);
	ch_metrics_http_answer(weird, strlen(weird), 200);
	text = render();
	ck_assert(sample(text, "callhookd_http_requests_total{endpoint=\"/we\\\"ird\\\\path\","
	                       "code=\"200\"}") == 2);
	free(text);
	ch_config_free(&cfg);
}
END_TEST

START_TEST(test_handler_outcomes)
{
	char *text;

	ch_metrics_add_handler("alpha");
	ch_metrics_add_handler("alpha"); /* idempotent */
	ch_metrics_add_handler("beta");
	ch_metrics_delivery("alpha", "done");
	ch_metrics_delivery("alpha", "done");
	ch_metrics_delivery("alpha", "failed");
	ch_metrics_delivery("beta", "dead");
	ch_metrics_delivery("never-loaded", "done"); /* no series of its own */
	ch_metrics_delivery("beta", "bogus");
	text = render();
	ck_assert(
	    sample(text,
	           "callhookd_handler_deliveries_total{handler=\"alpha\",outcome=\"done\"}") == 2);
	ck_assert(sample(text, "callhookd_handler_deliveries_total{handler=\"alpha\","
	                       "outcome=\"failed\"}") == 1);
	ck_assert(
	    sample(text,
	           "callhookd_handler_deliveries_total{handler=\"alpha\",outcome=\"dead\"}") == 0);
	ck_assert(
	    sample(text, "callhookd_handler_deliveries_total{handler=\"beta\",outcome=\"dead\"}") ==
	    1);
	ck_assert_ptr_null(strstr(text, "never-loaded"));
	ck_assert_ptr_null(strstr(text, "bogus"));
	/* no backlog callback: no backlog family */
	ck_assert_ptr_null(strstr(text, "callhookd_handler_backlog"));
	free(text);
}
END_TEST

static int fake_backlog(void *arg, const char *handler, int64_t *value)
{
	if (strcmp(handler, "alpha") != 0)
		return -1; /* unknown: left out */
	*value = *(int64_t *)arg;
	return 0;
}

START_TEST(test_backlog_and_gauges)
{
	int64_t backlog = 42;
	struct ch_metrics_scrape s = {.store_up = false, .backlog = fake_backlog, .arg = &backlog};
	struct ch_text t;

	ch_metrics_add_handler("alpha");
	ch_metrics_add_handler("gamma");
	ch_metrics_connection_opened();
	ch_metrics_connection_opened();
	ch_metrics_connection_closed();
	ch_text_init(&t, 1 << 20);
	ck_assert_int_eq(ch_metrics_render(&t, &s), 0);
	ck_assert(sample(t.buf, "callhookd_handler_backlog{handler=\"alpha\"}") == 42);
	ck_assert(sample(t.buf, "callhookd_handler_backlog{handler=\"gamma\"}") == -1);
	ck_assert(sample(t.buf, "callhookd_store_up") == 0);
	ck_assert(sample(t.buf, "callhookd_http_connections") >= 1);
	ck_assert(sample(t.buf, "callhookd_build_info{version=\"" PACKAGE_VERSION "\"}") == 1);
	ck_assert(sample(t.buf, "process_start_time_seconds") >= 0);
	ch_text_free(&t);
}
END_TEST

/* Every family once, HELP then TYPE, every sample of a declared family,
 * every name valid: the structure Prometheus's parser insists on. */
START_TEST(test_exposition_structure)
{
	char *text = render(), *save = NULL;
	char families[64][96], type[32], name[96];
	size_t n = 0;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%95s", name), 1);
			for (size_t i = 0; i < n; i++)
				ck_assert_str_ne(families[i], name);
			ck_assert(ch_prom_valid_name(name));
			ck_assert_uint_lt(n, 64);
			strcpy(families[n++], name);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_int_eq(sscanf(line + 7, "%95s %31s", name, type), 2);
			ck_assert_str_eq(name, families[n - 1]);
			ck_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
			          strcmp(type, "histogram") == 0);
		} else {
			size_t len = strcspn(line, "{ "), fl;

			ck_assert_uint_gt(n, 0);
			ck_assert_uint_lt(len, sizeof(name));
			memcpy(name, line, len);
			name[len] = '\0';
			ck_assert(ch_prom_valid_name(name));
			fl = strlen(families[n - 1]);
			ck_assert_msg(strncmp(name, families[n - 1], fl) == 0 &&
			                  (name[fl] == '\0' || strcmp(name + fl, "_bucket") == 0 ||
			                   strcmp(name + fl, "_sum") == 0 ||
			                   strcmp(name + fl, "_count") == 0),
			              "sample %s under family %s", name, families[n - 1]);
		}
	}
	ck_assert_uint_ge(n, 13);
	free(text);
}
END_TEST

/* ---- configuration ---------------------------------------------------------- */

START_TEST(test_metrics_key)
{
	struct ch_config cfg;
	struct ch_error err;

	load_config(&cfg, "");
	ck_assert_int_eq(cfg.metrics, CH_METRICS_LOOPBACK);
	ch_config_free(&cfg);
	load_config(&cfg, "[server]\nmetrics = no\n");
	ck_assert_int_eq(cfg.metrics, CH_METRICS_NO);
	ch_config_free(&cfg);
	load_config(&cfg, "[server]\nmetrics = yes\n");
	ck_assert_int_eq(cfg.metrics, CH_METRICS_YES);
	ch_config_free(&cfg);
	ch_config_init(&cfg);
	ck_assert_int_eq(ch_config_load_string(&cfg, "[server]\nmetrics = maybe\n", &err), -1);
	ck_assert_str_eq(err.message, "(string):2: metrics: \"maybe\" is not yes, no or loopback");
	ch_config_free(&cfg);
}
END_TEST

/* ---- log lines -------------------------------------------------------------- */

START_TEST(test_log_fields)
{
	const char *volatile absent = NULL; /* the compiler must not see it is NULL */
	char buf[512];
	size_t n;

	n = ch_log_format_kv(buf, sizeof(buf), "info", "auth: refused",
	                     "request=%llu remote=%s endpoint=%s error=%s", 12ull, "127.0.0.1:5555",
	                     "/events", "no \"code\" given");
	ck_assert_str_eq(buf, "level=info msg=\"auth: refused\" request=12 remote=127.0.0.1:5555 "
	                      "endpoint=/events error=\"no \\\"code\\\" given\"");
	ck_assert_uint_eq(n, strlen(buf));
	/* input cannot end the line or forge a field; NULL (an absent call id) is "" */
	ch_log_format_kv(buf, sizeof(buf), "debug", "x", "path=%s type=%s call=%s",
	                 "/a\nts=forged level=error", "t=1", absent);
	ck_assert_str_eq(buf, "level=debug msg=\"x\" path=\"/a\\nts=forged level=error\" "
	                      "type=\"t=1\" call=\"\"");
}
END_TEST

START_TEST(test_log_escapes_and_numbers)
{
	char buf[512];

	ch_log_format_kv(buf, sizeof(buf), "warn", "m",
	                 "a=%s b=%.3s c=%.*s d=%d e=%ld f=%zu g=%x h=%%", "\t\r\x01\x7f\xc3\xa9\\",
	                 "abcdef", 2, "xyz", -5, 123456789012L, (size_t)42, 255u);
	ck_assert_str_eq(buf,
	                 "level=warn msg=\"m\" a=\"\\t\\r\\x01\\x7f\\xc3\\xa9\\\\\" b=abc c=xy "
	                 "d=-5 e=123456789012 f=42 g=ff h=%");
	/* an unsupported conversion ends the line */
	ch_log_format_kv(buf, sizeof(buf), "info", "m", "a=%d b=%f c=%s", 1, 2.0, "never");
	ck_assert_str_eq(buf, "level=info msg=\"m\" a=1 b=?");
}
END_TEST

START_TEST(test_log_line_is_bounded)
{
	char buf[64], big[300];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ch_log_format_kv(buf, sizeof(buf), "info", "m", "a=\"%s\" b=%s", "x", big);
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	/* a quoted value cut short says so and still closes its quotes */
	ch_log_format_kv(buf, sizeof(buf), "info", "m", "v=%s", big + 200);
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	ck_assert_str_eq(buf + strlen(buf) - 4, "qqqq");
	big[250] = ' ';
	ch_log_format_kv(buf, sizeof(buf), "info", "m", "v=%s", big + 200);
	ck_assert_str_eq(buf + strlen(buf) - 4, "...\"");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_label_value_escaping);
	tcase_add_test(tc, test_help_escaping_and_family_header);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_metric_names);
	tcase_add_test(tc, test_text_cap);
	tcase_add_test(tc, test_histogram_cumulative_buckets);
	tcase_add_test(tc, test_histogram_seconds_from_nanoseconds);
	tcase_add_test(tc, test_commit_histograms);
	tcase_add_test(tc, test_event_types_are_a_closed_set);
	tcase_add_test(tc, test_rejection_reasons);
	tcase_add_test(tc, test_endpoint_labels);
	tcase_add_test(tc, test_handler_outcomes);
	tcase_add_test(tc, test_backlog_and_gauges);
	tcase_add_test(tc, test_exposition_structure);
	tcase_add_test(tc, test_metrics_key);
	tcase_add_test(tc, test_log_fields);
	tcase_add_test(tc, test_log_escapes_and_numbers);
	tcase_add_test(tc, test_log_line_is_bounded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
