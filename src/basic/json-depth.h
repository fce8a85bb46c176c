/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_JSON_DEPTH_H
#define CP_BASIC_JSON_DEPTH_H

/* Helpers for untrusted JSON handed to jansson. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bound the nesting depth before jansson (whose own limit is 2048) builds a
 * tree: count [ and { outside strings.  Returns false, with the offset of
 * the bracket that went too deep in *ret_offset, if max_depth is exceeded. */
bool cp_json_depth_within(const void *json, size_t len, unsigned max_depth, size_t *ret_offset);

#endif
