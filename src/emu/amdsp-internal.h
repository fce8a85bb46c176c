/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_AMDSP_INTERNAL_H
#define CP_SHARED_AMDSP_INTERNAL_H

/* Shared between amdsp.c (host, certificates), amdsp_kds.c (KDS endpoint),
 * amdsp_guest.c (launch, guest requests) and amdsp_chan.c (unix-socket frames).  Functions named
 * amdsp_* expect the host lock to be held. */

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "basic/secure.h"
#include "emu/amdsp.h"

#define AMDSP_SECRET_LEN     64u
#define AMDSP_MAX_TCBS       64u
#define AMDSP_MAX_REVOKED    256u
/* LAUNCH_MIT_VECTOR / CURRENT_MIT_VECTOR of v5 reports: what a real Genoa
 * (firmware 1.55.43, realdata project-oak genoa_oc_evidence) reports */
#define AMDSP_MIT_VECTOR     UINT64_C(0x1)

typedef struct amdsp_guest {
        uint32_t handle;
        cp_amdsp_launch launch;
        uint64_t launch_tcb;
        uint8_t report_id[32];
        uint8_t vmpck[CP_SNP_VMPCK_COUNT][CP_SNP_VMPCK_LEN];
        uint64_t last_seqno[CP_SNP_VMPCK_COUNT]; /* last response sequence number per VMPCK */
} amdsp_guest;

struct cp_amdsp {
        pthread_mutex_t lock;
        char *dir;
        cp_snp_generation gen;
        uint8_t chip_id[64];
        cp_secret *secret;
        cp_snp_tcb tcb;
        uint64_t tcbs[AMDSP_MAX_TCBS]; /* raw TCB values this host has run at */
        size_t n_tcbs;
        uint8_t fw_major, fw_minor, fw_build;
        uint64_t platform_info;
        uint32_t report_version;
        bool mask_chip_key, mask_chip_id;
        int64_t created;
        char csp_id[256];
        bool has_vlek;
        EVP_PKEY *ark_key, *ask_key, *asvk_key;
        X509 *ark, *ask, *asvk;
        uint8_t revoked[AMDSP_MAX_REVOKED][20];
        uint8_t revoked_len[AMDSP_MAX_REVOKED];
        size_t n_revoked;
        /* signing key cache: the current TCB's VCEK / VLEK */
        EVP_PKEY *vcek_key, *vlek_key;
        uint64_t vcek_key_tcb, vlek_key_tcb;
        amdsp_guest **guests;
        size_t n_guests;
        struct cp_svc *kds_svc; /* the KDS routes, made by the first cp_amdsp_kds_start */
};

uint64_t amdsp_tcb_raw(const cp_amdsp *sp);
/* Derive the P-384 key of the VCEK (vlek false) or VLEK at raw TCB. */
int amdsp_derive_key(const cp_amdsp *sp, bool vlek, uint64_t tcb_raw, EVP_PKEY **ret);
/* Leaf certificate DER for raw TCB (issued on first use, then cached). */
int amdsp_leaf_der(cp_amdsp *sp, bool vlek, uint64_t tcb_raw, uint8_t **ret, size_t *ret_len);
int amdsp_x509_der(X509 *x, uint8_t **ret, size_t *ret_len);
/* Signing key for the current TCB (cached). */
int amdsp_signing_key(cp_amdsp *sp, bool vlek, EVP_PKEY **ret_borrowed);

void amdsp_guests_free(cp_amdsp *sp);
void amdsp_kds_free(cp_amdsp *sp);

/* Bytes of CHIP_ID that are the KDS hwID (Turin: 8, else 64). */
size_t amdsp_hwid_len(cp_snp_generation g);

#endif
