/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A software TDX platform (tdx_emu.h): the module's per-platform state, the
 * PCK key with its certificate from the emulated PCS, and the quoting
 * enclave turning a TDREPORT into a DCAP quote v4 (Intel TDX DCAP Quoting
 * Library API, A.3): header (48), TD 1.0 body (584), signature data: ECDSA
 * signature (64) over header || body, attestation key (64), certification
 * data type 6: QE report (384, an SGX REPORTBODY), its PCK signature (64),
 * QE auth data (u16 + 32 bytes), certification data type 5 (PCK chain,
 * PEM: PCK, Platform CA, root).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "basic/secure.h"
#include "emu/tdx-module-internal.h"
#include "ossl/ossl-util.h"

#define QE_AUTH_LEN 32u

struct cp_tdx_host {
        pthread_mutex_t lock;
        cp_tdx_pcs *pcs;
        tdx_module m;
        cp_tdx_tcb tcb;
        uint16_t qe_isvsvn;
        uint8_t qe_mrsigner[32];
        uint8_t qe_id[16];
        EVP_PKEY *pck_key, *ak;
        uint8_t ak_xy[64];
        X509 *pck;
        cp_tdx_pck_ext ext;
        char dir[1024];             /* cp_tdx_host_open: state written here */
};

static int host_persist(cp_tdx_host *h);

tdx_module *tdx_host_module(cp_tdx_host *h) {
        return &h->m;
}

static int issue_pck(cp_tdx_host *h, int64_t now) {
        X509 *x = NULL;
        h->ext.pcesvn = h->tcb.pcesvn;
        memcpy(h->ext.tcb_comp, h->tcb.sgx, 16);
        memcpy(h->ext.cpusvn, h->tcb.sgx, 16);
        int k = tdx_pcs_issue_pck(h->pcs, h->pck_key, &h->ext, now ? now : (int64_t) time(NULL), &x);
        if (k < 0)
                return k;
        X509_free(h->pck);
        h->pck = x;
        tdx_pcs_register(h->pcs, x, &h->ext);
        memcpy(h->m.tee_tcb_svn, h->tcb.tdx, 16);
        memcpy(h->m.cpusvn, h->tcb.sgx, 16);
        return 0;
}

