/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "node/vtpm.h"

struct cp_vtpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
        ESYS_TR ak;
        bool ak_persistent; /* ak is a persistent object: close the ESYS_TR, never flush it */
        bool ak_null_scheme; /* the key fixes no scheme: quote with RSASSA-SHA256 */
};

static void drop_ak(cp_vtpm *t) {
        if (t->ak == ESYS_TR_NONE)
                return;
        if (t->ak_persistent)
                (void) Esys_TR_Close(t->esys, &t->ak);
        else
                (void) Esys_FlushContext(t->esys, t->ak);
        t->ak = ESYS_TR_NONE;
        t->ak_persistent = t->ak_null_scheme = false;
}

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
        drop_ak(t);
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
        /* the SRK: ECC NIST P-256 (TCG's ECC SRK template, as tpm2-tss
         * FAPI's default profile): it only parents the AK, and a P-256
         * primary costs a scalar multiplication where an RSA-2048 one costs
         * a prime search (issue 19: one of a node's three RSA generations) */
        TPM2B_PUBLIC srk_tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_ECC,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA,
                        .parameters.eccDetail = {
                                .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
                                .scheme = {.scheme = TPM2_ALG_NULL},
                                .curveID = TPM2_ECC_NIST_P256,
                                .kdf = {.scheme = TPM2_ALG_NULL},
                        },
                },
        };
        TPM2B_PUBLIC ak_tmpl = {
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                            TPMA_OBJECT_NODA,
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
                drop_ak(t);
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
        if (t->ak_null_scheme) {
                scheme.scheme = TPM2_ALG_RSASSA;
                scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        }
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

/* ---- orderly shutdown and dictionary-attack recovery ------------------- */

/* One TPM property (TPM2_CAP_TPM_PROPERTIES); CP_EIO if the TPM omits it. */
static int tpm_property(cp_vtpm *t, TPM2_PT prop, const char *what, uint32_t *ret) {
        TPMI_YES_NO more;
        TPMS_CAPABILITY_DATA *cap = NULL;
        TSS2_RC rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                        prop, 1, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return CP_ERROR(CP_EIO, "vTPM GetCapability(%s): %s", what, Tss2_RC_Decode(rc));
        bool found = cap->data.tpmProperties.count >= 1 && cap->data.tpmProperties.tpmProperty[0].property == prop;
        if (found)
                *ret = cap->data.tpmProperties.tpmProperty[0].value;
        Esys_Free(cap);
        return found ? 0 : CP_ERROR(CP_EIO, "vTPM reports no %s", what);
}

int cp_vtpm_shutdown(cp_vtpm *t) {
        /* the transient AK goes first: nothing after the Shutdown */
        drop_ak(t);
        TSS2_RC rc = Esys_Shutdown(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_STATE);
        return rc == TSS2_RC_SUCCESS ? 0 : TSS_FAIL("Shutdown", rc);
}

int cp_vtpm_shutdown_tcti(const char *tcti, int32_t timeout_ms) {
        cp_vtpm *t = NULL;
        int r = cp_vtpm_open(tcti, &t);
        if (r < 0)
                return r;
        TSS2_RC rc = Esys_SetTimeout(t->esys, timeout_ms);
        r = rc == TSS2_RC_SUCCESS ? cp_vtpm_shutdown(t) : TSS_FAIL("SetTimeout", rc);
        cp_vtpm_close(t);
        return r;
}

int cp_vtpm_lockout_counter(cp_vtpm *t, uint32_t *ret) {
        return tpm_property(t, TPM2_PT_LOCKOUT_COUNTER, "LOCKOUT_COUNTER", ret);
}

int cp_vtpm_da_recover(cp_vtpm *t, uint32_t *ret_failed) {
        uint32_t n;
        int r = cp_vtpm_lockout_counter(t, &n);
        if (r < 0)
                return r;
        *ret_failed = n;
        if (n == 0)
                return 0;
        /* lockoutAuth: the empty auth value ESAPI uses for a hierarchy by default */
        TSS2_RC rc = Esys_DictionaryAttackLockReset(t->esys, ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                    ESYS_TR_NONE);
        return rc == TSS2_RC_SUCCESS ? 0 : TSS_FAIL("DictionaryAttackLockReset", rc);
}

/* ---- NV indices and persistent keys ------------------------------------ */

#define TPM_RC_FMT1 0x080u
/* tss2's TPM2_PERSISTENT_FIRST shifts a promoted int into its sign bit (UBSan) */
#define PERSISTENT_FIRST 0x81000000u
#define PERSISTENT_LAST 0x817FFFFFu
#define TPM_RC_HANDLE_ERR 0x00Bu

/* An ESYS_TR for a TPM handle; CP_ENOTFOUND if nothing is there. */
static int tr_from_handle(cp_vtpm *t, uint32_t handle, const char *what, ESYS_TR *ret) {
        TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ret);
        if (rc == TSS2_RC_SUCCESS)
                return 0;
        /* TPM_RC_HANDLE (format 1, any parameter/handle number) */
        if ((rc & 0xFFFF0000u) == TSS2_TPM_RC_LAYER && (rc & TPM_RC_FMT1) && (rc & 0x3Fu) == TPM_RC_HANDLE_ERR)
                return CP_ERROR(CP_ENOTFOUND, "vTPM %s 0x%08x is not defined", what, handle);
        return CP_ERROR(CP_EIO, "vTPM %s 0x%08x: %s", what, handle, Tss2_RC_Decode(rc));
}

