/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_CONTROLPLANE_DISKKEYS_H
#define CP_CONTROLPLANE_DISKKEYS_H

/*
 * The platform side of confidential OS disks (docs/nodes.md): at node
 * creation the backend asks the key broker (confpool-kbsd, admin scope) to
 * create the node's disk under the pool's master key, receives the disk key
 * wrapped to an ephemeral RSA key of its own, writes the LUKS2 image and
 * forgets the key; at node deletion it crypto-erases the disk in the broker.
 *
 * Pool master keys: one oct key per (pool, expected launch measurement),
 * named "pm-<32 hex of SHA-256(pool id, 0, measurement)>", created on first
 * use with an immutable release policy: the attestation authority that
 * issues node tokens, x-ms-attestation-type sevsnpvm,
 * x-ms-sevsnpvm-is-debuggable false and x-ms-sevsnpvm-launchmeasurement
 * equal to the node image's expected measurement.
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

typedef struct cp_diskkeys cp_diskkeys;

typedef struct cp_diskkeys_options {
        const char *kbs_url;       /* required: the broker's base URL */
        const char *admin_token;   /* required: admin-scope bearer (platform) */
        const char *release_token; /* required: release-scope bearer handed to nodes */
        const char *authority;     /* required: issuer of the node attestation tokens */
} cp_diskkeys_options;

CP_WUR int cp_diskkeys_new(const cp_diskkeys_options *o, cp_diskkeys **ret);
cp_diskkeys *cp_diskkeys_free(cp_diskkeys *d);
const char *cp_diskkeys_url(const cp_diskkeys *d);
const char *cp_diskkeys_release_token(const cp_diskkeys *d);

/* The broker's disk id of a node, scoped by its pool:
 * "osdisk-<cp_node_scope(pool id)>-<node name>"; CP_EINVAL for a name the
 * broker would refuse. */
CP_WUR int cp_diskkeys_disk_id(const char *pool_id, const char *node_name, char *ret, size_t size);
/* Ensure the pool master key, create the node's disk (an existing disk of
 * that id is crypto-erased first: its node is being created anew) with its
 * own release policy binding it to the node: the master's authority and
 * x-ms-sevsnpvm-hostdata equal to cp_node_host_data(pool id, name), so no
 * other node's token (of any pool) releases it; write the LUKS2 image at
 * image_path.  A disk of the node under the unscoped id of before (issue 13)
 * is crypto-erased.  The key is wiped before returning. */
/* The TEE whose claims the release policies name (issue 16): SEV-SNP's
 * (x-ms-sevsnpvm-launchmeasurement, -is-debuggable, -hostdata) or TDX's
 * (tdx_mrtd, tdx_td_attributes_debug, tdx_mrconfigid = SHA-256(identity)
 * || 16 zero bytes), with x-ms-attestation-type sevsnpvm / tdxvm. */
typedef enum cp_diskkey_tee {
        CP_DISKKEY_TEE_SNP = 0,
        CP_DISKKEY_TEE_TDX,
} cp_diskkey_tee;
typedef struct cp_diskkey_expect {
        cp_diskkey_tee tee;
        uint8_t measurement[48];      /* SNP launch measurement, or MRTD: in the pool master's policy */
        bool has_rtmr;                /* TDX: RTMR1 and RTMR2 of the image's boot, in the disk's own policy */
        uint8_t rtmr[4][48];
} cp_diskkey_expect;
CP_WUR int cp_diskkeys_provision(cp_diskkeys *d, const char *pool_id, const char *node_name,
                                 const cp_diskkey_expect *x, const char *image_path);
/* Crypto-erase (DELETE /disks/{id}); a disk the broker does not know is
 * already erased (0). */
CP_WUR int cp_diskkeys_erase(cp_diskkeys *d, const char *disk_id);
/* The broker's name of a pool master key ("pm-" + 32 hex; size >= 36). */
CP_WUR int cp_diskkeys_master_name(const char *pool_id, const uint8_t measurement[48], char *ret, size_t size);
/* Retire the pool master key of a measurement no longer accepted (after a
 * node-image upgrade): DELETE /keys/{name}, then purge DELETE
 * /deletedkeys/{name}; no disk can be released under it any more.  A key
 * the broker does not know is already retired (0).  Call only when no disk
 * of that master is left (their nodes deleted). */
CP_WUR int cp_diskkeys_retire(cp_diskkeys *d, const char *pool_id, const uint8_t measurement[48]);

/*
 * Kubernetes bootstrap tokens (docs/kubernetes.md "Attested join"): a key of
 * the broker made like a disk key (under the pool master of the node's
 * measurement, its own release policy binding it to the node's HOST_DATA),
 * "k8sboot-<scope>-<node>"; the platform receives the 32 bytes (the token is
 * their hex) and keeps only a hash; the node releases them with its
 * attestation token (POST /disks/{id}/release), so no other node and no
 * unattested guest can have them.  A new one at every call (the previous is
 * crypto-erased).  The pool master must be there (made by the node's
 * provisioning): CP_ENOTFOUND when it is not (retired with its measurement),
 * never made again here.
 */
CP_WUR int cp_diskkeys_bootstrap_id(const char *pool_id, const char *node_name, char *ret, size_t size);
CP_WUR int cp_diskkeys_bootstrap(cp_diskkeys *d, const char *pool_id, const char *node_name, cp_diskkey_tee tee,
                                 const uint8_t measurement[48], uint8_t ret_token[32]);

#endif
