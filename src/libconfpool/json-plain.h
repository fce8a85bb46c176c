/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_LIB_JSON_PLAIN_H
#define CP_LIB_JSON_PLAIN_H

/* A fast path for plain JSON (attestd's request bodies), read through the
 * cursor; jansson stays the parser of record for everything else. */

#include <stddef.h>

#include <jansson.h>

/* The tree json_loadb(JSON_REJECT_DUPLICATES) would build for an object of
 * plain JSON (ASCII strings without escapes, integers, true/false/null)
 * nested at most max_depth deep, read through a cp_cursor without jansson's
 * per-character stream; NULL for anything else (then use jansson, whose
 * errors are the ones to report). */
json_t *cp_json_load_plain(const void *buf, size_t len, unsigned max_depth);
/* json_dumps(v, JSON_COMPACT) of an object, byte for byte; plain trees
 * (ASCII strings without escapes, integers) are written without jansson's
 * per-character encoder.  NULL on OOM. */
char *cp_json_dumps_plain(const json_t *v);

#endif
