/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_SHARED_NODEDISK_H
#define CP_SHARED_NODEDISK_H

/*
 * A node's OS disk as the local backend writes it before first boot and the
 * agent opens it (docs/nodes.md): a small plaintext volume whose first
 * sector is a known label naming the disk, encrypted into a LUKS2 image
 * (aes-xts-plain64) whose keyslot passphrase is the 32-byte disk key the
 * key broker derives (platform-managed: HKDF(pool master, salt, disk id)).
 */

#include <stddef.h>
#include <stdint.h>

#include "confpool/error.h"

#define CP_NODEDISK_KEY_LEN 32u
#define CP_NODEDISK_SIZE (1u << 20)       /* plaintext bytes */
#define CP_NODEDISK_MAX_ID 100u

/* The known first sector: "CONFPOOL-NODE-DISK v1\n" "disk=<id>\n", zeros. */
CP_WUR int cp_nodedisk_label(const char *disk_id, uint8_t ret[512]);
/* Write the encrypted image at path (the plaintext never touches disk):
 * to path.tmp, fsync'd, then renamed, so an image at path is always whole. */
CP_WUR int cp_nodedisk_write(const char *path, const char *disk_id, const uint8_t key[CP_NODEDISK_KEY_LEN]);
/* Open the LUKS2 image in user space with key and compare its first
 * sector with the label of disk_id (constant time).  CP_ESIG when the key
 * does not open it or the sector differs; parser errors of cp_luks2. */
CP_WUR int cp_nodedisk_open(const char *path, const char *disk_id, const uint8_t key[CP_NODEDISK_KEY_LEN]);

#endif
