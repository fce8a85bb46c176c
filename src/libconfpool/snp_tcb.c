/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB text: "bl=N,tee=N,snp=N,ucode=N[,fmc=N]", the one reader and writer of
 * a TCB_VERSION as command lines and configuration spell it (snp_report.h).
 */
#include <stdio.h>
#include <string.h>

#include "confpool/snp_report.h"

enum { TCB_BL, TCB_TEE, TCB_SNP, TCB_UCODE, TCB_FMC, _TCB_MAX };

static const char *const tcb_names[_TCB_MAX] = { "bl", "tee", "snp", "ucode", "fmc" };

#define TCB_REQUIRED ((1u << TCB_BL) | (1u << TCB_TEE) | (1u << TCB_SNP) | (1u << TCB_UCODE))

/* The component named by the n bytes at p, or _TCB_MAX. */
static unsigned tcb_component(const char *p, size_t n) {
        for (unsigned i = 0; i < _TCB_MAX; i++)
                if (strlen(tcb_names[i]) == n && memcmp(p, tcb_names[i], n) == 0)
                        return i;
        return _TCB_MAX;
}

int cp_snp_tcb_parse(const char *s, cp_snp_generation gen, cp_snp_tcb *ret) {
        uint8_t v[_TCB_MAX] = { 0 };
        unsigned seen = 0;

        if (!s || !ret)
                return CP_ERROR(CP_EINVAL, "cp_snp_tcb_parse: NULL argument");
        if (gen < CP_SNP_GEN_UNKNOWN || gen >= _CP_SNP_GEN_MAX)
                return CP_ERROR(CP_EINVAL, "cp_snp_tcb_parse: invalid processor generation %d", (int) gen);
        bool fmc_ok = gen == CP_SNP_GEN_TURIN;
        for (const char *p = s;; p++) {
                size_t n = strcspn(p, "=,");
                if (n == 0)
                        return CP_ERROR(CP_EFORMAT, "TCB: empty component at offset %zu", (size_t) (p - s));
                unsigned i = tcb_component(p, n);
                if (i == _TCB_MAX)
                        return CP_ERROR(CP_EFORMAT,
                                        "TCB: unknown component \"%.*s\" at offset %zu (bl, tee, snp, ucode%s)",
                                        (int) (n < 32 ? n : 32), p, (size_t) (p - s), fmc_ok ? ", fmc" : "");
                if (i == TCB_FMC && !fmc_ok)
                        return CP_ERROR(CP_EFORMAT, "TCB: fmc is a Turin component%s%s", gen ? ", not " : "",
                                        gen ? cp_snp_generation_name(gen) : " (no generation given)");
                if (seen & (1u << i))
                        return CP_ERROR(CP_EFORMAT, "TCB: %s given twice", tcb_names[i]);
                if (p[n] != '=')
                        return CP_ERROR(CP_EFORMAT, "TCB: %s needs a value (%s=N)", tcb_names[i], tcb_names[i]);
                p += n + 1;
                size_t d = strspn(p, "0123456789");
                if (d == 0)
                        return CP_ERROR(CP_EFORMAT, "TCB: %s needs a decimal value 0-255", tcb_names[i]);
                unsigned x = 0;
                for (size_t k = 0; k < d && k < 4; k++)
                        x = x * 10 + (unsigned) (p[k] - '0');
                if (d > 3 || x > 255)
                        return CP_ERROR(CP_EFORMAT, "TCB: %s=%.*s is out of range (0-255)", tcb_names[i],
                                        (int) (d < 16 ? d : 16), p);
                v[i] = (uint8_t) x;
                seen |= 1u << i;
                p += d;
                if (*p == '\0')
                        break;
                if (*p != ',')
                        return CP_ERROR(CP_EFORMAT, "TCB: unexpected \"%.16s\" after %s at offset %zu", p,
                                        tcb_names[i], (size_t) (p - s));
        }
        if ((seen & TCB_REQUIRED) != TCB_REQUIRED) {
                unsigned i = 0;
                while (seen & (1u << i))
                        i++;
                return CP_ERROR(CP_EFORMAT, "TCB: %s missing (bl=N,tee=N,snp=N,ucode=N%s)", tcb_names[i],
                                fmc_ok ? "[,fmc=N]" : "");
        }
        *ret = (cp_snp_tcb) { .bl = v[TCB_BL],
                              .tee = v[TCB_TEE],
                              .snp = v[TCB_SNP],
                              .ucode = v[TCB_UCODE],
                              .fmc = v[TCB_FMC],
                              .has_fmc = fmc_ok };
        return 0;
}

int cp_snp_tcb_format(const cp_snp_tcb *tcb, char *out, size_t cap) {
        if (!tcb || !out)
                return CP_ERROR(CP_EINVAL, "cp_snp_tcb_format: NULL argument");
        int n = tcb->has_fmc ? snprintf(out, cap, "bl=%u,tee=%u,snp=%u,ucode=%u,fmc=%u", tcb->bl, tcb->tee, tcb->snp,
                                        tcb->ucode, tcb->fmc)
                             : snprintf(out, cap, "bl=%u,tee=%u,snp=%u,ucode=%u", tcb->bl, tcb->tee, tcb->snp,
                                        tcb->ucode);
        if (n < 0 || (size_t) n >= cap) {
                if (cap)
                        out[0] = '\0';
                return CP_ERROR(CP_ETOOBIG, "TCB text needs %d bytes, %zu given", n + 1, cap);
        }
        return 0;
}
