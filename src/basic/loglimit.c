/* SPDX-License-Identifier: Apache-2.0 */
#include <time.h>

#include "basic/loglimit.h"

void cp_log_limit_init(cp_log_limit *l, unsigned burst, unsigned period_s) {
        *l = (cp_log_limit){ .burst = burst ? burst : CP_LOG_LIMIT_BURST,
                             .period_s = period_s ? period_s : CP_LOG_LIMIT_PERIOD_S, .window = INT64_MIN };
        pthread_mutex_init(&l->mu, NULL);
}

void cp_log_limit_destroy(cp_log_limit *l) {
        pthread_mutex_destroy(&l->mu);
}

bool cp_log_limit_take(cp_log_limit *l, int64_t now_s, unsigned long *ret_summary) {
        bool ok;
        *ret_summary = 0;
        pthread_mutex_lock(&l->mu);
        if (l->window == INT64_MIN || now_s < l->window || now_s - l->window >= (int64_t) l->period_s) {
                *ret_summary = l->suppressed;
                l->window = now_s;
                l->used = 0;
                l->suppressed = 0;
        }
        ok = l->used < l->burst;
        if (ok)
                l->used++;
        else {
                l->suppressed++;
                l->total_suppressed++;
        }
        pthread_mutex_unlock(&l->mu);
        return ok;
}

unsigned long cp_log_limit_flush(cp_log_limit *l) {
        pthread_mutex_lock(&l->mu);
        unsigned long n = l->suppressed;
        l->suppressed = 0;
        pthread_mutex_unlock(&l->mu);
        return n;
}

int64_t cp_log_limit_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec;
}
