/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_JMESPATH_H
#define CP_SHARED_JMESPATH_H

/*
 * JMESPath (https://jmespath.org/specification.html) over jansson values.
 *
 * Compile once, search many times.  A compiled expression is immutable and
 * may be searched from several threads at once.  The whole grammar and the
 * 26 built-in functions are implemented; the implementation passes every case
 * of the official compliance suite (tests/data/jmespath).
 *
 * Errors: functions return 0 or a negative cp_err and set the thread's last
 * error with a message "jmespath <type> error at position N: ...".  The
 * JMESPath error type of the last failure of this thread is returned by
 * cp_jmespath_last_error_type():
 *   syntax, unknown-function, invalid-arity   -> CP_EFORMAT (at compile time)
 *   invalid-value (slice step 0)              -> CP_EINVAL  (at compile time)
 *   invalid-type, invalid-value               -> CP_EINVAL  (at search time)
 *   a limit of src/basic/limits.h exceeded    -> CP_ETOOBIG (type "limit")
 *
 * Numbers compare by value (1 == 1.0); objects compare without regard to key
 * order; objects built by multi-select hashes keep the expression's key order.
 */

#include <jansson.h>
#include <stddef.h>

#include "confpool/error.h"

typedef struct cp_jmespath cp_jmespath;

typedef enum cp_jmespath_errtype {
        CP_JMESPATH_ERR_NONE = 0,
        CP_JMESPATH_ERR_SYNTAX,
        CP_JMESPATH_ERR_INVALID_TYPE,
        CP_JMESPATH_ERR_INVALID_VALUE,
        CP_JMESPATH_ERR_INVALID_ARITY,
        CP_JMESPATH_ERR_UNKNOWN_FUNCTION,
        CP_JMESPATH_ERR_LIMIT,          /* not a JMESPath type: a limits.h limit */
        _CP_JMESPATH_ERR_MAX,
} cp_jmespath_errtype;

/* Compile expr (NUL-terminated, at most CP_MAX_JMESPATH_EXPR bytes). */
CP_WUR int cp_jmespath_compile(const char *expr, cp_jmespath **ret);
/* Evaluate e against data (borrowed).  *ret is a new reference, never NULL on
 * success (json_null() when the result is null). */
CP_WUR int cp_jmespath_search(const cp_jmespath *e, json_t *data, json_t **ret);
cp_jmespath *cp_jmespath_free(cp_jmespath *e);
/* The expression text as compiled. */
const char *cp_jmespath_expression(const cp_jmespath *e);

/* Error type of this thread's last failed compile/search (NONE after a
 * success), and its spelling as used by the compliance suite
 * ("syntax", "invalid-type", ..., "limit"; "" for NONE). */
cp_jmespath_errtype cp_jmespath_last_error_type(void);
const char *cp_jmespath_errtype_name(cp_jmespath_errtype t);

/* JMESPath comparison helpers, exported for tests and the output code:
 * deep equality with numeric equality of numbers and unordered objects. */
int cp_jmespath_equal(const json_t *a, const json_t *b);

/* A double formatted as Python's repr() does (shortest round-trip digits,
 * "1.0", "1e+16", "1.5e-05"); buf needs 32 bytes.  Returns the length. */
size_t cp_jmespath_format_real(double d, char *buf, size_t size);

/* JSON text of v the way Python's json.dumps(v, ensure_ascii=False) writes
 * it: compact (",", ":") when indent < 0, else one item per line with
 * `indent` spaces and ": "; keys sorted by code point when sort_keys.
 * Malloc'd, NUL-terminated. */
CP_WUR int cp_jmespath_dump(const json_t *v, int indent, int sort_keys, char **ret);

#endif
