/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "basic/error.h"

static _Thread_local cp_error last_error;

static const struct {
        int code;
        const char *name;
        cp_err_category cat;
} err_table[] = {
        { CP_OK, "CP_OK", CP_ERRCAT_NONE },
        { CP_EINVAL, "CP_EINVAL", CP_ERRCAT_USAGE },
        { CP_EUNSUPPORTED, "CP_EUNSUPPORTED", CP_ERRCAT_USAGE },
        { CP_EBADSEQ, "CP_EBADSEQ", CP_ERRCAT_USAGE },
        { CP_ENOMEM, "CP_ENOMEM", CP_ERRCAT_INTERNAL },
        { CP_EIO, "CP_EIO", CP_ERRCAT_IO },
        { CP_ENOTFOUND, "CP_ENOTFOUND", CP_ERRCAT_IO },
        { CP_ENETWORK, "CP_ENETWORK", CP_ERRCAT_IO },
        { CP_ETOOBIG, "CP_ETOOBIG", CP_ERRCAT_PARSE },
        { CP_EAGAIN, "CP_EAGAIN", CP_ERRCAT_IO },
        { CP_ETRUNC, "CP_ETRUNC", CP_ERRCAT_PARSE },
        { CP_EFORMAT, "CP_EFORMAT", CP_ERRCAT_PARSE },
        { CP_EVERSION, "CP_EVERSION", CP_ERRCAT_PARSE },
        { CP_ETRAILING, "CP_ETRAILING", CP_ERRCAT_PARSE },
        { CP_EMBZ, "CP_EMBZ", CP_ERRCAT_PARSE },
        { CP_ESIG, "CP_ESIG", CP_ERRCAT_VERIFY },
        { CP_ECERT, "CP_ECERT", CP_ERRCAT_VERIFY },
        { CP_EUNTRUSTED, "CP_EUNTRUSTED", CP_ERRCAT_VERIFY },
        { CP_EEXPIRED, "CP_EEXPIRED", CP_ERRCAT_VERIFY },
        { CP_EREVOKED, "CP_EREVOKED", CP_ERRCAT_VERIFY },
        { CP_ETCB, "CP_ETCB", CP_ERRCAT_VERIFY },
        { CP_ECHIPID, "CP_ECHIPID", CP_ERRCAT_VERIFY },
        { CP_EBINDING, "CP_EBINDING", CP_ERRCAT_VERIFY },
        { CP_EPOLICY, "CP_EPOLICY", CP_ERRCAT_POLICY },
        { CP_ESTORAGE, "CP_ESTORAGE", CP_ERRCAT_STORAGE },
        { CP_ECONFLICT, "CP_ECONFLICT", CP_ERRCAT_STORAGE },
        { CP_EFENCED, "CP_EFENCED", CP_ERRCAT_STORAGE },
        { CP_ECRYPTO, "CP_ECRYPTO", CP_ERRCAT_INTERNAL },
        { CP_EINTERNAL, "CP_EINTERNAL", CP_ERRCAT_INTERNAL },
};

const char *cp_err_name(int code) {
        for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
                if (err_table[i].code == code)
                        return err_table[i].name;
        return "CP_E?";
}

cp_err_category cp_err_category_of(int code) {
        for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
                if (err_table[i].code == code)
                        return err_table[i].cat;
        return CP_ERRCAT_INTERNAL;
}

const char *cp_err_category_name(cp_err_category cat) {
        static const char *const names[_CP_ERRCAT_MAX] = {
                [CP_ERRCAT_NONE] = "none",         [CP_ERRCAT_USAGE] = "usage",
                [CP_ERRCAT_IO] = "io",             [CP_ERRCAT_PARSE] = "parse",
                [CP_ERRCAT_VERIFY] = "verify",     [CP_ERRCAT_POLICY] = "policy",
                [CP_ERRCAT_STORAGE] = "storage",   [CP_ERRCAT_INTERNAL] = "internal",
        };
        if (cat < 0 || cat >= _CP_ERRCAT_MAX)
                return "invalid";
        return names[cat];
}

int cp_error_setv_at(const char *file, int line, int code, const char *fmt, va_list ap) {
        last_error.code = code;
        last_error.file = file;
        last_error.line = line;
        if (vsnprintf(last_error.message, sizeof(last_error.message), fmt, ap) < 0)
                last_error.message[0] = '\0';
        return code;
}

int cp_error_set_at(const char *file, int line, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        cp_error_setv_at(file, line, code, fmt, ap);
        va_end(ap);
        return code;
}

int cp_error_wrap(const char *fmt, ...) {
        char prefix[CP_ERROR_MESSAGE_MAX];
        char old[CP_ERROR_MESSAGE_MAX];
        va_list ap;

        memcpy(old, last_error.message, sizeof(old));
        va_start(ap, fmt);
        if (vsnprintf(prefix, sizeof(prefix), fmt, ap) < 0)
                prefix[0] = '\0';
        va_end(ap);
        /* Truncation is fine: messages are bounded by design. */
        int n = snprintf(last_error.message, sizeof(last_error.message), "%s: %s", prefix, old);
        (void) n;
        return last_error.code;
}

int cp_error_oom(void) {
        static const char msg[] = "out of memory";
        last_error.code = CP_ENOMEM;
        last_error.file = NULL;
        last_error.line = 0;
        memcpy(last_error.message, msg, sizeof(msg));
        return CP_ENOMEM;
}

const cp_error *cp_error_last(void) {
        return &last_error;
}

const char *cp_error_message(void) {
        return last_error.message;
}

void cp_error_clear(void) {
        last_error.code = CP_OK;
        last_error.message[0] = '\0';
        last_error.file = NULL;
        last_error.line = 0;
}
