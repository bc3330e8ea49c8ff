/* deadline.h - "so long from now" as the absolute struct timespec that
 * pthread_cond_timedwait and pthread_timedjoin_np take. */
#ifndef CH_DEADLINE_H
#define CH_DEADLINE_H

#include <stdint.h>
#include <time.h>

/* us microseconds from now on clock: CLOCK_REALTIME for a default condition
 * variable or a join, the clock a condition variable was set to otherwise. */
struct timespec ch_deadline_us(clockid_t clock, int64_t us);

#endif
