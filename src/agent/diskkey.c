/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/diskkey.h"
#include "basic/fileio.h"
#include "basic/secure.h"

static int standin_release(void *userdata, const char *token, const char *name, uint8_t ret_key[CP_DISK_KEY_LEN]) {
        (void) token; /* STAND-IN: no secure key release, see diskkey.h */
        (void) name;
        uint8_t *buf = NULL;
        size_t len;
        int r = cp_read_file(userdata, 4096, &buf, &len);
        if (r < 0)
                return r;
        if (len != CP_DISK_KEY_LEN)
                r = CP_ERROR(CP_EFORMAT, "stand-in disk key of %zu bytes", len);
        else
                memcpy(ret_key, buf, CP_DISK_KEY_LEN);
        cp_wipe(buf, len);
        free(buf);
        return r;
}

void cp_diskkey_standin(const char *key_path, cp_diskkey_provider *ret) {
        ret->name = "local-standin";
        ret->release = standin_release;
        ret->userdata = (void *) key_path;
}

int cp_disk_open(const char *image_path, const char *name, const uint8_t key[CP_DISK_KEY_LEN]) {
        uint8_t hdr[40], mac[32];
        int fd = open(image_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return CP_ERROR(CP_EIO, "%s: %s", image_path, strerror(errno));
        ssize_t n = read(fd, hdr, sizeof hdr);
        close(fd);
        if (n != (ssize_t) sizeof hdr || memcmp(hdr, "CPDISK01", 8) != 0)
                return CP_ERROR(CP_EFORMAT, "%s is not a confpool node disk", image_path);
        char msg[128];
        int m = snprintf(msg, sizeof msg, "confpool-disk:%s", name);
        unsigned ml = sizeof mac;
        if (m < 0 || (size_t) m >= sizeof msg ||
            !HMAC(EVP_sha256(), key, CP_DISK_KEY_LEN, (const uint8_t *) msg, (size_t) m, mac, &ml))
                return CP_ERROR(CP_ECRYPTO, "HMAC");
        return cp_ct_eq(mac, hdr + 8, sizeof mac) ? 0 : CP_ERROR(CP_ESIG, "the disk key does not open %s", image_path);
}
