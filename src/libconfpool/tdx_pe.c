/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authenticode digest of a PE/COFF image (confpool/tdx_boot.h), as the
 * Microsoft "Windows Authenticode Portable Executable Signature Format"
 * describes it and edk2's DxeTpm2MeasureBootLib (HashPeImage) computes it
 * for the EV_EFI_BOOT_SERVICES_APPLICATION event.
 */
#include <string.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/tdx_boot.h"
#include "confpool/tpm_quote.h"
#include "ossl/ossl-util.h"

#define PE_MAX_SECTIONS 96u
#define SECTION_SIZE 40u
#define DIR_SECURITY 4u

typedef struct pe_layout {
        size_t checksum_off;  /* of OptionalHeader.CheckSum */
        size_t secdir_off;    /* of the certificate-table entry, 0 if none */
        uint32_t cert_off, cert_size;
        size_t headers;       /* SizeOfHeaders */
        size_t n_sections;
        uint32_t raw_off[PE_MAX_SECTIONS], raw_size[PE_MAX_SECTIONS];
} pe_layout;

static uint16_t rd16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/* the optional header's fields that matter */
static int parse_optional(const uint8_t *pe, size_t len, size_t opt, size_t opt_size, pe_layout *l) {
        if (opt_size < 2 || opt + opt_size > len)
                return CP_ERROR(CP_ETRUNC, "PE image: optional header of %zu bytes at 0x%zx is outside the %zu-byte file",
                                opt_size, opt, len);
        uint16_t magic = rd16(pe + opt);
        size_t nrva_at, dirs;
        if (magic == 0x10b)
                nrva_at = 92, dirs = 96;
        else if (magic == 0x20b)
                nrva_at = 108, dirs = 112;
        else
                return CP_ERROR(CP_EFORMAT, "PE image: optional header magic 0x%x is neither PE32 (0x10b) nor PE32+ (0x20b)",
                                magic);
        if (opt_size < dirs)
                return CP_ERROR(CP_ETRUNC, "PE image: optional header of %zu bytes has no data directories", opt_size);
        uint32_t nrva = rd32(pe + opt + nrva_at);
        if (nrva > 16 || dirs + (size_t) nrva * 8 > opt_size)
                return CP_ERROR(CP_EFORMAT, "PE image: %u data directories do not fit the %zu-byte optional header", nrva,
                                opt_size);
        l->checksum_off = opt + 64;
        l->headers = rd32(pe + opt + 60);
        if (nrva > DIR_SECURITY) {
                l->secdir_off = opt + dirs + DIR_SECURITY * 8;
                l->cert_off = rd32(pe + l->secdir_off);
                l->cert_size = rd32(pe + l->secdir_off + 4);
        }
        return 0;
}

static int parse_layout(const uint8_t *pe, size_t len, pe_layout *l) {
        memset(l, 0, sizeof *l);
        if (len < 64 || pe[0] != 'M' || pe[1] != 'Z')
                return CP_ERROR(CP_EFORMAT, "PE image: no \"MZ\" DOS header (%zu bytes): not a PE/EFI image", len);
        size_t nt = rd32(pe + 0x3c);
        if (nt > len || len - nt < 24)
                return CP_ERROR(CP_ETRUNC, "PE image: e_lfanew 0x%zx leaves no PE header in the %zu-byte file", nt, len);
        if (memcmp(pe + nt, "PE\0\0", 4) != 0)
                return CP_ERROR(CP_EFORMAT, "PE image: no \"PE\\0\\0\" signature at e_lfanew 0x%zx", nt);
        size_t nsec = rd16(pe + nt + 6), opt_size = rd16(pe + nt + 20), opt = nt + 24;
        int r = parse_optional(pe, len, opt, opt_size, l);
        if (r < 0)
                return r;
        if (nsec > PE_MAX_SECTIONS)
                return CP_ERROR(CP_EFORMAT, "PE image: %zu sections (at most %u)", nsec, PE_MAX_SECTIONS);
        size_t st = opt + opt_size;
        if (st + nsec * SECTION_SIZE > len)
                return CP_ERROR(CP_ETRUNC, "PE image: the section table (%zu sections at 0x%zx) is outside the file", nsec, st);
        if (l->headers > len || l->headers < st + nsec * SECTION_SIZE)
                return CP_ERROR(CP_EFORMAT, "PE image: SizeOfHeaders 0x%zx is beyond the file or before the section table's end",
                                l->headers);
        l->n_sections = nsec;
        for (size_t i = 0; i < nsec; i++) {
                const uint8_t *s = pe + st + i * SECTION_SIZE;
                l->raw_size[i] = rd32(s + 16);
                l->raw_off[i] = rd32(s + 20);
                if (l->raw_size[i] && ((uint64_t) l->raw_off[i] + l->raw_size[i] > len || l->raw_off[i] < l->headers))
                        return CP_ERROR(CP_EFORMAT, "PE image: section %zu (0x%x bytes at 0x%x) is outside the file or in its headers",
                                        i, l->raw_size[i], l->raw_off[i]);
        }
        if (l->cert_size && (uint64_t) l->cert_off + l->cert_size != len)
                return CP_ERROR(CP_EFORMAT, "PE image: the certificate table (0x%x bytes at 0x%x) does not end the %zu-byte file",
                                l->cert_size, l->cert_off, len);
        return 0;
}

