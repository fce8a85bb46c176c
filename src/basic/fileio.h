/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CP_BASIC_FILEIO_H
#define CP_BASIC_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "basic/error.h"

/* Read up to n bytes from fd, retrying after EINTR and short reads, until n
 * bytes or the end of the file; *ret_len < n only at the end.  CP_EIO
 * "<what>: <strerror>" on a read error. */
CP_WUR int cp_read_full(int fd, void *buf, size_t n, const char *what, size_t *ret_len);
/* Write all n bytes to fd, retrying after EINTR and short writes.  CP_EIO
 * "<what>: <strerror>" on a write error (or a write of 0 bytes). */
CP_WUR int cp_write_full(int fd, const void *buf, size_t n, const char *what);
/* The same at file offset off (pwrite). */
CP_WUR int cp_pwrite_full(int fd, const void *buf, size_t n, uint64_t off, const char *what);
/* Read a whole regular file of at most max bytes; *ret is malloc()ed with a
 * NUL byte after the data (not counted in *ret_len). */
CP_WUR int cp_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_len);
/* Write atomically (temp file + rename) with the given mode. */
CP_WUR int cp_write_file(const char *path, const void *data, size_t len, unsigned mode);

#endif
