/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/cleanup.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "emu/tsm.h"

int cp_tsm_attr_path(const char *entry, const char *name, char *out, size_t cap) {
        int n = snprintf(out, cap, "%s/%s", entry, name);
        if (n < 0 || (size_t) n >= cap)
                return CP_ERROR(CP_EINVAL, "configfs-tsm path too long");
        return 0;
}

int cp_tsm_read_attr(const char *entry, const char *name, size_t max, uint8_t **ret, size_t *ret_len) {
        char path[4096];
        int r = cp_tsm_attr_path(entry, name, path, sizeof(path));
        if (r < 0 || (r = cp_read_file(path, max, ret, ret_len)) < 0)
                return cp_error_wrap("configfs-tsm %s", name);
        return 0;
}

int cp_tsm_write_attr(const char *entry, const char *name, const void *data, size_t len) {
        char path[4096];
        int r = cp_tsm_attr_path(entry, name, path, sizeof(path));
        if (r < 0)
                return r;
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return CP_ERROR(CP_EIO, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
        ssize_t k = write(fd, data, len);
        int e = errno;
        if (close(fd) < 0 && k >= 0)
                return CP_ERROR(CP_EIO, "configfs-tsm: %s: %s", path, strerror(errno));
        if (k < 0 || (size_t) k != len)
                return CP_ERROR(CP_EIO, "configfs-tsm: write %s: %s", path, k < 0 ? strerror(e) : "short write");
        return 0;
}

int cp_tsm_read_generation(const char *entry, uint64_t *ret) {
        _cleanup_free_ uint8_t *d = NULL;
        size_t n = 0;
        int r = cp_tsm_read_attr(entry, "generation", 32, &d, &n);
        if (r < 0)
                return r;
        uint64_t v = 0;
        size_t i = 0;
        for (; i < n && d[i] >= '0' && d[i] <= '9'; i++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return CP_ERROR(CP_EFORMAT, "configfs-tsm generation overflows");
                v = v * 10 + (uint64_t) (d[i] - '0');
        }
        if (i == 0 || (i < n && !(d[i] == '\n' && i + 1 == n)))
                return CP_ERROR(CP_EFORMAT, "configfs-tsm generation is not a number");
        *ret = v;
        return 0;
}

int cp_tsm_check_provider(const char *entry, const char *provider) {
        _cleanup_free_ uint8_t *prov = NULL;
        size_t pl = 0, want = strlen(provider);
        int r = cp_tsm_read_attr(entry, "provider", 64, &prov, &pl);
        if (r < 0)
                return r;
        if (pl != want + 1 || memcmp(prov, provider, want) != 0 || prov[want] != '\n')
                return CP_ERROR(CP_EUNSUPPORTED, "configfs-tsm provider is not %s", provider);
        return 0;
}
