/* writelock.c - see writelock.h.  A ticket lock: FIFO, so neither the intake
 * writer nor a busy handler worker can starve the other. */
#include "writelock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "clocks.h"

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static unsigned long next_ticket, serving, abandoned[64];
static unsigned n_abandoned;
static atomic_uint waiting; /* threads in ch_write_lock, read without the mutex */
static atomic_ulong intake_waits;
static _Thread_local bool is_intake;

/* A waiter that timed out leaves its ticket behind: skip it when it comes up. */
static void skip_abandoned(void)
{
	for (unsigned i = 0; i < n_abandoned;) {
		if (abandoned[i] == serving) {
			serving++;
			abandoned[i] = abandoned[--n_abandoned];
			i = 0;
		} else {
			i++;
		}
	}
}

int ch_write_lock(long timeout_ms)
{
	struct timespec deadline;
	unsigned long ticket;
	int rc = 0;

	if (timeout_ms >= 0)
		deadline = ch_deadline_us(CLOCK_REALTIME, (int64_t)timeout_ms * 1000);
	pthread_mutex_lock(&mutex);
	ticket = next_ticket++;
	atomic_fetch_add(&waiting, 1);
	if (is_intake && ticket != serving)
		atomic_fetch_add(&intake_waits, 1);
	while (ticket != serving) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&turn, &mutex);
		} else if (pthread_cond_timedwait(&turn, &mutex, &deadline) != 0 &&
		           ticket != serving) {
			if (n_abandoned < sizeof(abandoned) / sizeof(abandoned[0])) {
				abandoned[n_abandoned++] = ticket;
				rc = -1;
				break;
			}
			/* no room to leave the ticket: keep waiting rather than lose order */
		}
	}
	atomic_fetch_sub(&waiting, 1);
	pthread_mutex_unlock(&mutex);
	return rc;
}

void ch_write_lock_is_intake(void)
{
	is_intake = true;
}

unsigned long ch_write_intake_waits(void)
{
	return atomic_load(&intake_waits);
}

unsigned ch_write_waiters(void)
{
	return atomic_load(&waiting);
}

bool ch_write_contended(void)
{
	return ch_write_waiters() > 0;
}

void ch_write_unlock(void)
{
	pthread_mutex_lock(&mutex);
	serving++;
	skip_abandoned();
	pthread_cond_broadcast(&turn);
	pthread_mutex_unlock(&mutex);
}
