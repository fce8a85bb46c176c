/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CONFPOOL_CONFPOOL_H
#define CONFPOOL_CONFPOOL_H

/* Umbrella header of libconfpool. */

#include "confpool/error.h"
#include "confpool/snp_report.h"

#define CONFPOOL_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif
CP_API const char *cp_version(void);
#ifdef __cplusplus
}
#endif
#endif
