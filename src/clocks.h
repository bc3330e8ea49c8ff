/* clocks.h - a clock read in microseconds, and "so long from now" as the
 * absolute struct timespec that pthread_cond_timedwait and
 * pthread_timedjoin_np take. */
#ifndef CH_CLOCKS_H
#define CH_CLOCKS_H

#include <stdint.h>
#include <time.h>

/* clock now, in microseconds: CLOCK_REALTIME for times that are stored or
 * shown, CLOCK_MONOTONIC for durations and timeouts. */
int64_t ch_clock_us(clockid_t clock);
/* us microseconds from now on clock: CLOCK_REALTIME for a default condition
 * variable or a join, the clock a condition variable was set to otherwise. */
struct timespec ch_deadline_us(clockid_t clock, int64_t us);

#endif
