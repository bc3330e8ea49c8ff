/* check_writelock.c - the process's write lock: first come first served, a
 * timed-out waiter's turn is skipped, and only the journal writer's waits are
 * counted (what tells a handler worker that it held intake up). */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "writelock.h"

#define WAIT_LIMIT_MS 5000 /* bounded polls: a broken lock fails, never hangs */

struct contender {
	pthread_t thread;
	bool intake; /* calls ch_write_lock_is_intake() first */
	long timeout_ms;
	int rc;
	int order; /* when it got the lock, from next_order */
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_order;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *contend(void *arg)
{
	struct contender *c = arg;

	if (c->intake)
		ch_write_lock_is_intake();
	c->rc = ch_write_lock(c->timeout_ms);
	if (c->rc == 0) {
		pthread_mutex_lock(&order_lock);
		c->order = next_order++;
		pthread_mutex_unlock(&order_lock);
		ch_write_unlock();
	}
	return NULL;
}

/* Start c and return once it is queued behind the lock: n threads wait. */
static void start_waiting(struct contender *c, unsigned n)
{
	ck_assert_int_eq(pthread_create(&c->thread, NULL, contend, c), 0);
	for (int ms = 0; ch_write_waiters() < n; ms++) {
		ck_assert_msg(ms < WAIT_LIMIT_MS, "thread %u never queued", n);
		sleep_ms(1);
	}
	ck_assert(ch_write_contended());
}

START_TEST(test_intake_waits_are_counted)
{
	struct contender writer = {.intake = true, .timeout_ms = -1};
	unsigned long before = ch_write_intake_waits();

	/* Free lock: the writer takes it at once, no wait counted. */
	ck_assert_int_eq(pthread_create(&writer.thread, NULL, contend, &writer), 0);
	ck_assert_int_eq(pthread_join(writer.thread, NULL), 0);
	ck_assert_int_eq(writer.rc, 0);
	ck_assert_uint_eq(ch_write_intake_waits(), before);

	/* Held by a handler (this thread): the writer queues, one wait counted. */
	ck_assert_int_eq(ch_write_lock(-1), 0);
	start_waiting(&writer, 1);
	ck_assert_uint_eq(ch_write_intake_waits(), before + 1);
	ch_write_unlock();
	ck_assert_int_eq(pthread_join(writer.thread, NULL), 0);
	ck_assert_int_eq(writer.rc, 0);
	ck_assert_uint_eq(ch_write_intake_waits(), before + 1);
}
END_TEST

START_TEST(test_other_waits_are_not_counted)
{
	struct contender worker = {.intake = false, .timeout_ms = -1};
	unsigned long before = ch_write_intake_waits();

	ck_assert_int_eq(ch_write_lock(-1), 0);
	start_waiting(&worker, 1);
	ch_write_unlock();
	ck_assert_int_eq(pthread_join(worker.thread, NULL), 0);
	ck_assert_int_eq(worker.rc, 0);
	ck_assert_uint_eq(ch_write_intake_waits(), before);
	ck_assert(!ch_write_contended());
}
END_TEST

START_TEST(test_first_come_first_served)
{
	struct contender c[4];

	next_order = 0;
	ck_assert_int_eq(ch_write_lock(-1), 0);
	for (int i = 0; i < 4; i++) {
		c[i] = (struct contender){.timeout_ms = -1, .order = -1};
		start_waiting(&c[i], (unsigned)i + 1); /* queued before the next comes */
	}
	ch_write_unlock();
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(c[i].thread, NULL), 0);
		ck_assert_int_eq(c[i].rc, 0);
		ck_assert_int_eq(c[i].order, i);
	}
}
END_TEST

START_TEST(test_timeout_leaves_its_turn_behind)
{
	struct contender late = {.timeout_ms = 50}, next = {.timeout_ms = -1};

	ck_assert_int_eq(ch_write_lock(-1), 0);
	ck_assert_int_eq(pthread_create(&late.thread, NULL, contend, &late), 0);
	ck_assert_int_eq(pthread_join(late.thread, NULL), 0);
	ck_assert_int_eq(late.rc, -1); /* gave up while we held the lock */
	start_waiting(&next, 1);
	ch_write_unlock();
	/* The abandoned ticket is skipped: the next waiter gets its turn. */
	ck_assert_int_eq(pthread_join(next.thread, NULL), 0);
	ck_assert_int_eq(next.rc, 0);
	ck_assert_int_eq(ch_write_lock(0), 0);
	ch_write_unlock();
}
END_TEST

static Suite *writelock_suite(void)
{
	Suite *s = suite_create("writelock");
	TCase *tc = tcase_create("writelock");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_intake_waits_are_counted);
	tcase_add_test(tc, test_other_waits_are_not_counted);
	tcase_add_test(tc, test_first_come_first_served);
	tcase_add_test(tc, test_timeout_leaves_its_turn_behind);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(writelock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
