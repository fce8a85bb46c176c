/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD Key Distribution Service URLs:
 *   VCEK       <base>/vcek/v1/<P>/<hwid>?blSPL=<d>&teeSPL=<d>&snpSPL=<d>&ucodeSPL=<d>[&fmcSPL=<d>]
 *   VLEK       <base>/vlek/v1/<P>/cert?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..[&fmcSPL=..]
 *   cert_chain <base>/{vcek,vlek}/v1/<P>/cert_chain
 *   CRL        <base>/{vcek,vlek}/v1/<P>/crl
 * <P> is the product line (Milan, Genoa, Turin); <hwid> is the lowercase hex
 * of CHIP_ID (64 bytes; Turin: CHIP_ID[0:8]); SPLs are plain decimal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "basic/codec.h"
#include "basic/secure.h"
#include "confpool/snp_cert.h"
#include "libconfpool/snp_cert-internal.h"

static int base_len(const char *base, size_t *ret) {
        size_t n = strnlen(base, 4097);
        if (n > 4096)
                return CP_ERROR(CP_ETOOBIG, "KDS base URL longer than 4096 bytes");
        if (n == 0)
                return CP_ERROR(CP_EINVAL, "empty KDS base URL");
        while (n > 0 && base[n - 1] == '/')
                n--;
        if (n == 0)
                return CP_ERROR(CP_EINVAL, "KDS base URL is only slashes");
        *ret = n;
        return 0;
}

static int emit(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int emit(char *out, size_t cap, const char *fmt, ...) {
        va_list ap;
        if (!out || cap == 0)
                return CP_ERROR(CP_ETOOBIG, "no room for the KDS URL");
        va_start(ap, fmt);
        int n = vsnprintf(out, cap, fmt, ap);
        va_end(ap);
        if (n < 0) {
                out[0] = '\0';
                return CP_ERROR(CP_EINTERNAL, "URL formatting failed");
        }
        if ((size_t) n >= cap) {
                out[0] = '\0';
                return CP_ERROR(CP_ETOOBIG, "KDS URL needs %d bytes, buffer holds %zu", n + 1, cap);
        }
        return 0;
}

static const char *key_dir(cp_amd_cert_kind kind) {
        if (kind == CP_AMD_CERT_VCEK)
                return "vcek";
        if (kind == CP_AMD_CERT_VLEK)
                return "vlek";
        return NULL;
}

/* "blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..[&fmcSPL=..]" */
static int spl_query(cp_snp_generation g, const cp_snp_tcb *tcb, char *q, size_t cap) {
        bool turin = g == CP_SNP_GEN_TURIN;
        if (turin && !tcb->has_fmc)
                return CP_ERROR(CP_EINVAL, "Turin TCB without an FMC SPL");
        if (!turin && tcb->has_fmc)
                return CP_ERROR(CP_EINVAL, "%s TCB carries an FMC SPL", cp_amd_product_str(g));
        if (turin)
                return emit(q, cap, "blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u&fmcSPL=%u", tcb->bl, tcb->tee,
                            tcb->snp, tcb->ucode, tcb->fmc);
        return emit(q, cap, "blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u", tcb->bl, tcb->tee, tcb->snp, tcb->ucode);
}

int cp_kds_vcek_url(const char *base, cp_snp_generation g, const uint8_t chip_id[64], const cp_snp_tcb *tcb,
                    char *out, size_t cap) {
        char hex[129], q[128];
        size_t bl;
        int r;

        const char *p = cp_amd_product_str(g);
        if (!p || !chip_id || !tcb)
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (!base)
                base = CP_KDS_DEFAULT_BASE;
        r = base_len(base, &bl);
        if (r < 0)
                return r;
        size_t idlen = g == CP_SNP_GEN_TURIN ? 8 : 64;
        if (cp_ct_is_zero(chip_id, idlen))
                return CP_ERROR(CP_EINVAL, "CHIP_ID is all zero (masked): no VCEK can be fetched for it");
        cp_hex_encode(chip_id, idlen, hex);
        r = spl_query(g, tcb, q, sizeof(q));
        if (r < 0)
                return r;
        return emit(out, cap, "%.*s/vcek/v1/%s/%s?%s", (int) bl, base, p, hex, q);
}

int cp_kds_vlek_url(const char *base, cp_snp_generation g, const cp_snp_tcb *tcb, char *out, size_t cap) {
        char q[128];
        size_t bl;
        int r;

        const char *p = cp_amd_product_str(g);
        if (!p || !tcb)
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (!base)
                base = CP_KDS_DEFAULT_BASE;
        r = base_len(base, &bl);
        if (r < 0)
                return r;
        r = spl_query(g, tcb, q, sizeof(q));
        if (r < 0)
                return r;
        return emit(out, cap, "%.*s/vlek/v1/%s/cert?%s", (int) bl, base, p, q);
}

static int simple_url(const char *base, cp_snp_generation g, cp_amd_cert_kind kind, const char *leafname, char *out,
                      size_t cap) {
        size_t bl;
        int r;

        const char *p = cp_amd_product_str(g);
        const char *dir = key_dir(kind);
        if (!p || !dir)
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (!base)
                base = CP_KDS_DEFAULT_BASE;
        r = base_len(base, &bl);
        if (r < 0)
                return r;
        return emit(out, cap, "%.*s/%s/v1/%s/%s", (int) bl, base, dir, p, leafname);
}

int cp_kds_chain_url(const char *base, cp_snp_generation g, cp_amd_cert_kind kind, char *out, size_t cap) {
        return simple_url(base, g, kind, "cert_chain", out, cap);
}

int cp_kds_crl_url(const char *base, cp_snp_generation g, cp_amd_cert_kind kind, char *out, size_t cap) {
        return simple_url(base, g, kind, "crl", out, cap);
}
