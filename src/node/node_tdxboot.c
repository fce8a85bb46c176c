/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "node/node_tdxboot.h"

int cp_node_tdx_boot(const uint8_t *fw, size_t fw_len, const char *kernel_path, const char *initrd_path,
                     const char *cmdline_path, cp_tdx_boot_result *ret) {
        _cleanup_free_ uint8_t *kernel = NULL, *initrd = NULL, *cmd = NULL;
        size_t kl = 0, il = 0, cl = 0;
        int r;
        if (!kernel_path || !ret)
                return CP_ERROR(CP_EINVAL, "cp_node_tdx_boot: NULL argument");
        if ((r = cp_read_file(kernel_path, CP_TDX_MAX_KERNEL, &kernel, &kl)) < 0 ||
            (initrd_path && (r = cp_read_file(initrd_path, CP_TDX_MAX_KERNEL, &initrd, &il)) < 0) ||
            (cmdline_path && (r = cp_read_file(cmdline_path, CP_TDX_MAX_CMDLINE, &cmd, &cl)) < 0))
                return r;
        if (cmd && memchr(cmd, 0, cl))
                return CP_ERROR(CP_EFORMAT, "%s: a NUL byte in the kernel command line", cmdline_path);
        char *line = calloc(1, cl + 1);
        if (!line)
                return cp_error_oom();
        if (cmd)
                memcpy(line, cmd, cl);
        while (cl > 0 && line[cl - 1] == '\n')
                line[--cl] = 0;
        cp_tdx_boot b = { .fw = fw, .fw_len = fw_len, .kernel = kernel, .kernel_len = kl,
                          .initrd = initrd_path ? (initrd ? initrd : (const uint8_t *) "") : NULL,
                          .initrd_len = il, .cmdline = line };
        r = cp_tdx_boot_measure(&b, ret);
        free(line);
        return r;
}

int cp_node_pe_wrap(const uint8_t *payload, size_t len, uint8_t **ret, size_t *ret_len) {
        const size_t hdr = 0x200, raw = (len + 0x1ff) & ~(size_t) 0x1ff, vsize = (len + 0xfff) & ~(size_t) 0xfff;
        if ((!payload && len) || !ret || !ret_len || len > (64u << 20))
                return CP_ERROR(CP_EINVAL, "cp_node_pe_wrap: bad arguments");
        uint8_t *pe = calloc(1, hdr + raw);
        if (!pe)
                return cp_error_oom();
        uint8_t *nt = pe + 0x40, *opt = nt + 24, *sec = opt + 240;
        pe[0] = 'M', pe[1] = 'Z';
        cp_put_le32(pe + 0x3c, 0x40);
        memcpy(nt, "PE\0\0", 4);
        cp_put_le16(nt + 4, 0x8664);          /* x86-64 */
        cp_put_le16(nt + 6, 1);               /* one section */
        cp_put_le16(nt + 20, 240);            /* PE32+ optional header, 16 directories */
        cp_put_le16(nt + 22, 0x0206);         /* executable, line numbers stripped, large address aware */
        cp_put_le16(opt, 0x20b);
        cp_put_le32(opt + 16, 0x1000);        /* entry point */
        cp_put_le32(opt + 32, 0x1000);        /* section alignment */
        cp_put_le32(opt + 36, 0x200);         /* file alignment */
        cp_put_le32(opt + 56, (uint32_t) (0x1000 + vsize)); /* SizeOfImage */
        cp_put_le32(opt + 60, (uint32_t) hdr); /* SizeOfHeaders */
        cp_put_le16(opt + 68, 10);            /* EFI application */
        cp_put_le32(opt + 108, 16);           /* NumberOfRvaAndSizes */
        memcpy(sec, ".text", 5);
        cp_put_le32(sec + 8, (uint32_t) len);
        cp_put_le32(sec + 12, 0x1000);
        cp_put_le32(sec + 16, (uint32_t) raw);
        cp_put_le32(sec + 20, (uint32_t) hdr);
        cp_put_le32(sec + 36, 0x60000020);    /* code, execute, read */
        if (len)
                memcpy(pe + hdr, payload, len);
        *ret = pe;
        *ret_len = hdr + raw;
        return 0;
}
