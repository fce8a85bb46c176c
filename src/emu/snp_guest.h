/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_SNP_GUEST_H
#define CP_SHARED_SNP_GUEST_H

/*
 * Guest side of SEV-SNP attestation: get an ATTESTATION_REPORT (and the
 * extended report's certificate table) for guest-chosen REPORT_DATA over
 *   - Linux /dev/sev-guest (SNP_GET_REPORT / SNP_GET_EXT_REPORT ioctls,
 *     kernel uapi structs, certs_len retry protocol),
 *   - configfs-tsm (/sys/kernel/config/tsm/report/<entry>: inblob,
 *     privlevel, outblob, auxblob, provider, generation),
 *   - the software AMD-SP's unix socket (amdsp.h): the guest encrypts the
 *     MSG_REPORT_REQ under its VMPCK from the secrets page itself, so the
 *     socket carries only ciphertext, as the hypervisor sees it on hardware.
 * Device path, configfs root and the ioctl call are configurable so the
 * first two can be exercised without SNP hardware.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "confpool/snp_report.h"

typedef enum cp_snp_transport {
        CP_SNP_TRANSPORT_AUTO = 0,   /* configfs-tsm, then /dev/sev-guest, then the socket if given */
        CP_SNP_TRANSPORT_SEV_GUEST,
        CP_SNP_TRANSPORT_CONFIGFS_TSM,
        CP_SNP_TRANSPORT_EMULATED,
        _CP_SNP_TRANSPORT_MAX,
} cp_snp_transport;

const char *cp_snp_transport_name(cp_snp_transport t);
/* "auto", "sev-guest", "configfs-tsm", "emulated" */
CP_WUR int cp_snp_transport_from_name(const char *s, cp_snp_transport *ret);

/* Kernel uapi (include/uapi/linux/sev-guest.h), same layout. */
struct cp_snp_guest_request_ioctl {
        uint8_t msg_version;
        uint64_t req_data;
        uint64_t resp_data;
        uint64_t exitinfo2; /* bits 31:0 fw_error, 63:32 vmm_error */
};
struct cp_snp_report_req_uapi {
        uint8_t user_data[64];
        uint32_t vmpl;
        uint8_t rsvd[28];
};
struct cp_snp_report_resp_uapi {
        uint8_t data[4000];
};
struct cp_snp_ext_report_req_uapi {
        struct cp_snp_report_req_uapi data;
        uint64_t certs_address;
        uint32_t certs_len;
};
#define CP_SNP_GET_REPORT     0xC0205300ul /* _IOWR('S', 0x0, struct snp_guest_request_ioctl) */
#define CP_SNP_GET_EXT_REPORT 0xC0205302ul /* _IOWR('S', 0x2, ...) */
#define CP_SNP_VMM_ERR_INVALID_LEN 1u

typedef int (*cp_snp_ioctl_fn)(int fd, unsigned long request, void *arg, void *userdata);

enum {
        CP_SNP_TSM_EVENT_CREATED = 1, /* after mkdir of the entry */
        CP_SNP_TSM_EVENT_WRITTEN,     /* after inblob and privlevel were written */
        CP_SNP_TSM_EVENT_REMOVING,    /* before rmdir */
};
typedef void (*cp_snp_tsm_hook_fn)(const char *entry_dir, int event, void *userdata);

typedef struct cp_snp_guest_options {
        cp_snp_transport transport;
        /* sev-guest */
        const char *sev_guest_path;      /* NULL: /dev/sev-guest */
        cp_snp_ioctl_fn ioctl_fn;        /* NULL: ioctl(2) */
        void *ioctl_userdata;
        /* configfs-tsm */
        const char *tsm_root;            /* NULL: /sys/kernel/config/tsm/report */
        cp_snp_tsm_hook_fn tsm_hook;     /* emulates the kernel in tests; NULL normally */
        void *tsm_userdata;
        /* emulated */
        const char *socket_path;
        uint32_t guest_handle;
        uint8_t *secrets_page;           /* CP_SNP_SECRETS_PAGE_SIZE bytes; its sequence counters are updated */
        unsigned vmpck;                  /* which VMPCK to use (0..3) */
        uint32_t key_sel;                /* CP_SNP_KEY_SEL_* */
} cp_snp_guest_options;

typedef struct cp_snp_guest_report {
        uint8_t report[CP_SNP_REPORT_SIZE];
        uint8_t *certs;                  /* certificate table (extended), malloc()ed or NULL */
        size_t certs_len;
        cp_snp_transport transport;      /* the one used */
} cp_snp_guest_report;

/* Get a report for report_data at vmpl.  Errors: CP_ENOTFOUND (no transport
 * available), CP_EIO (device / socket failures, firmware refusal),
 * CP_EINVAL (firmware status INVALID_PARAM, e.g. a VMPL below the VMPCK's),
 * CP_ESIG (response failed authentication: the VMPCK is then wiped from the
 * secrets page, as Linux does), CP_EFORMAT/CP_ETRUNC (malformed answers),
 * CP_EBADSEQ (configfs generation changed: concurrent writer). */
CP_WUR int cp_snp_guest_get_report(const cp_snp_guest_options *o, const uint8_t report_data[64], uint32_t vmpl,
                                   bool extended, cp_snp_guest_report *ret);
void cp_snp_guest_report_clear(cp_snp_guest_report *r);

#endif