static int upd(EVP_MD_CTX *md, const uint8_t *p, size_t n) {
        return n == 0 || EVP_DigestUpdate(md, p, n) == 1 ? 0 : CP_OSSL_ERROR(CP_ECRYPTO, "PE image: hashing failed");
}

/* the sections in file order (insertion sort: at most 96) */
static int hash_sections(EVP_MD_CTX *md, const uint8_t *pe, pe_layout *l, size_t *sum) {
        for (size_t i = 1; i < l->n_sections; i++)
                for (size_t j = i; j > 0 && l->raw_off[j - 1] > l->raw_off[j]; j--) {
                        uint32_t o = l->raw_off[j], s = l->raw_size[j];
                        l->raw_off[j] = l->raw_off[j - 1], l->raw_size[j] = l->raw_size[j - 1];
                        l->raw_off[j - 1] = o, l->raw_size[j - 1] = s;
                }
        int r;
        for (size_t i = 0; i < l->n_sections; i++) {
                if (l->raw_size[i] == 0)
                        continue;
                if ((r = upd(md, pe + l->raw_off[i], l->raw_size[i])) < 0)
                        return r;
                *sum += l->raw_size[i];
        }
        return 0;
}

int cp_pe_authenticode(const uint8_t *pe, size_t len, uint16_t alg, uint8_t *ret, size_t ret_size) {
        const EVP_MD *m = alg == CP_TPM_ALG_SHA256 ? EVP_sha256() : alg == CP_TPM_ALG_SHA384 ? EVP_sha384() : NULL;
        if (!pe || !ret || !m)
                return CP_ERROR(CP_EINVAL, "cp_pe_authenticode: bad arguments");
        if ((size_t) EVP_MD_get_size(m) > ret_size)
                return CP_ERROR(CP_EINVAL, "cp_pe_authenticode: %zu-byte output too small", ret_size);
        if (len > CP_TDX_MAX_KERNEL)
                return CP_ERROR(CP_ETOOBIG, "PE image of %zu bytes (at most %u)", len, CP_TDX_MAX_KERNEL);
        pe_layout l;
        int r = parse_layout(pe, len, &l);
        if (r < 0)
                return r;
        _cleanup_evp_md_ctx_ EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, m, NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PE image: hashing failed");
        size_t after_sum = l.checksum_off + 4;
        if (l.secdir_off) {
                if ((r = upd(md, pe, l.checksum_off)) < 0 || (r = upd(md, pe + after_sum, l.secdir_off - after_sum)) < 0 ||
                    (r = upd(md, pe + l.secdir_off + 8, l.headers - (l.secdir_off + 8))) < 0)
                        return r;
        } else if ((r = upd(md, pe, l.checksum_off)) < 0 || (r = upd(md, pe + after_sum, l.headers - after_sum)) < 0)
                return r;
        size_t sum = l.headers;
        if ((r = hash_sections(md, pe, &l, &sum)) < 0)
                return r;
        if (len > sum) {
                if ((uint64_t) l.cert_size + sum > len)
                        return CP_ERROR(CP_EFORMAT, "PE image: the certificate table overlaps the sections");
                if ((r = upd(md, pe + sum, len - sum - l.cert_size)) < 0)
                        return r;
        }
        unsigned n = 0;
        if (EVP_DigestFinal_ex(md, ret, &n) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PE image: hashing failed");
        return 0;
}