static int nv_public(cp_vtpm *t, uint32_t index, ESYS_TR *ret_tr, TPMS_NV_PUBLIC *ret_pub) {
        ESYS_TR tr;
        TPM2B_NV_PUBLIC *pub = NULL;
        TPM2B_NAME *name = NULL;
        int r = tr_from_handle(t, index, "NV index", &tr);
        if (r < 0)
                return r;
        TSS2_RC rc = Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name);
        Esys_Free(name);
        if (rc != TSS2_RC_SUCCESS) {
                (void) Esys_TR_Close(t->esys, &tr);
                return TSS_FAIL("NV_ReadPublic", rc);
        }
        *ret_pub = pub->nvPublic;
        Esys_Free(pub);
        *ret_tr = tr;
        return 0;
}

/* TPM2_PT_NV_BUFFER_MAX, bounded by what a TPM2B_MAX_NV_BUFFER holds. */
static int nv_chunk(cp_vtpm *t, size_t *ret) {
        uint32_t n;
        int r = tpm_property(t, TPM2_PT_NV_BUFFER_MAX, "NV_BUFFER_MAX", &n);
        if (r < 0)
                return r;
        if (n == 0)
                return CP_ERROR(CP_EIO, "vTPM reports no NV_BUFFER_MAX");
        *ret = n > sizeof(((TPM2B_MAX_NV_BUFFER *) 0)->buffer) ? sizeof(((TPM2B_MAX_NV_BUFFER *) 0)->buffer) : n;
        return 0;
}

int cp_vtpm_nv_define(cp_vtpm *t, uint32_t index, size_t size) {
        if (size == 0 || size > UINT16_MAX)
                return CP_ERROR(CP_EINVAL, "NV index size %zu", size);
        TPM2B_AUTH auth = {0};
        TPM2B_NV_PUBLIC pub = {
                .nvPublic = {
                        .nvIndex = index,
                        .nameAlg = TPM2_ALG_SHA256,
                        .attributes = TPMA_NV_OWNERREAD | TPMA_NV_OWNERWRITE | TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE,
                        .dataSize = (UINT16) size,
                },
        };
        ESYS_TR tr = ESYS_TR_NONE;
        TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &auth,
                                         &pub, &tr);
        if (rc != TSS2_RC_SUCCESS)
                return TSS_FAIL("NV_DefineSpace", rc);
        (void) Esys_TR_Close(t->esys, &tr);
        return 0;
}

int cp_vtpm_nv_size(cp_vtpm *t, uint32_t index, size_t *ret) {
        ESYS_TR tr;
        TPMS_NV_PUBLIC pub;
        int r = nv_public(t, index, &tr, &pub);
        if (r < 0)
                return r;
        (void) Esys_TR_Close(t->esys, &tr);
        *ret = pub.dataSize;
        return 0;
}

int cp_vtpm_nv_read(cp_vtpm *t, uint32_t index, size_t max_len, uint8_t **ret, size_t *ret_len) {
        ESYS_TR tr;
        TPMS_NV_PUBLIC pub;
        size_t chunk;
        int r = nv_public(t, index, &tr, &pub);
        if (r < 0)
                return r;
        size_t size = pub.dataSize;
        if (size > max_len)
                r = CP_ERROR(CP_ETOOBIG, "NV index 0x%08x holds %zu bytes (at most %zu)", index, size, max_len);
        else if (!(pub.attributes & (TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD)))
                r = CP_ERROR(CP_EUNSUPPORTED, "NV index 0x%08x is readable neither by owner nor by its auth value", index);
        if (r == 0)
                r = nv_chunk(t, &chunk);
        uint8_t *buf = r == 0 ? malloc(size ? size : 1) : NULL;
        if (r == 0 && !buf)
                r = cp_error_oom();
        ESYS_TR auth = (pub.attributes & TPMA_NV_OWNERREAD) ? ESYS_TR_RH_OWNER : tr;
        for (size_t off = 0; r == 0 && off < size;) {
                size_t n = size - off < chunk ? size - off : chunk;
                TPM2B_MAX_NV_BUFFER *d = NULL;
                TSS2_RC rc = Esys_NV_Read(t->esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, (UINT16) n,
                                          (UINT16) off, &d);
                if (rc != TSS2_RC_SUCCESS)
                        r = TSS_FAIL("NV_Read", rc);
                else if (d->size != n)
                        r = CP_ERROR(CP_EIO, "vTPM NV_Read returned %u bytes, not %zu", d->size, n);
                else {
                        memcpy(buf + off, d->buffer, n);
                        off += n;
                }
                Esys_Free(d);
        }
        (void) Esys_TR_Close(t->esys, &tr);
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = size;
        return 0;
}