static int host_keys(cp_tdx_host *h) {
        uint8_t pub[65];
        size_t n = 0;
        static const char seam[] = "confpool software TDX module 1.5 (emulated, not Intel's)";
        unsigned l = 0;
        int k;
        if (RAND_bytes(h->m.mac_key, sizeof(h->m.mac_key)) != 1 || RAND_bytes(h->ext.ppid, 16) != 1 ||
            RAND_bytes(h->qe_id, 16) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "random bytes failed");
        if (EVP_Digest(seam, sizeof(seam) - 1, h->m.mrseam, &l, EVP_sha384(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        if ((k = tdx_emu_p256_keygen(&h->pck_key)) < 0 || (k = tdx_emu_p256_keygen(&h->ak)) < 0)
                return k;
        if (!EVP_PKEY_get_octet_string_param(h->ak, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &n) || n != 65 ||
            pub[0] != 0x04)
                return CP_OSSL_ERROR(CP_ECRYPTO, "attestation key export failed");
        memcpy(h->ak_xy, pub + 1, 64);
        return 0;
}

int cp_tdx_host_new(cp_tdx_pcs *pcs, const cp_tdx_host_config *c, cp_tdx_host **ret) {
        static const cp_tdx_host_config none;
        static const cp_tdx_tcb zero;
        uint16_t pcs_qe_svn;
        int k;
        if (!pcs || !ret)
                return CP_ERROR(CP_EINVAL, "cp_tdx_host_new: NULL argument");
        if (!c)
                c = &none;
        cp_tdx_host *h = calloc(1, sizeof(*h));
        if (!h)
                return cp_error_oom();
        pthread_mutex_init(&h->lock, NULL);
        h->pcs = pcs;
        if (memcmp(&c->tcb, &zero, sizeof(zero)) != 0)
                h->tcb = c->tcb;
        else
                cp_tdx_pcs_default_tcb(pcs, &h->tcb);
        tdx_pcs_qe(pcs, h->qe_mrsigner, &pcs_qe_svn);
        h->qe_isvsvn = c->qe_isvsvn ? c->qe_isvsvn : pcs_qe_svn;
        h->m.seam_attributes = c->seam_attributes;
        static const uint8_t zero6[6];
        if (memcmp(c->fmspc, zero6, 6) != 0) {
                /* a platform of another kind: the PCS serves its FMSPC too */
                if ((k = cp_tdx_pcs_add_fmspc(pcs, c->fmspc)) < 0) {
                        cp_tdx_host_free(h);
                        return k;
                }
                memcpy(h->ext.fmspc, c->fmspc, 6);
        } else
                cp_tdx_pcs_fmspc(pcs, h->ext.fmspc);
        h->ext.sgx_type = 1; /* Scalable, as TDX platforms are */
        if ((k = host_keys(h)) < 0 || (k = issue_pck(h, c->now)) < 0) {
                cp_tdx_host_free(h);
                return k;
        }
        *ret = h;
        return 0;
}

cp_tdx_host *cp_tdx_host_free(cp_tdx_host *h) {
        if (!h)
                return NULL;
        cp_wipe(&h->m, sizeof(h->m));
        EVP_PKEY_free(h->pck_key);
        EVP_PKEY_free(h->ak);
        X509_free(h->pck);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
}

int cp_tdx_host_set_tcb(cp_tdx_host *h, const cp_tdx_tcb *tcb, int64_t now) {
        if (!h || !tcb)
                return CP_ERROR(CP_EINVAL, "cp_tdx_host_set_tcb: NULL argument");
        pthread_mutex_lock(&h->lock);
        h->tcb = *tcb;
        int k = issue_pck(h, now);
        pthread_mutex_unlock(&h->lock);
        return k < 0 ? k : host_persist(h);
}

int cp_tdx_host_pck_chain(cp_tdx_host *h, char **ret, size_t *ret_len) {
        pthread_mutex_lock(&h->lock);
        int k = tdx_pcs_chain_pem(h->pcs, h->pck, ret, ret_len);
        pthread_mutex_unlock(&h->lock);
        return k;
}

int cp_tdx_host_pck_serial(cp_tdx_host *h, uint8_t *ret, size_t cap, size_t *ret_len) {
        pthread_mutex_lock(&h->lock);
        _cleanup_bn_ BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(h->pck), NULL);
        pthread_mutex_unlock(&h->lock);
        int n = bn ? BN_num_bytes(bn) : -1;
        if (n < 0 || (size_t) n > cap || BN_bn2bin(bn, ret) != n)
                return CP_ERROR(CP_EINVAL, "PCK serial does not fit");
        *ret_len = (size_t) n;
        return 0;
}

/* ---- the quoting enclave */

/* EVERIFYREPORT2: the MAC under this platform's module key, and the hashes
 * the MAC covers equal to the contents they stand for. */
static int check_report(cp_tdx_host *h, const uint8_t *r, cp_tdx_tdreport *t) {
        uint8_t mac[32], hh[48];
        unsigned l = 0;
        int k;
        if ((k = tdx_module_mac(&h->m, r, CP_TDX_MAC_OFFSET, mac)) < 0)
                return k;
        if (CRYPTO_memcmp(mac, r + CP_TDX_MAC_OFFSET, 32) != 0)
                return CP_ERROR(CP_ESIG, "TDREPORT MAC does not verify: altered, or made on another platform");
        if ((k = cp_tdx_tdreport_parse(r, CP_TDX_TDREPORT_SIZE, t)) < 0)
                return k;
        /* the 17 bytes between TEE_TCB_INFO and TDINFO are under no hash */
        for (size_t i = CP_TDX_REPORTMAC_SIZE + CP_TDX_TEE_TCB_INFO_SIZE; i < 512; i++)
                if (r[i])
                        return CP_ERROR(CP_EMBZ, "TDREPORT reserved byte %zu is not zero", i);
        if (EVP_Digest(t->tee_tcb_info, CP_TDX_TEE_TCB_INFO_SIZE, hh, &l, EVP_sha384(), NULL) != 1 ||
            memcmp(hh, t->tee_tcb_info_hash, 48) != 0 ||
            EVP_Digest(t->td_info, CP_TDX_TDINFO_SIZE, hh, &l, EVP_sha384(), NULL) != 1 ||
            memcmp(hh, t->tee_info_hash, 48) != 0)
                return CP_ERROR(CP_EBINDING, "TDREPORT TEE_TCB_INFO_HASH or TEE_INFO_HASH is not the hash of its contents");
        return 0;
}

static int write_header_body(cp_tdx_host *h, const cp_tdx_body *b, cp_writer *w) {
        int k;
        if ((k = cp_writer_le16(w, 4)) < 0 || (k = cp_writer_le16(w, CP_TDX_ATT_KEY_ECDSA_P256)) < 0 ||
            (k = cp_writer_le32(w, CP_TDX_TEE_TYPE)) < 0 || (k = cp_writer_le16(w, h->qe_isvsvn)) < 0 ||
            (k = cp_writer_le16(w, h->tcb.pcesvn)) < 0 || (k = cp_writer_bytes(w, cp_tdx_intel_qe_vendor_id, 16)) < 0 ||
            (k = cp_writer_bytes(w, h->qe_id, 16)) < 0 || (k = cp_writer_zeros(w, 4)) < 0)
                return k;
        if ((k = cp_writer_bytes(w, b->tee_tcb_svn, 16)) < 0 || (k = cp_writer_bytes(w, b->mrseam, 48)) < 0 ||
            (k = cp_writer_bytes(w, b->mrsignerseam, 48)) < 0 || (k = cp_writer_le64(w, b->seam_attributes)) < 0 ||
            (k = cp_writer_le64(w, b->td_attributes)) < 0 || (k = cp_writer_le64(w, b->xfam)) < 0 ||
            (k = cp_writer_bytes(w, b->mrtd, 48)) < 0 || (k = cp_writer_bytes(w, b->mrconfigid, 48)) < 0 ||
            (k = cp_writer_bytes(w, b->mrowner, 48)) < 0 || (k = cp_writer_bytes(w, b->mrownerconfig, 48)) < 0 ||
            (k = cp_writer_bytes(w, b->rtmr, sizeof(b->rtmr))) < 0 || (k = cp_writer_bytes(w, b->report_data, 64)) < 0)
                return k;
        return 0;
}

/* The QE's SGX REPORTBODY (384 bytes) binding the attestation key. */
static int qe_report(cp_tdx_host *h, const uint8_t *auth, uint8_t out[CP_TDX_SGX_REPORT_SIZE]) {
        static const char enclave[] = "confpool software TD_QE enclave";
        uint8_t buf[64 + QE_AUTH_LEN];
        unsigned l = 0;
        memset(out, 0, CP_TDX_SGX_REPORT_SIZE);
        memcpy(out, h->tcb.sgx, 16);                   /* CPUSVN */
        out[48] = 0x11;                                /* ATTRIBUTES: INIT | MODE64BIT */
        if (EVP_Digest(enclave, sizeof(enclave) - 1, out + 64, &l, EVP_sha256(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        memcpy(out + 128, h->qe_mrsigner, 32);
        cp_put_le16(out + 256, TDX_QE_ISVPRODID);
        cp_put_le16(out + 258, h->qe_isvsvn);
        memcpy(buf, h->ak_xy, 64);
        memcpy(buf + 64, auth, QE_AUTH_LEN);
        if (EVP_Digest(buf, sizeof(buf), out + 320, &l, EVP_sha256(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");
        return 0;
}

static int write_sig_data(cp_tdx_host *h, const uint8_t *signed_part, size_t signed_len, cp_writer *w) {
        uint8_t sig[64], rep[CP_TDX_SGX_REPORT_SIZE], rsig[64], auth[QE_AUTH_LEN];
        _cleanup_free_ char *chain = NULL;
        size_t cl = 0;
        int k;
        for (unsigned i = 0; i < QE_AUTH_LEN; i++)
                auth[i] = (uint8_t) i;
        if ((k = tdx_emu_sign(h->ak, signed_part, signed_len, sig)) < 0 || (k = qe_report(h, auth, rep)) < 0 ||
            (k = tdx_emu_sign(h->pck_key, rep, sizeof(rep), rsig)) < 0 ||
            (k = tdx_pcs_chain_pem(h->pcs, h->pck, &chain, &cl)) < 0)
                return k;
        size_t cert6 = CP_TDX_SGX_REPORT_SIZE + 64 + 2 + QE_AUTH_LEN + 6 + cl;
        size_t sig_len = 64 + 64 + 6 + cert6;
        if ((k = cp_writer_le32(w, (uint32_t) sig_len)) < 0 || (k = cp_writer_bytes(w, sig, 64)) < 0 ||
            (k = cp_writer_bytes(w, h->ak_xy, 64)) < 0 || (k = cp_writer_le16(w, CP_TDX_CERT_QE_REPORT)) < 0 ||
            (k = cp_writer_le32(w, (uint32_t) cert6)) < 0 || (k = cp_writer_bytes(w, rep, sizeof(rep))) < 0 ||
            (k = cp_writer_bytes(w, rsig, 64)) < 0 || (k = cp_writer_le16(w, QE_AUTH_LEN)) < 0 ||
            (k = cp_writer_bytes(w, auth, QE_AUTH_LEN)) < 0 || (k = cp_writer_le16(w, CP_TDX_CERT_PCK_CHAIN)) < 0 ||
            (k = cp_writer_le32(w, (uint32_t) cl)) < 0 || (k = cp_writer_bytes(w, chain, cl)) < 0)
                return k;
        return 0;
}

int cp_tdx_host_quote(cp_tdx_host *h, const uint8_t tdreport[CP_TDX_TDREPORT_SIZE], uint8_t **ret, size_t *ret_len) {
        cp_tdx_tdreport t;
        int k;
        if (!h || !tdreport || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_tdx_host_quote: NULL argument");
        cp_writer w = cp_writer_make_growable(64 * 1024);
        pthread_mutex_lock(&h->lock);
        if ((k = check_report(h, tdreport, &t)) < 0 || (k = write_header_body(h, &t.body, &w)) < 0 ||
            (k = write_sig_data(h, w.p, w.off, &w)) < 0) {
                pthread_mutex_unlock(&h->lock);
                cp_writer_done(&w);
                return k;
        }
        pthread_mutex_unlock(&h->lock);
        *ret = w.p;
        *ret_len = w.off;
        return 0;
}

/* ---- persistence (issue 16) */

void cp_tdx_host_tcb(cp_tdx_host *h, cp_tdx_tcb *ret) {
        pthread_mutex_lock(&h->lock);
        *ret = h->tcb;
        pthread_mutex_unlock(&h->lock);
}

static int host_persist(cp_tdx_host *h) {
        if (!h->dir[0])
                return 0;
        char f[1100];
        snprintf(f, sizeof(f), "%s/host.json", h->dir);
        pthread_mutex_lock(&h->lock);
        json_t *o = json_pack("{s:I,s:o,s:I,s:I}", "version", (json_int_t) 1, "tcb", tdx_emu_tcb_json(&h->tcb),
                              "qe_isvsvn", (json_int_t) h->qe_isvsvn, "seam_attributes",
                              (json_int_t) h->m.seam_attributes);
        if (o && (tdx_emu_hex_to_json(o, "mac_key", h->m.mac_key, 32) < 0 ||
                  tdx_emu_hex_to_json(o, "ppid", h->ext.ppid, 16) < 0 || tdx_emu_hex_to_json(o, "qe_id", h->qe_id, 16) < 0 ||
                  tdx_emu_hex_to_json(o, "fmspc", h->ext.fmspc, 6) < 0 ||
                  tdx_emu_key_to_json(h->pck_key, o, "pck_key") < 0 || tdx_emu_key_to_json(h->ak, o, "ak") < 0))
                o = (json_decref(o), NULL);
        pthread_mutex_unlock(&h->lock);
        return o ? tdx_emu_write_json(f, o) : CP_ERROR(CP_EINTERNAL, "software TDX state: cannot serialize the host");
}

static void json_decrefp_(json_t **p) {
        json_decref(*p);
}

static int host_load(cp_tdx_host *h, const char *path) {
        json_error_t je;
        _cleanup_(json_decrefp_) json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!o)
                return CP_ERROR(CP_EFORMAT, "%s: %s", path, je.text);
        const json_t *qs = json_object_get(o, "qe_isvsvn"), *sa = json_object_get(o, "seam_attributes");
        uint8_t pub[65];
        size_t n = 0;
        unsigned l = 0;
        static const char seam[] = "confpool software TDX module 1.5 (emulated, not Intel's)";
        int r;
        if (json_integer_value(json_object_get(o, "version")) != 1 || !json_is_integer(qs) ||
            json_integer_value(qs) < 0 || json_integer_value(qs) > 0xffff || !json_is_integer(sa))
                return CP_ERROR(CP_EFORMAT, "%s: not a software TDX host state of version 1", path);
        h->qe_isvsvn = (uint16_t) json_integer_value(qs);
        h->m.seam_attributes = (uint64_t) json_integer_value(sa);
        if ((r = tdx_emu_tcb_from_json(json_object_get(o, "tcb"), &h->tcb)) < 0 ||
            (r = tdx_emu_hex_from_json(o, "mac_key", h->m.mac_key, 32)) < 0 ||
            (r = tdx_emu_hex_from_json(o, "ppid", h->ext.ppid, 16)) < 0 ||
            (r = tdx_emu_hex_from_json(o, "qe_id", h->qe_id, 16)) < 0 ||
            (r = tdx_emu_key_from_json(o, "pck_key", &h->pck_key)) < 0 ||
            (r = tdx_emu_key_from_json(o, "ak", &h->ak)) < 0 ||
            /* absent in a host kept before platforms had FMSPCs of their own: the PCS's */
            (json_object_get(o, "fmspc") && ((r = tdx_emu_hex_from_json(o, "fmspc", h->ext.fmspc, 6)) < 0 ||
                                             (r = cp_tdx_pcs_add_fmspc(h->pcs, h->ext.fmspc)) < 0)))
                return cp_error_wrap("%s", path);
        if (EVP_Digest(seam, sizeof(seam) - 1, h->m.mrseam, &l, EVP_sha384(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-384 failed");
        if (!EVP_PKEY_get_octet_string_param(h->ak, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &n) || n != 65 ||
            pub[0] != 0x04)
                return CP_OSSL_ERROR(CP_EFORMAT, "%s: the attestation key is not a P-256 key", path);
        memcpy(h->ak_xy, pub + 1, 64);
        return 0;
}

int cp_tdx_host_open(cp_tdx_pcs *pcs, const char *dir, const cp_tdx_host_config *c, cp_tdx_host **ret) {
        char f[1100];
        int r;
        if (!pcs || !dir || !ret || strlen(dir) >= sizeof(((cp_tdx_host *) 0)->dir))
                return CP_ERROR(CP_EINVAL, "cp_tdx_host_open: a PCS and a directory (shorter than 1 KiB) are needed");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create %s: %m", dir);
        snprintf(f, sizeof(f), "%s/host.json", dir);
        if (access(f, F_OK) != 0) {
                cp_tdx_host *h = NULL;
                if ((r = cp_tdx_host_new(pcs, c, &h)) < 0)
                        return r;
                snprintf(h->dir, sizeof(h->dir), "%s", dir);
                if ((r = host_persist(h)) < 0) {
                        cp_tdx_host_free(h);
                        return r;
                }
                *ret = h;
                return 0;
        }
        cp_tdx_host *h = calloc(1, sizeof(*h));
        if (!h)
                return cp_error_oom();
        pthread_mutex_init(&h->lock, NULL);
        h->pcs = pcs;
        uint16_t pcs_qe_svn;
        tdx_pcs_qe(pcs, h->qe_mrsigner, &pcs_qe_svn);
        cp_tdx_pcs_fmspc(pcs, h->ext.fmspc);
        h->ext.sgx_type = 1;
        if ((r = host_load(h, f)) < 0 || (r = issue_pck(h, 0)) < 0) {
                cp_tdx_host_free(h);
                return r;
        }
        snprintf(h->dir, sizeof(h->dir), "%s", dir);
        *ret = h;
        return 0;
}
