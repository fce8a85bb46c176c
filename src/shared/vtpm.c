/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "shared/vtpm.h"

struct cp_vtpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        ESYS_TR ak;
};

#define TSS_FAIL(what, rc) CP_ERROR(CP_EIO, "vTPM %s: %s", what, Tss2_RC_Decode(rc))

int cp_vtpm_open(const char *tcti, cp_vtpm **ret) {
        cp_vtpm *t = calloc(1, sizeof *t);
        if (!t)
                return cp_error_oom();
        t->ak = ESYS_TR_NONE;
        TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                free(t);
                return TSS_FAIL("TCTI", rc);
        }
        rc = Esys_Initialize(&t->esys, t->tcti, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                Tss2_TctiLdr_Finalize(&t->tcti);
                free(t);
                return TSS_FAIL("Esys_Initialize", rc);
        }
        *ret = t;
        return 0;
}

cp_vtpm *cp_vtpm_close(cp_vtpm *t) {
        if (!t)
                return NULL;
        if (t->ak != ESYS_TR_NONE)
                (void) Esys_FlushContext(t->esys, t->ak);
        Esys_Finalize(&t->esys);
        Tss2_TctiLdr_Finalize(&t->tcti);
        free(t);
        return NULL;
}

int cp_vtpm_extend(cp_vtpm *t, unsigned pcr, const uint8_t digest[32]) {
        if (pcr >= CP_VTPM_PCRS)
                return CP_ERROR(CP_EINVAL, "PCR %u", pcr);
        TPML_DIGEST_VALUES v = {.count = 1};
        v.digests[0].hashAlg = TPM2_ALG_SHA256;
        memcpy(v.digests[0].digest.sha256, digest, 32);
        TSS2_RC rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &v);
        return rc == TSS2_RC_SUCCESS ? 0 : TSS_FAIL("PCR_Extend", rc);
}

static void select_all(TPML_PCR_SELECTION *s) {
        memset(s, 0, sizeof *s);
        s->count = 1;
        s->pcrSelections[0].hash = TPM2_ALG_SHA256;
        s->pcrSelections[0].sizeofSelect = 3;
        s->pcrSelections[0].pcrSelect[0] = s->pcrSelections[0].pcrSelect[1] = s->pcrSelections[0].pcrSelect[2] = 0xff;
}

int cp_vtpm_pcr_read(cp_vtpm *t, uint8_t ret[CP_VTPM_PCRS][32]) {
        TPML_PCR_SELECTION want;
        uint8_t out[CP_VTPM_PCRS][32];
        select_all(&want);
        /* the TPM returns at most 8 digests per call: ask again for the rest */
        for (int round = 0; round < 8; round++) {
                TPMS_PCR_SELECTION *w = &want.pcrSelections[0];
                if (!(w->pcrSelect[0] | w->pcrSelect[1] | w->pcrSelect[2])) {
                        memcpy(ret, out, sizeof out);
                        return 0;
                }
                TPML_PCR_SELECTION *got = NULL;
                TPML_DIGEST *vals = NULL;
                UINT32 counter;
                TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &want, &counter, &got, &vals);
                if (rc != TSS2_RC_SUCCESS)
                        return TSS_FAIL("PCR_Read", rc);
                size_t k = 0;
                int r = 0;
                for (unsigned i = 0; i < CP_VTPM_PCRS && r == 0; i++) {
                        if (got->count < 1 || !(got->pcrSelections[0].pcrSelect[i / 8] & (1u << (i % 8))))
                                continue;
                        if (k >= vals->count || vals->digests[k].size != 32)
                                r = CP_ERROR(CP_EFORMAT, "vTPM PCR_Read: inconsistent answer");
                        else {
                                memcpy(out[i], vals->digests[k++].buffer, 32);
                                w->pcrSelect[i / 8] &= (uint8_t) ~(1u << (i % 8));
                        }
                }
                bool none = k == 0;
                Esys_Free(got);
                Esys_Free(vals);
                if (r < 0)
                        return r;
                if (none)
                        return CP_ERROR(CP_EIO, "vTPM PCR_Read returned no SHA-256 PCRs");
        }
        return CP_ERROR(CP_EIO, "vTPM PCR_Read did not converge");
}

