/* SPDX-License-Identifier: Apache-2.0 */
#include "confpool/confpool.h"

const char *cp_version(void) {
        return CONFPOOL_VERSION_STRING;
}
