/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "ossl/ossl-util.h"

int cp_ossl_error_at(const char *file, int line, int code, const char *fmt, ...) {
        char msg[CP_ERROR_MESSAGE_MAX];
        char reason[256] = "";
        unsigned long e;
        va_list ap;

        va_start(ap, fmt);
        if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
                msg[0] = '\0';
        va_end(ap);

        /* The first (oldest) entry is usually the root cause; drain the rest. */
        e = ERR_get_error();
        if (e != 0)
                ERR_error_string_n(e, reason, sizeof(reason));
        ERR_clear_error();

        if (reason[0])
                return cp_error_set_at(file, line, code, "%s: %s", msg, reason);
        return cp_error_set_at(file, line, code, "%s", msg);
}

void cp_ossl_clear(void) {
        ERR_clear_error();
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

int cp_ossl_time_to_unix(const ASN1_TIME *t, int64_t *ret) {
        struct tm tm = { 0 };

        if (!t)
                return CP_ERROR(CP_EFORMAT, "missing time");
        /* ASN1_TIME_to_tm validates the UTCTime/GeneralizedTime syntax. */
        if (ASN1_TIME_to_tm(t, &tm) != 1)
                return CP_OSSL_ERROR(CP_EFORMAT, "malformed ASN.1 time");
        int64_t days = days_from_civil((int64_t) tm.tm_year + 1900, (unsigned) tm.tm_mon + 1, (unsigned) tm.tm_mday);
        *ret = days * 86400 + (int64_t) tm.tm_hour * 3600 + (int64_t) tm.tm_min * 60 + tm.tm_sec;
        return 0;
}

void cp_unix_to_iso(int64_t t, char *buf, size_t cap) {
        /* civil_from_days (H. Hinnant) */
        int64_t z = (t >= 0 ? t : t - 86399) / 86400;
        int64_t secs = t - z * 86400;
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t y = (int64_t) yoe + era * 400;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        y += m <= 2;
        snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long) y, m, d, (unsigned) (secs / 3600),
                 (unsigned) (secs / 60 % 60), (unsigned) (secs % 60));
}