int cp_vtpm_create_ak(cp_vtpm *t, uint8_t ret_n[256], uint32_t *ret_e) {
        TPM2B_SENSITIVE_CREATE sens = {0};
        TPM2B_DATA outside = {0};
        TPML_PCR_SELECTION none = {0};
        TPM2B_PUBLIC srk_tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA,
                        .parameters.rsaDetail = {
                                .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
                                .scheme = {.scheme = TPM2_ALG_NULL},
                                .keyBits = 2048,
                        },
                },
        };
        TPM2B_PUBLIC ak_tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                        .parameters.rsaDetail = {
                                .symmetric = {.algorithm = TPM2_ALG_NULL},
                                .scheme = {.scheme = TPM2_ALG_RSASSA, .details.rsassa.hashAlg = TPM2_ALG_SHA256},
                                .keyBits = 2048,
                        },
                },
        };
        ESYS_TR srk = ESYS_TR_NONE, ak = ESYS_TR_NONE;
        TPM2B_PUBLIC *pub = NULL, *akpub = NULL;
        TPM2B_PRIVATE *akpriv = NULL;
        TPM2B_CREATION_DATA *cd = NULL;
        TPM2B_DIGEST *ch = NULL;
        TPMT_TK_CREATION *tk = NULL;
        int r = 0;
        TSS2_RC rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                        &srk_tmpl, &outside, &none, &srk, &pub, &cd, &ch, &tk);
        Esys_Free(pub);
        Esys_Free(cd);
        Esys_Free(ch);
        Esys_Free(tk);
        pub = NULL, cd = NULL, ch = NULL, tk = NULL;
        if (rc != TSS2_RC_SUCCESS)
                return TSS_FAIL("CreatePrimary (SRK)", rc);
        rc = Esys_Create(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &ak_tmpl, &outside, &none,
                         &akpriv, &akpub, &cd, &ch, &tk);
        if (rc != TSS2_RC_SUCCESS)
                r = TSS_FAIL("Create (AK)", rc);
        if (r == 0) {
                rc = Esys_Load(t->esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, akpriv, akpub, &ak);
                if (rc != TSS2_RC_SUCCESS)
                        r = TSS_FAIL("Load (AK)", rc);
        }
        if (r == 0 && akpub->publicArea.unique.rsa.size != 256)
                r = CP_ERROR(CP_EFORMAT, "vTPM AK modulus of %u bytes", akpub->publicArea.unique.rsa.size);
        if (r == 0) {
                memcpy(ret_n, akpub->publicArea.unique.rsa.buffer, 256);
                uint32_t e = akpub->publicArea.parameters.rsaDetail.exponent;
                *ret_e = e ? e : 65537;
                if (t->ak != ESYS_TR_NONE)
                        (void) Esys_FlushContext(t->esys, t->ak);
                t->ak = ak;
        } else if (ak != ESYS_TR_NONE)
                (void) Esys_FlushContext(t->esys, ak);
        (void) Esys_FlushContext(t->esys, srk);
        Esys_Free(akpub);
        Esys_Free(akpriv);
        Esys_Free(cd);
        Esys_Free(ch);
        Esys_Free(tk);
        return r;
}

int cp_vtpm_quote(cp_vtpm *t, const uint8_t *nonce, size_t nonce_len, uint8_t **ret_attest, size_t *ret_attest_len,
                  uint8_t **ret_sig, size_t *ret_sig_len) {
        if (t->ak == ESYS_TR_NONE)
                return CP_ERROR(CP_EINVAL, "no AK loaded");
        if (nonce_len > 64)
                return CP_ERROR(CP_ETOOBIG, "quote nonce of %zu bytes", nonce_len);
        TPM2B_DATA q = {.size = (UINT16) nonce_len};
        memcpy(q.buffer, nonce, nonce_len);
        TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
        TPML_PCR_SELECTION sel;
        select_all(&sel);
        TPM2B_ATTEST *att = NULL;
        TPMT_SIGNATURE *sig = NULL;
        TSS2_RC rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q, &scheme, &sel, &att,
                                &sig);
        if (rc != TSS2_RC_SUCCESS)
                return TSS_FAIL("Quote", rc);
        uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
        size_t off = 0;
        int r = 0;
        rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof sbuf, &off);
        if (rc != TSS2_RC_SUCCESS)
                r = TSS_FAIL("marshal signature", rc);
        uint8_t *a = NULL, *s = NULL;
        if (r == 0) {
                a = malloc(att->size ? att->size : 1);
                s = malloc(off);
                if (!a || !s)
                        r = cp_error_oom();
        }
        if (r == 0) {
                memcpy(a, att->attestationData, att->size);
                memcpy(s, sbuf, off);
                *ret_attest = a;
                *ret_attest_len = att->size;
                *ret_sig = s;
                *ret_sig_len = off;
                a = s = NULL;
        }
        free(a);
        free(s);
        Esys_Free(att);
        Esys_Free(sig);
        return r;
}
