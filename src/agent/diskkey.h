/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_AGENT_DISKKEY_H
#define CP_AGENT_DISKKEY_H

/*
 * The node's disk-key step behind a small interface, so that the key
 * broker (issue 6, secure key release against the attestation token) plugs
 * in without touching the agent.
 *
 * STAND-IN, NOT THE REAL THING: the only provider today, "local-standin",
 * reads the key the local backend left in the node directory
 * (disk-key.standin).  It ignores the token: it releases the key to anyone
 * who can read the file, whatever the attestation said.  Replace it with
 * the key broker's client when it lands.
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#define CP_DISK_KEY_LEN 32u

typedef struct cp_diskkey_provider {
        const char *name;
        /* Release the disk key of node `name` to the holder of `token`. */
        int (*release)(void *userdata, const char *token, const char *name, uint8_t ret_key[CP_DISK_KEY_LEN]);
        void *userdata;
} cp_diskkey_provider;

/* The stand-in: userdata is the path of the key file. */
void cp_diskkey_standin(const char *key_path, cp_diskkey_provider *ret);

/* Open the disk image: its header must be "CPDISK01" followed by
 * HMAC-SHA256(key, "confpool-disk:" name) (constant-time compare).
 * CP_ESIG if the key does not open it, CP_EFORMAT for a foreign header. */
CP_WUR int cp_disk_open(const char *image_path, const char *name, const uint8_t key[CP_DISK_KEY_LEN]);

#endif
