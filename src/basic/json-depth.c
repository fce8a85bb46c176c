/* SPDX-License-Identifier: Apache-2.0 */
#include "basic/cursor.h"
#include "basic/json-depth.h"

bool cp_json_depth_within(const void *json, size_t len, unsigned max_depth, size_t *ret_offset) {
        cp_cursor c = cp_cursor_make(json, len);
        unsigned depth = 0;
        bool in_string = false, escaped = false;
        uint8_t ch;

        while (cp_cursor_remaining(&c) > 0 && cp_cursor_u8(&c, &ch) == 0) {
                if (in_string) {
                        if (escaped)
                                escaped = false;
                        else if (ch == '\\')
                                escaped = true;
                        else if (ch == '"')
                                in_string = false;
                        continue;
                }
                if (ch == '"')
                        in_string = true;
                else if (ch == '[' || ch == '{') {
                        if (++depth > max_depth) {
                                if (ret_offset)
                                        *ret_offset = cp_cursor_offset(&c) - 1;
                                return false;
                        }
                } else if ((ch == ']' || ch == '}') && depth > 0)
                        depth--;
        }
        return true;
}
