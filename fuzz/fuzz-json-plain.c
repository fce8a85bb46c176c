/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the plain-JSON fast path (libconfpool/json-plain.h) differentially
 * against jansson: whatever it accepts, json_loadb(JSON_REJECT_DUPLICATES)
 * within the same depth accepts as an equal tree, and its serializer writes
 * json_dumps(JSON_COMPACT)'s bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/json-depth.h"
#include "libconfpool/json-plain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEPTH 32u

static void same_dump(const json_t *v) {
        char *a = cp_json_dumps_plain(v), *b = json_dumps(v, JSON_COMPACT);
        if (!a || !b || strcmp(a, b) != 0)
                abort();
        free(a);
        free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_error_t jerr;
        size_t off;
        json_t *fast = cp_json_load_plain(data, size, DEPTH);
        bool shallow = cp_json_depth_within(data, size, DEPTH, &off);
        json_t *ref = shallow ? json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        if (fast) {
                if (!ref || !json_equal(fast, ref))
                        abort();
                same_dump(fast);
        }
        if (json_is_object(ref))
                same_dump(ref); /* escapes, non-ASCII, reals: the fallback */
        json_decref(fast);
        json_decref(ref);
        return 0;
}
