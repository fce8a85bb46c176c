/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_NODE_EVLOG_H
#define CP_SHARED_NODE_EVLOG_H

/*
 * A minimal builder for TCG PC Client crypto-agile event logs (TCG PC
 * Client Platform Firmware Profile, section 10): a TCG_PCClientPCREvent
 * header carrying the "Spec ID Event03" (SHA-256 only), then TCG_PCR_EVENT2
 * records with one SHA-256 digest each.  All integers little-endian.
 * Interim: to be replaced by include/confpool/tcg_eventlog.h (builder and
 * parser) once it lands.
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#define CP_EV_IPL                              0x0000000Du
#define CP_EV_SEPARATOR                        0x00000004u
#define CP_EV_NO_ACTION                        0x00000003u
#define CP_EV_EFI_BOOT_SERVICES_APPLICATION    0x80000003u
#define CP_EV_EFI_PLATFORM_FIRMWARE_BLOB       0x80000008u

typedef struct cp_node_evlog {
        uint8_t *buf;
        size_t len, cap;
} cp_node_evlog;

/* Starts the log with the Spec ID event. */
CP_WUR int cp_node_evlog_init(cp_node_evlog *l);
/* Appends one TCG_PCR_EVENT2 with the given digest and event data. */
CP_WUR int cp_node_evlog_add(cp_node_evlog *l, uint32_t pcr, uint32_t type, const uint8_t digest[32],
                             const void *data, size_t data_len);
void cp_node_evlog_done(cp_node_evlog *l);

#endif
