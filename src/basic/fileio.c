/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/fileio.h"

/* One read(), retried while interrupted. */
static ssize_t read_retry(int fd, void *buf, size_t n) {
        ssize_t k;
        do
                k = read(fd, buf, n);
        while (k < 0 && errno == EINTR);
        return k;
}

int cp_read_full(int fd, void *buf, size_t n, const char *what, size_t *ret_len) {
        uint8_t *p = buf;
        size_t len = 0;
        while (len < n) {
                ssize_t k = read_retry(fd, p + len, n - len);
                if (k < 0)
                        return CP_ERROR(CP_EIO, "%s: %s", what, strerror(errno));
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        *ret_len = len;
        return 0;
}

/* One write loop for write() (off < 0) and pwrite() (off >= 0). */
static int write_loop(int fd, const void *buf, size_t n, int64_t off, const char *what) {
        const uint8_t *p = buf;
        while (n > 0) {
                ssize_t k = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, (off_t) off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return CP_ERROR(CP_EIO, "%s: %s", what, k < 0 ? strerror(errno) : "short write");
                p += k;
                n -= (size_t) k;
                if (off >= 0)
                        off += k;
        }
        return 0;
}

int cp_write_full(int fd, const void *buf, size_t n, const char *what) {
        return write_loop(fd, buf, n, -1, what);
}

int cp_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, const char *what) {
        if (off > (uint64_t) INT64_MAX - n)
                return CP_ERROR(CP_EINVAL, "%s: offset %llu out of range", what, (unsigned long long) off);
        return write_loop(fd, buf, n, (int64_t) off, what);
}

int cp_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return CP_ERROR(errno == ENOENT ? CP_ENOTFOUND : CP_EIO, "cannot open '%s': %s", path,
                                strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return CP_ERROR(CP_EIO, "'%s' is not a regular file", path);
        }
        if ((uint64_t) st.st_size > max) {
                close(fd);
                return CP_ERROR(CP_ETOOBIG, "'%s' is %lld bytes, limit is %zu", path, (long long) st.st_size, max);
        }
        size_t cap = (size_t) st.st_size + 1, len = 0;
        uint8_t *buf = malloc(cap);
        if (!buf) {
                close(fd);
                return cp_error_oom();
        }
        for (;;) {
                if (len + 1 == cap) {
                        /* full buffer: the file may have grown; probe for more up to max */
                        if (cap - 1 > max) {
                                free(buf);
                                close(fd);
                                return CP_ERROR(CP_ETOOBIG, "'%s' exceeds limit %zu", path, max);
                        }
                        size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
                        uint8_t *n = realloc(buf, ncap);
                        if (!n) {
                                free(buf);
                                close(fd);
                                return cp_error_oom();
                        }
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read_retry(fd, buf + len, cap - 1 - len);
                if (k < 0) {
                        int e = errno;
                        free(buf);
                        close(fd);
                        return CP_ERROR(CP_EIO, "reading '%s': %s", path, strerror(e));
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        close(fd);
        buf[len] = 0;
        *ret = buf;
        *ret_len = len;
        return 0;
}

int cp_write_file(const char *path, const void *data, size_t len, unsigned mode) {
        size_t n = strlen(path) + 16;
        char *tmp = malloc(n);
        if (!tmp)
                return cp_error_oom();
        snprintf(tmp, n, "%s.tmpXXXXXX", path);
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                free(tmp);
                return CP_ERROR(CP_EIO, "cannot create temporary file for '%s': %s", path, strerror(e));
        }
        int r = 0;
        char what[64 + 4096];
        if (fchmod(fd, (mode_t) mode) < 0)
                r = CP_ERROR(CP_EIO, "chmod '%s': %s", tmp, strerror(errno));
        snprintf(what, sizeof(what), "writing '%s'", path);
        if (r == 0)
                r = cp_write_full(fd, data, len, what);
        if (r == 0 && fsync(fd) < 0)
                r = CP_ERROR(CP_EIO, "fsync '%s': %s", path, strerror(errno));
        close(fd);
        if (r == 0 && rename(tmp, path) < 0)
                r = CP_ERROR(CP_EIO, "rename to '%s': %s", path, strerror(errno));
        if (r < 0)
                unlink(tmp);
        free(tmp);
        return r;
}
