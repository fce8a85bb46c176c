/* SPDX-License-Identifier: Apache-2.0 */
/* A node's LUKS2 OS disk: see nodedisk.h and docs/nodes.md. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/secure.h"
#include "confpool/luks2.h"
#include "node/nodedisk.h"

int cp_nodedisk_label(const char *disk_id, uint8_t ret[512]) {
        if (!disk_id || !*disk_id || strlen(disk_id) > CP_NODEDISK_MAX_ID)
                return CP_ERROR(CP_EINVAL, "disk id missing or longer than %u bytes", CP_NODEDISK_MAX_ID);
        memset(ret, 0, 512);
        snprintf((char *) ret, 512, "CONFPOOL-NODE-DISK v1\ndisk=%s\n", disk_id);
        return 0;
}

int cp_nodedisk_write(const char *path, const char *disk_id, const uint8_t key[CP_NODEDISK_KEY_LEN]) {
        uint8_t label[512], vk[CP_LUKS2_KEY_SIZE];
        char tmp[4200];
        int r = cp_nodedisk_label(disk_id, label);
        if (r < 0)
                return r;
        if (RAND_bytes(vk, sizeof vk) != 1)
                return CP_ERROR(CP_ECRYPTO, "RAND_bytes");
        /* the passphrase is a 256-bit random key: PBKDF2 adds nothing, the minimum suffices */
        cp_luks2_format_options o = CP_LUKS2_FORMAT_OPTIONS_INIT;
        o.iterations = 1000;
        o.label = "confpool-node-os";
        uint8_t *meta = NULL, *data = NULL;
        size_t meta_len = 0;
        int fd = -1;
        cp_luks2_info info;
        if ((r = cp_luks2_format(&o, vk, key, CP_NODEDISK_KEY_LEN, &meta, &meta_len)) < 0 ||
            (r = cp_luks2_parse(meta, meta_len, &info)) < 0)
                goto out;
        data = calloc(1, CP_NODEDISK_SIZE);
        if (!data) {
                r = cp_error_oom();
                goto out;
        }
        memcpy(data, label, sizeof label);
        if ((r = cp_luks2_crypt(vk, info.iv_tweak, CP_LUKS2_SECTOR, data, data, CP_NODEDISK_SIZE, true)) < 0)
                goto out;
        /* written beside, then renamed: an image at path is always whole (a
         * backend that finds one after a crash keeps it: docs/nodes.md) */
        if ((size_t) snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
                r = CP_ERROR(CP_ETOOBIG, "disk image path too long: %s", path);
                goto out;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = CP_ERROR(CP_EIO, "%s: %s", tmp, strerror(errno));
                goto out;
        }
        /* metadata, zeros up to the data offset (sparse), the data segment */
        if ((r = cp_pwrite_full(fd, meta, meta_len, 0, "write")) >= 0)
                r = cp_pwrite_full(fd, data, CP_NODEDISK_SIZE, info.data_offset, "write");
        if (r >= 0 && fsync(fd) < 0)
                r = CP_ERROR(CP_EIO, "fsync %s: %s", tmp, strerror(errno));
        if (r >= 0 && rename(tmp, path) < 0)
                r = CP_ERROR(CP_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
out:
        if (fd >= 0)
                close(fd);
        if (r < 0 && fd >= 0)
                unlink(tmp);
        cp_wipe(vk, sizeof vk);
        if (data)
                cp_wipe(data, CP_NODEDISK_SIZE);
        free(data);
        free(meta);
        return r;
}

int cp_nodedisk_open(const char *path, const char *disk_id, const uint8_t key[CP_NODEDISK_KEY_LEN]) {
        uint8_t label[512], sector[512];
        int r = cp_nodedisk_label(disk_id, label);
        if (r < 0)
                return r;
        cp_luks2_volume *v = NULL;
        if ((r = cp_luks2_volume_open(path, key, CP_NODEDISK_KEY_LEN, false, &v)) < 0)
                return r;
        if (cp_luks2_volume_info(v)->sector_size != CP_LUKS2_SECTOR || cp_luks2_volume_size(v) < CP_LUKS2_SECTOR)
                r = CP_ERROR(CP_EFORMAT, "%s: not a confpool node disk (sector size, size)", path);
        else
                r = cp_luks2_volume_read(v, 0, sector, 1);
        cp_luks2_volume_close(v);
        if (r >= 0 && !cp_ct_eq(sector, label, sizeof label))
                r = CP_ERROR(CP_ESIG, "%s: the first sector is not the label of disk %s", path, disk_id);
        cp_wipe(sector, sizeof sector);
        return r;
}
