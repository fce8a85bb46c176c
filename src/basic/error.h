/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_ERROR_H
#define CONFPOOL_ERROR_H

/*
 * One error enum for the whole project.  Every fallible function returns an
 * int: 0 on success or a negative cp_err on failure, and records a
 * thread-local "last error" (code, message, file:line) at the failure site.
 * Callers propagate the callee's code unchanged unless they deliberately
 * translate it.
 */

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CP_API __attribute__((visibility("default")))
#define CP_WUR __attribute__((warn_unused_result))

typedef enum cp_err {
        CP_OK = 0,
        /* usage */
        CP_EINVAL = -1,        /* invalid argument (programming or usage error) */
        CP_EUNSUPPORTED = -2,  /* valid but unsupported input or option */
        CP_EBADSEQ = -3,       /* call made in the wrong state */
        /* resources / io */
        CP_ENOMEM = -10,
        CP_EIO = -11,          /* file or device I/O */
        CP_ENOTFOUND = -12,    /* file, object or cache entry missing */
        CP_ENETWORK = -13,     /* fetch failed (HTTP/TLS/DNS) */
        CP_ETOOBIG = -14,      /* input exceeds a named limit */
        CP_EAGAIN = -15,       /* not now (rate-limited, a dependency not ready): try again; not a verdict */
        /* parse */
        CP_ETRUNC = -20,       /* input shorter than the structure */
        CP_EFORMAT = -21,      /* malformed structure or encoding */
        CP_EVERSION = -22,     /* unknown / unsupported version */
        CP_ETRAILING = -23,    /* trailing bytes after a complete structure */
        CP_EMBZ = -24,         /* reserved (must-be-zero) field non-zero */
        /* verification */
        CP_ESIG = -30,         /* signature does not verify */
        CP_ECERT = -31,        /* certificate malformed or chain invalid */
        CP_EUNTRUSTED = -32,   /* chain does not end in a trusted root */
        CP_EEXPIRED = -33,     /* certificate / CRL outside its validity */
        CP_EREVOKED = -34,     /* certificate revoked (or CRL problem) */
        CP_ETCB = -35,         /* endorsement TCB differs from the report */
        CP_ECHIPID = -36,      /* hwID differs from CHIP_ID */
        CP_EBINDING = -37,     /* report data / quote / nonce binding failed */
        /* policy */
        CP_EPOLICY = -40,      /* evidence valid but refused by policy */
        /* storage */
        CP_ESTORAGE = -50,
        CP_ECONFLICT = -51,    /* store: unique key taken, or a concurrent writer won (retry) */
        CP_EFENCED = -52,      /* store: a write fenced off (this replica is no longer the leader) */
        /* internal */
        CP_ECRYPTO = -60,      /* crypto library failure (not a verdict) */
        CP_EINTERNAL = -61,
} cp_err;

typedef enum cp_err_category {
        CP_ERRCAT_NONE = 0,
        CP_ERRCAT_USAGE,
        CP_ERRCAT_IO,
        CP_ERRCAT_PARSE,
        CP_ERRCAT_VERIFY,
        CP_ERRCAT_POLICY,
        CP_ERRCAT_STORAGE,
        CP_ERRCAT_INTERNAL,
        _CP_ERRCAT_MAX,
        _CP_ERRCAT_INVALID = -1,
} cp_err_category;

#define CP_ERROR_MESSAGE_MAX 512

typedef struct cp_error {
        int code;
        char message[CP_ERROR_MESSAGE_MAX];
        const char *file;
        int line;
} cp_error;

/* Name of a code ("CP_ESIG"), never NULL. */
CP_API const char *cp_err_name(int code);
/* Category of a code (CP_ERRCAT_NONE for CP_OK). */
CP_API cp_err_category cp_err_category_of(int code);
CP_API const char *cp_err_category_name(cp_err_category cat);

/* Record an error for this thread and return code (so callers can
 * `return CP_ERROR(CP_EFORMAT, "...")`).  Never put secrets in messages. */
CP_API int cp_error_set_at(const char *file, int line, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
CP_API int cp_error_setv_at(const char *file, int line, int code, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
/* Prefix the current message with more context ("while parsing VCEK: ...").
 * Returns the current code. */
CP_API int cp_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Allocation-free OOM setter. */
CP_API int cp_error_oom(void);
/* The last error of this thread (code CP_OK and empty message if none). */
CP_API const cp_error *cp_error_last(void);
CP_API const char *cp_error_message(void);
CP_API void cp_error_clear(void);

#define CP_ERROR(code, ...) cp_error_set_at(__FILE__, __LINE__, (code), __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
