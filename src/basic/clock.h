/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_CLOCK_H
#define CP_BASIC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME now + ms, normalised: the deadline of a
 * pthread_cond_timedwait on a condition variable of the default clock. */
struct timespec cp_realtime_in_ms(unsigned ms);
/* clock (CLOCK_MONOTONIC for a condition variable set to it) now + ms, normalised. */
struct timespec cp_clock_in_ms(clockid_t clock, unsigned ms);
/* CLOCK_MONOTONIC in ms (intervals, ages). */
int64_t cp_monotonic_ms(void);

#endif
