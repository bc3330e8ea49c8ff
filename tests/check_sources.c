/* check_sources.c - the per-address table behind the per-source limits
 * (src/sources.c): keys, connection counts, the token bucket, and the bound
 * on its size. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sources.h"

#define SEC 1000000LL

static struct ch_source_key v4(const char *addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(1234)};
	struct ch_source_key key;

	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	ck_assert(ch_source_key_of((struct sockaddr *)&sin, &key));
	return key;
}

static struct ch_source_key v6(const char *addr, bool *loopback)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(1234)};
	struct ch_source_key key;

	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	ck_assert(ch_source_key_of((struct sockaddr *)&sin6, &key));
	if (loopback != NULL)
		*loopback = ch_source_is_loopback((struct sockaddr *)&sin6);
	return key;
}

static struct ch_source_key nth(unsigned n)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "10.%u.%u.%u", (n >> 16) & 255, (n >> 8) & 255, n & 255);
	return v4(addr);
}

START_TEST(test_keys)
{
	struct ch_source_key a = v4("192.0.2.7"), b;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr sa = {.sa_family = AF_UNIX};
	bool lo;

	/* an IPv4-mapped address is its IPv4 address */
	b = v6("::ffff:192.0.2.7", &lo);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	ck_assert(!lo);
	/* IPv6 counts by /64 */
	a = v6("2001:db8:1:2::1", &lo);
	b = v6("2001:db8:1:2:ffff:1:2:3", NULL);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	b = v6("2001:db8:1:3::1", NULL);
	ck_assert(memcmp(&a, &b, sizeof(a)) != 0);
	v6("::1", &lo);
	ck_assert(lo);
	v6("::ffff:127.0.0.9", &lo);
	ck_assert(lo);
	inet_pton(AF_INET, "127.3.2.1", &sin.sin_addr);
	ck_assert(ch_source_is_loopback((struct sockaddr *)&sin));
	inet_pton(AF_INET, "128.0.0.1", &sin.sin_addr);
	ck_assert(!ch_source_is_loopback((struct sockaddr *)&sin));
	ck_assert(!ch_source_key_of(&sa, &a));
}
END_TEST

START_TEST(test_connection_counts)
{
	struct ch_sources *s = ch_sources_new(8);
	struct ch_source_key a = nth(1), b = nth(2);

	ck_assert_int_eq(ch_sources_opened(s, &a), 1);
	ck_assert_int_eq(ch_sources_opened(s, &a), 2);
	ck_assert_int_eq(ch_sources_opened(s, &b), 1);
	ch_sources_closed(s, &a);
	ck_assert_int_eq(ch_sources_opened(s, &a), 2);
	ck_assert_uint_eq(ch_sources_count(s), 2);
	ch_sources_free(s);
}
END_TEST

/* A flood of addresses: the table keeps its size, forgetting the oldest
 * address without connections first, never one with a connection open. */
START_TEST(test_bounded_least_recent_first)
{
	struct ch_sources *s = ch_sources_new(64);
	struct ch_source_key pinned = nth(1), recent = nth(2), old = nth(3), k;

	ck_assert_int_eq(ch_sources_opened(s, &pinned), 1);
	ck_assert_int_eq(ch_sources_take(s, &old, 1, 1, 1 * SEC), 0); /* bucket now empty */
	ck_assert_int_eq(ch_sources_take(s, &recent, 1, 1, 1 * SEC), 0);
	for (unsigned i = 0; i < 61; i++) {
		k = nth(1000 + i);
		ck_assert_int_eq(ch_sources_take(s, &k, 1, 1, 1 * SEC), 0);
	}
	ck_assert_uint_eq(ch_sources_count(s), 64); /* full */
	/* recent is seen again: now old is the least recent */
	ck_assert_int_eq(ch_sources_take(s, &recent, 1, 1, 1 * SEC), 1);
	k = nth(5000);
	ch_sources_take(s, &k, 1, 1, 1 * SEC);
	ck_assert_uint_eq(ch_sources_count(s), 64);
	/* old was forgotten: a fresh, full bucket; recent was not: still empty */
	ck_assert_int_eq(ch_sources_take(s, &old, 1, 1, 1 * SEC), 0);
	ck_assert_int_eq(ch_sources_take(s, &recent, 1, 1, 1 * SEC), 1);
	/* many more: the pinned address keeps its count through all of it */
	for (unsigned i = 0; i < 10000; i++) {
		k = nth(20000 + i);
		ch_sources_take(s, &k, 1, 1, 2 * SEC);
	}
	ck_assert_uint_eq(ch_sources_count(s), 64);
	ck_assert_int_eq(ch_sources_opened(s, &pinned), 2);
	ch_sources_free(s);
}
END_TEST

/* Only addresses with connections open make it grow. */
START_TEST(test_grows_only_for_open_connections)
{
	struct ch_sources *s = ch_sources_new(16);
	struct ch_source_key k;

	for (unsigned i = 0; i < 40; i++) {
		k = nth(i);
		ck_assert_int_eq(ch_sources_opened(s, &k), 1);
	}
	ck_assert_uint_eq(ch_sources_count(s), 40);
	for (unsigned i = 0; i < 40; i++) {
		k = nth(i);
		ck_assert_int_eq(ch_sources_opened(s, &k), 2); /* every count survived */
		ch_sources_closed(s, &k);
		ch_sources_closed(s, &k);
	}
	for (unsigned i = 0; i < 1000; i++) {
		k = nth(100 + i);
		ch_sources_take(s, &k, 1, 1, SEC);
	}
	ck_assert_uint_eq(ch_sources_count(s), 64); /* grown to 64 for them, bounded since */
	ch_sources_free(s);
}
END_TEST

START_TEST(test_token_bucket)
{
	struct ch_sources *s = ch_sources_new(8);
	struct ch_source_key a = nth(7);
	int64_t t = 100 * SEC;

	/* 2 per second, burst 4: four at once, then one every half second */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t), 0);
	ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t), 1); /* 0.5 s, rounded up */
	ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t + SEC / 2), 0);
	ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t + SEC / 2), 1);
	/* a long pause refills to the burst, not beyond */
	t += 3600 * SEC;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t), 0);
	ck_assert_int_eq(ch_sources_take(s, &a, 2, 4, t), 1);
	/* 6 per minute: the wait is whole seconds, rounded up */
	ck_assert_int_eq(ch_sources_take(s, &a, 0.1, 1, t + 3 * SEC), 7);
	ck_assert_int_eq(ch_sources_take(s, &a, 0.1, 1, t + 10 * SEC), 0);
	/* a clock that goes back refills nothing */
	ck_assert_int_eq(ch_sources_take(s, &a, 0.1, 1, t), 10);
	ch_sources_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sources");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_connection_counts);
	tcase_add_test(tc, test_bounded_least_recent_first);
	tcase_add_test(tc, test_grows_only_for_open_connections);
	tcase_add_test(tc, test_token_bucket);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