int cp_vtpm_nv_write(cp_vtpm *t, uint32_t index, const uint8_t *data, size_t len) {
        ESYS_TR tr;
        TPMS_NV_PUBLIC pub;
        size_t chunk;
        int r = nv_public(t, index, &tr, &pub);
        if (r < 0)
                return r;
        if (len > pub.dataSize)
                r = CP_ERROR(CP_ETOOBIG, "%zu bytes do not fit NV index 0x%08x (%u bytes)", len, index, pub.dataSize);
        else if (!(pub.attributes & (TPMA_NV_OWNERWRITE | TPMA_NV_AUTHWRITE)))
                r = CP_ERROR(CP_EUNSUPPORTED, "NV index 0x%08x is writable neither by owner nor by its auth value", index);
        if (r == 0)
                r = nv_chunk(t, &chunk);
        ESYS_TR auth = (pub.attributes & TPMA_NV_OWNERWRITE) ? ESYS_TR_RH_OWNER : tr;
        for (size_t off = 0; r == 0 && off < len;) {
                TPM2B_MAX_NV_BUFFER d = {.size = (UINT16) (len - off < chunk ? len - off : chunk)};
                memcpy(d.buffer, data + off, d.size);
                TSS2_RC rc = Esys_NV_Write(t->esys, auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d,
                                           (UINT16) off);
                if (rc != TSS2_RC_SUCCESS)
                        r = TSS_FAIL("NV_Write", rc);
                off += d.size;
        }
        (void) Esys_TR_Close(t->esys, &tr);
        return r;
}

int cp_vtpm_persist_ak(cp_vtpm *t, uint32_t handle) {
        if (t->ak == ESYS_TR_NONE || t->ak_persistent)
                return CP_ERROR(CP_EINVAL, "no transient AK loaded");
        if (handle < PERSISTENT_FIRST || handle > PERSISTENT_LAST)
                return CP_ERROR(CP_EINVAL, "0x%08x is not a persistent handle", handle);
        ESYS_TR out = ESYS_TR_NONE;
        TSS2_RC rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                       handle, &out);
        if (rc != TSS2_RC_SUCCESS)
                return TSS_FAIL("EvictControl", rc);
        (void) Esys_TR_Close(t->esys, &out);
        return 0;
}

int cp_vtpm_load_persistent_ak(cp_vtpm *t, uint32_t handle, uint8_t ret_n[512], size_t *ret_n_len, uint32_t *ret_e) {
        ESYS_TR tr;
        TPM2B_PUBLIC *pub = NULL;
        TPM2B_NAME *name = NULL, *qname = NULL;
        if (handle < PERSISTENT_FIRST || handle > PERSISTENT_LAST)
                return CP_ERROR(CP_EINVAL, "0x%08x is not a persistent handle", handle);
        /* ESAPI hands out the ESYS_TR it already has for a handle: let go of ours first */
        drop_ak(t);
        int r = tr_from_handle(t, handle, "persistent key", &tr);
        if (r < 0)
                return r;
        TSS2_RC rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name, &qname);
        Esys_Free(name);
        Esys_Free(qname);
        if (rc != TSS2_RC_SUCCESS) {
                (void) Esys_TR_Close(t->esys, &tr);
                return TSS_FAIL("ReadPublic", rc);
        }
        const TPMT_PUBLIC *p = &pub->publicArea;
        const TPMT_RSA_SCHEME *sch = &p->parameters.rsaDetail.scheme;
        size_t nl = p->type == TPM2_ALG_RSA ? p->unique.rsa.size : 0;
        if (p->type != TPM2_ALG_RSA)
                r = CP_ERROR(CP_EUNSUPPORTED, "persistent key 0x%08x is not an RSA key", handle);
        else if ((p->objectAttributes & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)) !=
                 (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED))
                r = CP_ERROR(CP_EUNSUPPORTED, "persistent key 0x%08x is not a restricted signing key", handle);
        else if (sch->scheme != TPM2_ALG_NULL &&
                 (sch->scheme != TPM2_ALG_RSASSA || sch->details.rsassa.hashAlg != TPM2_ALG_SHA256))
                r = CP_ERROR(CP_EUNSUPPORTED, "persistent key 0x%08x does not sign with RSASSA-SHA256", handle);
        else if (nl < 256 || nl > 512)
                r = CP_ERROR(CP_EUNSUPPORTED, "persistent key 0x%08x has a %zu-byte modulus", handle, nl);
        if (r < 0) {
                Esys_Free(pub);
                (void) Esys_TR_Close(t->esys, &tr);
                return r;
        }
        memcpy(ret_n, p->unique.rsa.buffer, nl);
        *ret_n_len = nl;
        *ret_e = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
        t->ak = tr;
        t->ak_persistent = true;
        t->ak_null_scheme = sch->scheme == TPM2_ALG_NULL;
        Esys_Free(pub);
        return 0;
}
