/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_AGENT_DISKKEY_H
#define CP_AGENT_DISKKEY_H

/*
 * The node's disk-key step behind a small interface, selected by node.json:
 *
 *  - "kbs" (diskKey: {provider, url, diskId, releaseToken}), the real one:
 *    secure key release from the key broker (confpool-kbsd,
 *    POST /disks/{id}/release) with the node's attestation token; the broker
 *    checks the token (trusted authority, signature, times), the disk's
 *    release policy (debugging off, the node image's measurement) and wraps
 *    the disk key to the TEE RSA key in the token's x-ms-runtime.keys; the
 *    agent unwraps it with the TEE private key, which never left its memory.
 *    The disk is LUKS2 (src/shared/nodedisk.h).
 *
 *  - "local-standin" (diskKeyStandin), ONLY for a local backend configured
 *    without a key broker: reads the key the backend left in the node
 *    directory (disk-key.standin).  It ignores the token: it releases the key
 *    to anyone who can read the file, whatever the attestation said.
 */

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "confpool/error.h"

#define CP_DISK_KEY_LEN 32u

typedef struct cp_diskkey_provider {
        const char *name;
        /* Release the disk key of node `name` to the holder of `token`. */
        int (*release)(void *userdata, const char *token, const char *name, uint8_t ret_key[CP_DISK_KEY_LEN]);
        void *userdata;
} cp_diskkey_provider;

/* The stand-in (no broker configured): userdata is the path of the key file. */
void cp_diskkey_standin(const char *key_path, cp_diskkey_provider *ret);

typedef struct cp_diskkey_kbs_config {
        const char *url;           /* the key broker */
        const char *disk_id;       /* the broker's id of this node's disk */
        const char *release_token; /* release-scope bearer */
        EVP_PKEY *tee;             /* the TEE key whose public half is in the token */
        unsigned tries;            /* attempts while the broker is away or not ready (0: 1) */
        const volatile sig_atomic_t *stop; /* set: no further attempt (may be NULL) */
} cp_diskkey_kbs_config;

/* The key broker's secure key release; userdata is cfg (borrowed).  A
 * refusal (4xx) is final; the broker away or not ready (a transport error,
 * 429, 5xx: a restart, the attestation service's keys not fetched yet) is
 * CP_ENETWORK, tried again a second later up to cfg->tries times. */
void cp_diskkey_kbs(cp_diskkey_kbs_config *cfg, cp_diskkey_provider *ret);

/* Open the disk image: its header must be "CPDISK01" followed by
 * HMAC-SHA256(key, "confpool-disk:" name) (constant-time compare).
 * CP_ESIG if the key does not open it, CP_EFORMAT for a foreign header. */
CP_WUR int cp_disk_open(const char *image_path, const char *name, const uint8_t key[CP_DISK_KEY_LEN]);

#endif
