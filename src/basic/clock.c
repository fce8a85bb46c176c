/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/clock.h"

struct timespec cp_realtime_in_ms(unsigned ms) {
        return cp_clock_in_ms(CLOCK_REALTIME, ms);
}

struct timespec cp_clock_in_ms(clockid_t clock, unsigned ms) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        ts.tv_sec += (time_t) (ms / 1000u);
        ts.tv_nsec += (long) (ms % 1000u) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        return ts;
}

int64_t cp_monotonic_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
