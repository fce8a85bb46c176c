/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_LOGLIMIT_H
#define CP_BASIC_LOGLIMIT_H

/*
 * A rate limit for log lines an unauthenticated client can cause (a 401
 * audit line, an access log line of a refused request): at most `burst`
 * lines in each window of `period_s` seconds are written; the rest are
 * counted, and the count is reported in one summary line when the next
 * window begins (cp_log_limit_take hands it to the caller) or at the end
 * (cp_log_limit_flush), so that no refusal goes uncounted.  Thread-safe.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cp_log_limit {
        pthread_mutex_t mu;
        unsigned burst, period_s;
        int64_t window;              /* start of the current window (s) */
        unsigned used;               /* lines written in it */
        unsigned long suppressed;    /* lines not written in it */
        unsigned long total_suppressed;
} cp_log_limit;

#define CP_LOG_LIMIT_BURST 50u
#define CP_LOG_LIMIT_PERIOD_S 10u

/* burst/period_s 0: the defaults above. */
void cp_log_limit_init(cp_log_limit *l, unsigned burst, unsigned period_s);
void cp_log_limit_destroy(cp_log_limit *l);
/* One line at time now_s: true when it may be written.  *ret_summary: the
 * lines suppressed in the window that just ended (0: none), to be reported
 * (before this line) in one summary line. */
bool cp_log_limit_take(cp_log_limit *l, int64_t now_s, unsigned long *ret_summary);
/* The lines suppressed and not yet reported (for a summary at exit). */
unsigned long cp_log_limit_flush(cp_log_limit *l);
/* Monotonic seconds (the clock cp_log_limit_take expects). */
int64_t cp_log_limit_now(void);

#endif
