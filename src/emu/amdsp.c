/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Software AMD-SP: host state (persisted in a directory), the host's ARK,
 * ASK and ASVK with AMD's certificate profile, VCEK/VLEK derivation and
 * issuance, CRLs.  The KDS-compatible endpoint is amdsp_kds.c.  See
 * docs/amdsp.md.
 *
 * State directory:
 *   host.json        public state (generation, chip ID, TCBs, options, revoked serials)
 *   host-secret      64 random bytes, mode 0600 (the "chip-unique secret")
 *   ark-key.pem, ask-key.pem, asvk-key.pem   RSA-4096 private keys, mode 0600
 *   ark.der, ask.der, asvk.der               certificates
 *   vcek-<tcb>.der, vlek-<tcb>.der           issued leaves (16 hex digits of the raw TCB)
 *   guests/<handle>.json                     launched guests incl. VMPCKs, mode 0600
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/fileio.h"
#include "basic/limits.h"
#include "ossl/ossl-util.h"
#include "emu/amdsp-internal.h"
#include "libconfpool/rsagen.h"

CP_OSSL_DEFINE_FREEP(EC_GROUP, EC_GROUP_free)
CP_OSSL_DEFINE_FREEP(EC_POINT, EC_POINT_free)
CP_OSSL_DEFINE_FREEP(BN_CTX, BN_CTX_free)
CP_OSSL_DEFINE_FREEP(EVP_KDF_CTX, EVP_KDF_CTX_free)
static inline void cp_json_tp(json_t **p) {
        json_decref(*p);
}

static void bn_clear_freep(BIGNUM **p) {
        BN_clear_free(*p);
}

/* Validity in calendar years, as AMD's KDS issues them: VCEK 7, VLEK 1,
 * ARK/ASK/ASVK 25 (real ones span 2556/2557, 365 and 9131/9132 days). */
#define VCEK_YEARS 7
#define VLEK_YEARS 1
#define CA_YEARS   25
#define KDS_CRL_BASE  "https://kdsintf.amd.com"

static const char *product_line(cp_snp_generation g) {
        return cp_snp_generation_name(g);
}

/* productName as AMD's KDS writes it: real Milan VCEKs (2022-2025) carry
 * "Milan-B0", Genoa VCEKs "Genoa", Turin VCEKs "Turin"; VLEKs the bare
 * product line ("Milan"). */
static const char *product_name(cp_snp_generation g, bool vlek) {
        if (vlek || g != CP_SNP_GEN_MILAN)
                return product_line(g);
        return "Milan-B0";
}

/* t + years calendar years (UTC), as AMD's validity periods are counted. */
static int64_t add_years(int64_t t, int years) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm))
                return t + (int64_t) years * 365 * 86400;
        tm.tm_year += years;
        return (int64_t) timegm(&tm);
}

/* AMD's CA serial numbers: product (Milan 1, Genoa 2, Turin 3) << 16 | kind,
 * kind 0x0000 ARK, 0x0001 ASK (Genoa's current ASK: 0x0002), 0x0101 ASVK. */
static uint32_t ca_serial(cp_snp_generation g, cp_amd_cert_kind kind) {
        uint32_t p = (uint32_t) g << 16;
        if (kind == CP_AMD_CERT_ARK)
                return p;
        if (kind == CP_AMD_CERT_ASVK)
                return p | 0x0101;
        return p | (g == CP_SNP_GEN_GENOA ? 0x0002 : 0x0001);
}

size_t amdsp_hwid_len(cp_snp_generation g) {
        return g == CP_SNP_GEN_TURIN ? 8 : 64;
}

uint64_t amdsp_tcb_raw(const cp_amdsp *sp) {
        return cp_snp_tcb_encode(&sp->tcb, sp->gen);
}

static int path_join(const cp_amdsp *sp, const char *name, char *out, size_t cap) {
        int n = snprintf(out, cap, "%s/%s", sp->dir, name);
        if (n < 0 || (size_t) n >= cap)
                return CP_ERROR(CP_EINVAL, "path '%s/%s' too long", sp->dir, name);
        return 0;
}

/* ---- keys ------------------------------------------------------------------ */

/*
 * VCEK/VLEK key derivation (mirrors AMD's "derived from the chip-unique
 * secret and the TCB"):
 *   okm_i = HKDF-SHA-384(IKM = host secret (64 bytes),
 *                        salt = "confpool-amdsp-v1",
 *                        info = "VCEK" | "VLEK", 0x00, product line, 0x00,
 *                               hwID (64 or 8 bytes) | csp_id (VLEK),
 *                               TCB_VERSION (u64 little-endian), i (u8),
 *                        L = 48)
 *   d = okm_i as a big-endian integer for the first i = 0, 1, ... with
 *       1 <= d < n (P-384 group order): rejection sampling, no modular bias.
 */
static int derive_scalar(const cp_amdsp *sp, bool vlek, uint64_t tcb_raw, uint8_t counter, uint8_t out[48]) {
        _cleanup_(cp_EVP_KDF_CTX_freep) EVP_KDF_CTX *kctx = NULL;
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        static const char salt[] = "confpool-amdsp-v1";
        uint8_t info[4 + 1 + 16 + 1 + 256 + 8 + 1];
        size_t n = 0;
        const char *line = product_line(sp->gen);

        if (!kdf)
                return CP_OSSL_ERROR(CP_ECRYPTO, "HKDF unavailable");
        kctx = EVP_KDF_CTX_new(kdf);
        EVP_KDF_free(kdf);
        if (!kctx)
                return CP_OSSL_ERROR(CP_ECRYPTO, "HKDF context");
        memcpy(info + n, vlek ? "VLEK" : "VCEK", 4);
        n += 4;
        info[n++] = 0;
        memcpy(info + n, line, strlen(line));
        n += strlen(line);
        info[n++] = 0;
        if (vlek) {
                size_t l = strlen(sp->csp_id);
                memcpy(info + n, sp->csp_id, l);
                n += l;
        } else {
                memcpy(info + n, sp->chip_id, amdsp_hwid_len(sp->gen));
                n += amdsp_hwid_len(sp->gen);
        }
        cp_put_le64(info + n, tcb_raw);
        n += 8;
        info[n++] = counter;

        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA384", 0),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, sp->secret->p, sp->secret->len),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *) salt, sizeof(salt) - 1),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
                OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(kctx, out, 48, params) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "HKDF-SHA-384 failed");
        return 0;
}

static int p384_from_scalar(const uint8_t scalar[48], EVP_PKEY **ret) {
        _cleanup_(cp_EC_GROUP_freep) EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
        _cleanup_(cp_EC_POINT_freep) EC_POINT *pt = NULL;
        _cleanup_(cp_BN_CTX_freep) BN_CTX *bctx = BN_CTX_new();
        _cleanup_(bn_clear_freep) BIGNUM *d = NULL;
        _cleanup_(cp_OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(cp_OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(cp_EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        EVP_PKEY *pk = NULL;
        uint8_t pub[97];

        if (!g || !bctx)
                return CP_OSSL_ERROR(CP_ECRYPTO, "P-384 setup");
        d = BN_secure_new();
        if (!d || !BN_bin2bn(scalar, 48, d))
                return CP_OSSL_ERROR(CP_ECRYPTO, "scalar");
        if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
                return 1; /* out of range: next candidate */
        pt = EC_POINT_new(g);
        if (!pt || EC_POINT_mul(g, pt, d, NULL, NULL, bctx) != 1 ||
            EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), bctx) != sizeof(pub))
                return CP_OSSL_ERROR(CP_ECRYPTO, "public point");
        bld = OSSL_PARAM_BLD_new();
        if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, SN_secp384r1, 0) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "key parameters");
        params = OSSL_PARAM_BLD_to_param(bld);
        pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) != 1 ||
            EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_KEYPAIR, params) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "P-384 key import");
        *ret = pk;
        return 0;
}

int amdsp_derive_key(const cp_amdsp *sp, bool vlek, uint64_t tcb_raw, EVP_PKEY **ret) {
        uint8_t scalar[48];
        for (unsigned i = 0; i < 256; i++) {
                int r = derive_scalar(sp, vlek, tcb_raw, (uint8_t) i, scalar);
                if (r >= 0)
                        r = p384_from_scalar(scalar, ret);
                cp_wipe(scalar, sizeof(scalar));
                if (r != 1)
                        return r;
        }
        return CP_ERROR(CP_ECRYPTO, "no P-384 scalar in 256 HKDF outputs");
}

int amdsp_signing_key(cp_amdsp *sp, bool vlek, EVP_PKEY **ret_borrowed) {
        uint64_t raw = amdsp_tcb_raw(sp);
        EVP_PKEY **slot = vlek ? &sp->vlek_key : &sp->vcek_key;
        uint64_t *slot_tcb = vlek ? &sp->vlek_key_tcb : &sp->vcek_key_tcb;

        if (vlek && !sp->has_vlek)
                return CP_ERROR(CP_ENOTFOUND, "no VLEK installed on this host");
        if (!*slot || *slot_tcb != raw) {
                EVP_PKEY *k = NULL;
                int r = amdsp_derive_key(sp, vlek, raw, &k);
                if (r < 0)
                        return r;
                EVP_PKEY_free(*slot);
                *slot = k;
                *slot_tcb = raw;
        }
        *ret_borrowed = *slot;
        return 0;
}

/* ---- certificates ------------------------------------------------------------ */

static int amd_name(const char *cn, X509_NAME **ret) {
        static const char *const fields[][2] = {
                { "OU", "Engineering" }, { "C", "US" }, { "L", "Santa Clara" },
                { "ST", "CA" },          { "O", "Advanced Micro Devices" },
        };
        _cleanup_(cp_X509_NAME_freep) X509_NAME *n = X509_NAME_new();
        if (!n)
                return cp_error_oom();
        for (size_t i = 0; i < CP_ELEMENTSOF(fields); i++)
                if (!X509_NAME_add_entry_by_txt(n, fields[i][0], MBSTRING_ASC, (const unsigned char *) fields[i][1], -1,
                                                -1, 0))
                        return CP_OSSL_ERROR(CP_ECRYPTO, "X509 name");
        if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0))
                return CP_OSSL_ERROR(CP_ECRYPTO, "X509 name");
        *ret = TAKE_PTR(n);
        return 0;
}

static int pss_ctx(EVP_PKEY *key, EVP_MD_CTX **ret) {
        _cleanup_(cp_EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        if (!ctx || EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), NULL, key) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "RSASSA-PSS context");
        *ret = TAKE_PTR(ctx);
        return 0;
}

static int add_ext_conf(X509 *x, X509 *issuer, int nid, const char *value) {
        X509V3_CTX v3;
        X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
        _cleanup_(cp_X509_EXTENSION_freep) X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
        if (!e || !X509_add_ext(x, e, -1))
                return CP_OSSL_ERROR(CP_ECRYPTO, "extension %s", OBJ_nid2sn(nid));
        return 0;
}

static int add_ext_raw_crit(X509 *x, const char *oid, int crit, const uint8_t *val, size_t len) {
        _cleanup_(cp_ASN1_OBJECT_freep) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
        _cleanup_(cp_ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        if (!obj || !os || !ASN1_OCTET_STRING_set(os, val, (int) len))
                return CP_OSSL_ERROR(CP_ECRYPTO, "extension %s", oid);
        _cleanup_(cp_X509_EXTENSION_freep) X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, crit, os);
        if (!e || !X509_add_ext(x, e, -1))
                return CP_OSSL_ERROR(CP_ECRYPTO, "extension %s", oid);
        return 0;
}

static int add_ext_raw(X509 *x, const char *oid, const uint8_t *val, size_t len) {
        return add_ext_raw_crit(x, oid, 0, val, len);
}

/* keyUsage keyCertSign as AMD encodes it in its ASKs and ASVKs: BIT STRING
 * with 1 unused bit (OpenSSL would write the minimal 2). */
static const uint8_t amd_ku_cert_sign[] = { 0x03, 0x02, 0x01, 0x04 };

static int set_common(X509 *x, const uint8_t *serial, size_t serial_len, const char *subject, const char *issuer,
                      int64_t not_before, int64_t not_after, EVP_PKEY *pub) {
        _cleanup_(cp_X509_NAME_freep) X509_NAME *sn = NULL, *in = NULL;
        _cleanup_(cp_BN_freep) BIGNUM *bn = BN_bin2bn(serial, (int) serial_len, NULL);
        int r;
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                return CP_OSSL_ERROR(CP_ECRYPTO, "serial");
        if ((r = amd_name(subject, &sn)) < 0 || (r = amd_name(issuer, &in)) < 0)
                return r;
        if (!X509_set_version(x, X509_VERSION_3) || !X509_set_subject_name(x, sn) || !X509_set_issuer_name(x, in) ||
            !ASN1_TIME_set(X509_getm_notBefore(x), (time_t) not_before) ||
            !ASN1_TIME_set(X509_getm_notAfter(x), (time_t) not_after) || !X509_set_pubkey(x, pub))
                return CP_OSSL_ERROR(CP_ECRYPTO, "certificate fields");
        return 0;
}

/* RSASSA-PSS-params with AMD's explicit trailerField 1 (OpenSSL omits the
 * DEFAULT): SHA-384, MGF1-SHA-384, salt 48, trailerField 1. */
static const uint8_t pss_params_trailer[] = {
        0x30, 0x39, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0xa2, 0x03,
        0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01,
};

static int set_pss_algor(const X509_ALGOR *calg) {
        /* the AlgorithmIdentifiers are X509's own, set before the signature is made */
        X509_ALGOR *alg = (X509_ALGOR *) calg;
        ASN1_STRING *p = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
        if (!p || !ASN1_STRING_set(p, pss_params_trailer, (int) sizeof(pss_params_trailer)) ||
            !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, p)) {
                ASN1_STRING_free(p);
                return CP_OSSL_ERROR(CP_ECRYPTO, "RSASSA-PSS parameters");
        }
        return 0;
}

/* Re-sign x with the explicit trailerField in both AlgorithmIdentifiers
 * (AMD's CA certificates and its older VCEKs carry it). */
static int resign_with_trailer(X509 *x, EVP_PKEY *issuer_key) {
        _cleanup_(cp_EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const ASN1_BIT_STRING *csig = NULL;
        const X509_ALGOR *outer = NULL;
        unsigned char *tbs = NULL;
        uint8_t sig[1024];
        size_t sl = sizeof(sig);
        int r;

        X509_get0_signature(&csig, &outer, x);
        if ((r = set_pss_algor(X509_get0_tbs_sigalg(x))) < 0 || (r = set_pss_algor(outer)) < 0)
                return r;
        int n = i2d_re_X509_tbs(x, &tbs);
        if (n <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "TBSCertificate encoding");
        if ((r = pss_ctx(issuer_key, &ctx)) < 0) {
                OPENSSL_free(tbs);
                return r;
        }
        int ok = EVP_DigestSign(ctx, sig, &sl, tbs, (size_t) n);
        OPENSSL_free(tbs);
        ASN1_BIT_STRING *bs = (ASN1_BIT_STRING *) csig;
        if (ok != 1 || !ASN1_BIT_STRING_set(bs, sig, (int) sl))
                return CP_OSSL_ERROR(CP_ECRYPTO, "certificate signature");
        /* X509_sign_ctx left the bit string flagged "0 unused bits" */
        return 0;
}

static int sign_cert(X509 *x, EVP_PKEY *issuer_key, bool trailer) {
        _cleanup_(cp_EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        int r = pss_ctx(issuer_key, &ctx);
        if (r < 0)
                return r;
        if (X509_sign_ctx(x, ctx) <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "certificate signature");
        return trailer ? resign_with_trailer(x, issuer_key) : 0;
}

/* ARK (self-signed), ASK or ASVK (signed by the ARK), in AMD's profile (as
 * the real ones of Milan, Genoa and Turin): names as above, serial
 * product << 16 | kind, 25 years, RSASSA-PSS with an explicit trailerField.
 * ARK: keyUsage critical keyCertSign+cRLSign, SKI, basicConstraints critical
 * CA:TRUE, CRL distribution point - in that order, no AKI.  ASK/ASVK: SKI,
 * AKI, basicConstraints critical CA:TRUE pathlen 0, keyUsage critical
 * keyCertSign, CRL distribution point. */
static int make_ca(cp_amdsp *sp, cp_amd_cert_kind kind, EVP_PKEY *key, X509 **ret) {
        _cleanup_x509_ X509 *x = X509_new();
        const char *line = product_line(sp->gen);
        char cn[64], crl_dp[160], ark_cn[64];
        uint32_t sv = ca_serial(sp->gen, kind);
        uint8_t serial[3] = { (uint8_t) (sv >> 16), (uint8_t) (sv >> 8), (uint8_t) sv };
        bool ark = kind == CP_AMD_CERT_ARK;
        int r;

        if (!x)
                return cp_error_oom();
        snprintf(cn, sizeof(cn), "%s-%s", kind == CP_AMD_CERT_ARK ? "ARK" : kind == CP_AMD_CERT_ASK ? "SEV" : "SEV-VLEK",
                 line);
        snprintf(crl_dp, sizeof(crl_dp), "URI:%s/%s/v1/%s/crl", KDS_CRL_BASE, kind == CP_AMD_CERT_ASVK ? "vlek" : "vcek",
                 line);
        snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", line);
        r = set_common(x, serial, sizeof(serial), cn, ark_cn, sp->created - 86400,
                       add_years(sp->created - 86400, CA_YEARS), key);
        if (r < 0)
                return r;
        X509 *issuer = ark ? x : sp->ark;
        if (ark) {
                if ((r = add_ext_conf(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
                    (r = add_ext_conf(x, issuer, NID_subject_key_identifier, "hash")) < 0 ||
                    (r = add_ext_conf(x, issuer, NID_basic_constraints, "critical,CA:TRUE")) < 0)
                        return r;
        } else if ((r = add_ext_conf(x, issuer, NID_subject_key_identifier, "hash")) < 0 ||
                   (r = add_ext_conf(x, issuer, NID_authority_key_identifier, "keyid:always")) < 0 ||
                   (r = add_ext_conf(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
                   (r = add_ext_raw_crit(x, "2.5.29.15", 1, amd_ku_cert_sign, sizeof(amd_ku_cert_sign))) < 0)
                return r;
        if ((r = add_ext_conf(x, issuer, NID_crl_distribution_points, crl_dp)) < 0)
                return r;
        r = sign_cert(x, ark ? key : sp->ark_key, true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}

static size_t der_int(uint8_t *out, unsigned v) {
        /* DER INTEGER of 0..255 */
        out[0] = 0x02;
        if (v >= 0x80) {
                out[1] = 2;
                out[2] = 0;
                out[3] = (uint8_t) v;
                return 4;
        }
        out[1] = 1;
        out[2] = (uint8_t) v;
        return 3;
}

static int add_spl(X509 *x, unsigned idx, unsigned v) {
        uint8_t buf[4];
        char oid[40];
        snprintf(oid, sizeof(oid), "1.3.6.1.4.1.3704.1.3.%u", idx);
        size_t n = der_int(buf, v);
        return add_ext_raw(x, oid, buf, n);
}

static int add_ia5(X509 *x, const char *oid, const char *s) {
        uint8_t buf[2 + 127];
        size_t l = strlen(s);
        if (l > 127)
                return CP_ERROR(CP_EINVAL, "string extension too long");
        buf[0] = 0x16;
        buf[1] = (uint8_t) l;
        memcpy(buf + 2, s, l);
        return add_ext_raw(x, oid, buf, 2 + l);
}

/* VCEK / VLEK for raw TCB, with AMD's extensions in AMD's order. */
static int make_leaf(cp_amdsp *sp, bool vlek, uint64_t tcb_raw, X509 **ret) {
        _cleanup_x509_ X509 *x = X509_new();
        _cleanup_(cp_EVP_PKEY_freep) EVP_PKEY *key = NULL;
        cp_snp_tcb t;
        char issuer[64];
        bool turin = sp->gen == CP_SNP_GEN_TURIN;
        int r;

        if (!x)
                return cp_error_oom();
        if ((r = cp_snp_tcb_decode(tcb_raw, sp->gen, &t)) < 0 || (r = amdsp_derive_key(sp, vlek, tcb_raw, &key)) < 0)
                return r;
        /* AMD's VCEKs and VLEKs all carry serial number 0. */
        static const uint8_t serial[1] = { 0 };
        snprintf(issuer, sizeof(issuer), "%s-%s", vlek ? "SEV-VLEK" : "SEV", product_line(sp->gen));
        r = set_common(x, serial, sizeof(serial), vlek ? "SEV-VLEK" : "SEV-VCEK", issuer, sp->created - 86400,
                       add_years(sp->created - 86400, vlek ? VLEK_YEARS : VCEK_YEARS), key);
        if (r < 0)
                return r;
        /* structVersion 0 on Milan and Genoa, 1 on Turin, as AMD's */
        const uint8_t struct_version[] = { 0x02, 0x01, turin ? 0x01 : 0x00 };
        if ((r = add_ext_raw(x, "1.3.6.1.4.1.3704.1.1", struct_version, sizeof(struct_version))) < 0 ||
            (r = add_ia5(x, "1.3.6.1.4.1.3704.1.2", product_name(sp->gen, vlek))) < 0)
                return r;
        if (turin) {
                /* fmcSPL, blSPL, teeSPL, snpSPL, spl5-7, ucodeSPL (no spl4) */
                if ((r = add_spl(x, 9, t.fmc)) < 0 || (r = add_spl(x, 1, t.bl)) < 0 || (r = add_spl(x, 2, t.tee)) < 0 ||
                    (r = add_spl(x, 3, t.snp)) < 0 || (r = add_spl(x, 5, 0)) < 0 || (r = add_spl(x, 6, 0)) < 0 ||
                    (r = add_spl(x, 7, 0)) < 0 || (r = add_spl(x, 8, t.ucode)) < 0)
                        return r;
        } else {
                /* blSPL, teeSPL, spl4-7, snpSPL, ucodeSPL */
                if ((r = add_spl(x, 1, t.bl)) < 0 || (r = add_spl(x, 2, t.tee)) < 0 || (r = add_spl(x, 4, 0)) < 0 ||
                    (r = add_spl(x, 5, 0)) < 0 || (r = add_spl(x, 6, 0)) < 0 || (r = add_spl(x, 7, 0)) < 0 ||
                    (r = add_spl(x, 3, t.snp)) < 0 || (r = add_spl(x, 8, t.ucode)) < 0)
                        return r;
        }
        if (vlek)
                r = add_ia5(x, "1.3.6.1.4.1.3704.1.5", sp->csp_id);
        else
                r = add_ext_raw(x, "1.3.6.1.4.1.3704.1.4", sp->chip_id, amdsp_hwid_len(sp->gen));
        if (r < 0)
                return r;
        /* AMD's current leaves omit the trailerField (older Milan VCEKs had it) */
        r = sign_cert(x, vlek ? sp->asvk_key : sp->ask_key, false);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}

int amdsp_x509_der(X509 *x, uint8_t **ret, size_t *ret_len) {
        unsigned char *p = NULL;
        int n = i2d_X509(x, &p);
        if (n <= 0)
                return CP_OSSL_ERROR(CP_ECRYPTO, "DER encoding");
        uint8_t *out = malloc((size_t) n);
        if (!out) {
                OPENSSL_free(p);
                return cp_error_oom();
        }
        memcpy(out, p, (size_t) n);
        OPENSSL_free(p);
        *ret = out;
        *ret_len = (size_t) n;
        return 0;
}

static bool tcb_known(const cp_amdsp *sp, uint64_t raw) {
        for (size_t i = 0; i < sp->n_tcbs; i++)
                if (sp->tcbs[i] == raw)
                        return true;
        return false;
}

int amdsp_leaf_der(cp_amdsp *sp, bool vlek, uint64_t tcb_raw, uint8_t **ret, size_t *ret_len) {
        char name[64], path[4096];
        int r;

        if (vlek && !sp->has_vlek)
                return CP_ERROR(CP_ENOTFOUND, "no VLEK on this host");
        if (!tcb_known(sp, tcb_raw))
                return CP_ERROR(CP_ENOTFOUND, "this host never ran at TCB 0x%016llx", (unsigned long long) tcb_raw);
        snprintf(name, sizeof(name), "%s-%016llx.der", vlek ? "vlek" : "vcek", (unsigned long long) tcb_raw);
        if ((r = path_join(sp, name, path, sizeof(path))) < 0)
                return r;
        r = cp_read_file(path, CP_MAX_CERT_DER, ret, ret_len);
        if (r != CP_ENOTFOUND)
                return r;
        cp_error_clear();
        _cleanup_x509_ X509 *x = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        size_t n = 0;
        if ((r = make_leaf(sp, vlek, tcb_raw, &x)) < 0 || (r = amdsp_x509_der(x, &der, &n)) < 0 ||
            (r = cp_write_file(path, der, n, 0644)) < 0)
                return r;
        *ret = TAKE_PTR(der);
        *ret_len = n;
        return 0;
}

/* ---- persistence ------------------------------------------------------------- */

static int save_key(cp_amdsp *sp, const char *name, EVP_PKEY *k) {
        _cleanup_(cp_BIO_freep) BIO *b = BIO_new(BIO_s_secmem());
        char path[4096];
        char *data = NULL;
        int r;
        if (!b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PEM encoding");
        long n = BIO_get_mem_data(b, &data);
        if ((r = path_join(sp, name, path, sizeof(path))) < 0)
                return r;
        return cp_write_file(path, data, (size_t) n, 0600);
}

static int load_key_file(const char *path, EVP_PKEY **ret) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t n = 0;
        int r;
        if ((r = cp_read_file(path, 64 * 1024, &data, &n)) < 0)
                return r;
        _cleanup_(cp_BIO_freep) BIO *b = BIO_new_mem_buf(data, (int) n);
        EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        cp_wipe(data, n);
        if (!k)
                return CP_OSSL_ERROR(CP_EFORMAT, "%s: not a PEM private key", path);
        *ret = k;
        return 0;
}

static int load_key(cp_amdsp *sp, const char *name, EVP_PKEY **ret) {
        char path[4096];
        int r = path_join(sp, name, path, sizeof(path));
        return r < 0 ? r : load_key_file(path, ret);
}

static int save_cert(cp_amdsp *sp, const char *name, X509 *x) {
        _cleanup_free_ uint8_t *der = NULL;
        size_t n = 0;
        char path[4096];
        int r;
        if ((r = amdsp_x509_der(x, &der, &n)) < 0 || (r = path_join(sp, name, path, sizeof(path))) < 0)
                return r;
        return cp_write_file(path, der, n, 0644);
}

static int load_cert_file(const char *path, X509 **ret) {
        _cleanup_free_ uint8_t *der = NULL;
        size_t n = 0;
        int r;
        if ((r = cp_read_file(path, CP_MAX_CERT_DER, &der, &n)) < 0)
                return r;
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) n);
        if (!x || p != der + n) {
                X509_free(x);
                return CP_OSSL_ERROR(CP_EFORMAT, "%s: not a DER certificate", path);
        }
        *ret = x;
        return 0;
}

static int load_cert(cp_amdsp *sp, const char *name, X509 **ret) {
        char path[4096];
        int r = path_join(sp, name, path, sizeof(path));
        return r < 0 ? r : load_cert_file(path, ret);
}

/* The ARK/ASK of another host of the same fleet (c->ca_dir). */
static int load_shared_ca(cp_amdsp *sp, const char *dir) {
        static const char *const names[] = {"ark-key.pem", "ask-key.pem", "ark.der", "ask.der"};
        char path[4][4096];
        for (size_t i = 0; i < 4; i++) {
                int n = snprintf(path[i], sizeof(path[i]), "%s/%s", dir, names[i]);
                if (n < 0 || (size_t) n >= sizeof(path[i]))
                        return CP_ERROR(CP_EINVAL, "path '%s/%s' too long", dir, names[i]);
        }
        int r;
        if ((r = load_key_file(path[0], &sp->ark_key)) < 0 || (r = load_key_file(path[1], &sp->ask_key)) < 0 ||
            (r = load_cert_file(path[2], &sp->ark)) < 0 || (r = load_cert_file(path[3], &sp->ask)) < 0)
                return r;
        if (!X509_check_private_key(sp->ark, sp->ark_key) || !X509_check_private_key(sp->ask, sp->ask_key))
                return CP_OSSL_ERROR(CP_ECERT, "%s: the ARK/ASK certificates do not match their keys", dir);
        return 0;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
        char buf[2 * 64 + 1];
        if (n > 64)
                return NULL;
        cp_hex_encode(p, n, buf);
        return json_string(buf);
}

static int save_state(cp_amdsp *sp) {
        _cleanup_(cp_json_tp) json_t *o = json_object(), *tcbs = json_array(), *rev = json_array();
        char path[4096], buf[32];
        int r;

        if (!o || !tcbs || !rev)
                return cp_error_oom();
        for (size_t i = 0; i < sp->n_tcbs; i++) {
                snprintf(buf, sizeof(buf), "%016llx", (unsigned long long) sp->tcbs[i]);
                if (json_array_append_new(tcbs, json_string(buf)) < 0)
                        return cp_error_oom();
        }
        for (size_t i = 0; i < sp->n_revoked; i++)
                if (json_array_append_new(rev, hex_json(sp->revoked[i], sp->revoked_len[i])) < 0)
                        return cp_error_oom();
        snprintf(buf, sizeof(buf), "%016llx", (unsigned long long) amdsp_tcb_raw(sp));
        if (json_object_set_new(o, "format", json_integer(1)) < 0 ||
            json_object_set_new(o, "generation", json_string(product_line(sp->gen))) < 0 ||
            json_object_set_new(o, "chip_id", hex_json(sp->chip_id, 64)) < 0 ||
            json_object_set_new(o, "tcb", json_string(buf)) < 0 || json_object_set(o, "tcb_history", tcbs) < 0 ||
            json_object_set_new(o, "fw_major", json_integer(sp->fw_major)) < 0 ||
            json_object_set_new(o, "fw_minor", json_integer(sp->fw_minor)) < 0 ||
            json_object_set_new(o, "fw_build", json_integer(sp->fw_build)) < 0 ||
            json_object_set_new(o, "platform_info", json_integer((json_int_t) sp->platform_info)) < 0 ||
            json_object_set_new(o, "report_version", json_integer(sp->report_version)) < 0 ||
            json_object_set_new(o, "mask_chip_key", json_boolean(sp->mask_chip_key)) < 0 ||
            json_object_set_new(o, "mask_chip_id", json_boolean(sp->mask_chip_id)) < 0 ||
            json_object_set_new(o, "created", json_integer(sp->created)) < 0 ||
            json_object_set_new(o, "vlek_csp_id", sp->has_vlek ? json_string(sp->csp_id) : json_null()) < 0 ||
            json_object_set(o, "revoked", rev) < 0)
                return cp_error_oom();
        _cleanup_free_ char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!text)
                return cp_error_oom();
        if ((r = path_join(sp, "host.json", path, sizeof(path))) < 0)
                return r;
        return cp_write_file(path, text, strlen(text), 0644);
}

static int json_hex(json_t *o, const char *key, uint8_t *out, size_t n) {
        const char *s = json_string_value(json_object_get(o, key));
        size_t got = 0;
        if (!s || cp_hex_decode(s, strlen(s), out, n, &got) < 0 || got != n)
                return CP_ERROR(CP_EFORMAT, "state: \"%s\" is not %zu hex bytes", key, n);
        return 0;
}

static int json_u64hex(json_t *v, uint64_t *ret) {
        uint8_t b[8];
        size_t got = 0;
        const char *s = json_string_value(v);
        if (!s || strlen(s) != 16 || cp_hex_decode(s, 16, b, 8, &got) < 0)
                return CP_ERROR(CP_EFORMAT, "state: bad 64-bit hex value");
        uint64_t x = 0;
        for (size_t i = 0; i < 8; i++)
                x = (x << 8) | b[i];
        *ret = x;
        return 0;
}

static int json_uint(json_t *o, const char *key, uint64_t max, uint64_t *ret) {
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return CP_ERROR(CP_EFORMAT, "state: \"%s\" missing or out of range", key);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

static int load_state(cp_amdsp *sp) {
        char path[4096];
        _cleanup_free_ uint8_t *data = NULL;
        size_t n = 0;
        json_error_t jerr;
        uint64_t v, raw;
        int r;

        if ((r = path_join(sp, "host.json", path, sizeof(path))) < 0 || (r = cp_read_file(path, 1u << 20, &data, &n)) < 0)
                return r;
        _cleanup_(cp_json_tp) json_t *o = json_loadb((const char *) data, n, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o))
                return CP_ERROR(CP_EFORMAT, "%s: %s", path, jerr.text);
        if ((r = json_uint(o, "format", 1, &v)) < 0)
                return r;
        sp->gen = cp_snp_generation_from_name(json_string_value(json_object_get(o, "generation")));
        if (sp->gen == CP_SNP_GEN_UNKNOWN)
                return CP_ERROR(CP_EFORMAT, "%s: unknown generation", path);
        if ((r = json_hex(o, "chip_id", sp->chip_id, 64)) < 0 || (r = json_u64hex(json_object_get(o, "tcb"), &raw)) < 0 ||
            (r = cp_snp_tcb_decode(raw, sp->gen, &sp->tcb)) < 0)
                return r;
        json_t *tcbs = json_object_get(o, "tcb_history"), *it;
        size_t i;
        if (!json_is_array(tcbs) || json_array_size(tcbs) > AMDSP_MAX_TCBS)
                return CP_ERROR(CP_EFORMAT, "%s: bad tcb_history", path);
        json_array_foreach(tcbs, i, it) {
                if ((r = json_u64hex(it, &sp->tcbs[i])) < 0)
                        return r;
        }
        sp->n_tcbs = json_array_size(tcbs);
        if ((r = json_uint(o, "fw_major", 255, &v)) < 0)
                return r;
        sp->fw_major = (uint8_t) v;
        if ((r = json_uint(o, "fw_minor", 255, &v)) < 0)
                return r;
        sp->fw_minor = (uint8_t) v;
        if ((r = json_uint(o, "fw_build", 255, &v)) < 0)
                return r;
        sp->fw_build = (uint8_t) v;
        if ((r = json_uint(o, "platform_info", INT64_MAX, &sp->platform_info)) < 0 ||
            (r = json_uint(o, "report_version", 5, &v)) < 0)
                return r;
        sp->report_version = (uint32_t) v;
        if ((r = json_uint(o, "created", INT64_MAX, &v)) < 0)
                return r;
        sp->created = (int64_t) v;
        sp->mask_chip_key = json_is_true(json_object_get(o, "mask_chip_key"));
        sp->mask_chip_id = json_is_true(json_object_get(o, "mask_chip_id"));
        const char *csp = json_string_value(json_object_get(o, "vlek_csp_id"));
        if (csp) {
                if (strlen(csp) == 0 || strlen(csp) >= 128)
                        return CP_ERROR(CP_EFORMAT, "%s: bad vlek_csp_id", path);
                snprintf(sp->csp_id, sizeof(sp->csp_id), "%s", csp);
                sp->has_vlek = true;
        }
        json_t *rev = json_object_get(o, "revoked");
        if (!json_is_array(rev) || json_array_size(rev) > AMDSP_MAX_REVOKED)
                return CP_ERROR(CP_EFORMAT, "%s: bad revoked list", path);
        json_array_foreach(rev, i, it) {
                const char *s = json_string_value(it);
                size_t got = 0;
                if (!s || cp_hex_decode(s, strlen(s), sp->revoked[i], 20, &got) < 0 || got == 0)
                        return CP_ERROR(CP_EFORMAT, "%s: bad revoked serial", path);
                sp->revoked_len[i] = (uint8_t) got;
        }
        sp->n_revoked = json_array_size(rev);
        if (!tcb_known(sp, raw))
                return CP_ERROR(CP_EFORMAT, "%s: current TCB missing from tcb_history", path);

        /* secrets and CA material */
        _cleanup_free_ uint8_t *sec = NULL;
        size_t sl = 0;
        if ((r = path_join(sp, "host-secret", path, sizeof(path))) < 0 ||
            (r = cp_read_file(path, AMDSP_SECRET_LEN + 1, &sec, &sl)) < 0)
                return r;
        if (sl != AMDSP_SECRET_LEN) {
                cp_wipe(sec, sl);
                return CP_ERROR(CP_EFORMAT, "%s: expected %u bytes", path, AMDSP_SECRET_LEN);
        }
        r = cp_secret_new(AMDSP_SECRET_LEN, &sp->secret);
        if (r >= 0)
                memcpy(sp->secret->p, sec, AMDSP_SECRET_LEN);
        cp_wipe(sec, sl);
        if (r < 0)
                return r;
        if ((r = load_key(sp, "ark-key.pem", &sp->ark_key)) < 0 || (r = load_key(sp, "ask-key.pem", &sp->ask_key)) < 0 ||
            (r = load_cert(sp, "ark.der", &sp->ark)) < 0 || (r = load_cert(sp, "ask.der", &sp->ask)) < 0)
                return r;
        if (sp->has_vlek &&
            ((r = load_key(sp, "asvk-key.pem", &sp->asvk_key)) < 0 || (r = load_cert(sp, "asvk.der", &sp->asvk)) < 0))
                return r;
        return 0;
}

static int create_state(cp_amdsp *sp, const cp_amdsp_config *c) {
        int r;
        if (c->generation <= CP_SNP_GEN_UNKNOWN || c->generation >= _CP_SNP_GEN_MAX)
                return CP_ERROR(CP_EINVAL, "amdsp: a generation (Milan, Genoa, Turin) is required");
        if (c->tcb.has_fmc != (c->generation == CP_SNP_GEN_TURIN))
                return CP_ERROR(CP_EINVAL, "amdsp: fmc SPL given for %s / missing for Turin",
                                product_line(c->generation));
        if (c->report_version != 0 && c->report_version != 2 && c->report_version != 3 && c->report_version != 5)
                return CP_ERROR(CP_EINVAL, "amdsp: report version %u (2, 3 or 5)", c->report_version);
        if (c->vlek_csp_id && (strlen(c->vlek_csp_id) == 0 || strlen(c->vlek_csp_id) >= 128))
                return CP_ERROR(CP_EINVAL, "amdsp: csp_id must be 1..127 characters");
        if (c->vlek_csp_id)
                for (const char *p = c->vlek_csp_id; *p; p++)
                        if (*p < 0x20 || *p > 0x7e)
                                return CP_ERROR(CP_EINVAL, "amdsp: csp_id must be printable ASCII");
        sp->gen = c->generation;
        sp->tcb = c->tcb;
        sp->tcbs[0] = amdsp_tcb_raw(sp);
        sp->n_tcbs = 1;
        if (c->fw_major || c->fw_minor) {
                sp->fw_major = c->fw_major;
                sp->fw_minor = c->fw_minor;
        } else {
                sp->fw_major = 1;
                sp->fw_minor = 55;
        }
        /* 0: the build real parts of the generation report (Milan 1.55.29,
         * Genoa 1.55.43 in the reports in realdata) */
        sp->fw_build = c->fw_build ? c->fw_build : sp->gen == CP_SNP_GEN_MILAN ? 29 : 43;
        sp->platform_info = c->platform_info ? c->platform_info : (CP_SNP_PLATFORM_SMT_EN | CP_SNP_PLATFORM_TSME_EN);
        sp->report_version = c->report_version ? c->report_version : 5;
        sp->created = c->now ? c->now : (int64_t) time(NULL);
        if (c->vlek_csp_id) {
                snprintf(sp->csp_id, sizeof(sp->csp_id), "%s", c->vlek_csp_id);
                sp->has_vlek = true;
        }
        if ((r = cp_secret_new(AMDSP_SECRET_LEN, &sp->secret)) < 0)
                return r;
        if (RAND_priv_bytes(sp->secret->p, AMDSP_SECRET_LEN) != 1 ||
            RAND_bytes(sp->chip_id, (int) amdsp_hwid_len(sp->gen)) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "RAND_bytes");
        if (c->ca_dir) {
                if ((r = load_shared_ca(sp, c->ca_dir)) < 0)
                        return r;
        } else if ((r = cp_rsa_generate(4096, &sp->ark_key)) < 0 || (r = cp_rsa_generate(4096, &sp->ask_key)) < 0)
                return r;
        if (sp->has_vlek && (r = cp_rsa_generate(4096, &sp->asvk_key)) < 0)
                return r;
        if ((!c->ca_dir && ((r = make_ca(sp, CP_AMD_CERT_ARK, sp->ark_key, &sp->ark)) < 0 ||
                            (r = make_ca(sp, CP_AMD_CERT_ASK, sp->ask_key, &sp->ask)) < 0)) ||
            (sp->has_vlek && (r = make_ca(sp, CP_AMD_CERT_ASVK, sp->asvk_key, &sp->asvk)) < 0))
                return r;
        char path[4096];
        if ((r = path_join(sp, "host-secret", path, sizeof(path))) < 0 ||
            (r = cp_write_file(path, sp->secret->p, AMDSP_SECRET_LEN, 0600)) < 0 ||
            (r = save_key(sp, "ark-key.pem", sp->ark_key)) < 0 || (r = save_key(sp, "ask-key.pem", sp->ask_key)) < 0 ||
            (r = save_cert(sp, "ark.der", sp->ark)) < 0 || (r = save_cert(sp, "ask.der", sp->ask)) < 0)
                return r;
        if (sp->has_vlek &&
            ((r = save_key(sp, "asvk-key.pem", sp->asvk_key)) < 0 || (r = save_cert(sp, "asvk.der", sp->asvk)) < 0))
                return r;
        return save_state(sp); /* last: its presence marks a complete host */
}

int cp_amdsp_open(const char *dir, const cp_amdsp_config *create, cp_amdsp **ret) {
        _cleanup_(cp_amdsp_freep) cp_amdsp *sp = NULL;
        pthread_mutexattr_t ma;
        char path[4096];
        struct stat st;
        int r;

        if (!dir || !ret)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_open: NULL argument");
        sp = calloc(1, sizeof(*sp));
        if (!sp)
                return cp_error_oom();
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&sp->lock, &ma);
        pthread_mutexattr_destroy(&ma);
        sp->dir = strdup(dir);
        if (!sp->dir)
                return cp_error_oom();
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return CP_ERROR(CP_EIO, "cannot create '%s': %s", dir, strerror(errno));
        if ((r = path_join(sp, "host.json", path, sizeof(path))) < 0)
                return r;
        if (stat(path, &st) == 0)
                r = load_state(sp);
        else if (!create)
                r = CP_ERROR(CP_ENOTFOUND, "no AMD-SP host in '%s'", dir);
        else
                r = create_state(sp, create);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(sp);
        return 0;
}

cp_amdsp *cp_amdsp_free(cp_amdsp *sp) {
        if (!sp)
                return NULL;
        amdsp_guests_free(sp);
        amdsp_kds_free(sp);
        cp_secret_free(sp->secret);
        EVP_PKEY_free(sp->ark_key);
        EVP_PKEY_free(sp->ask_key);
        EVP_PKEY_free(sp->asvk_key);
        EVP_PKEY_free(sp->vcek_key);
        EVP_PKEY_free(sp->vlek_key);
        X509_free(sp->ark);
        X509_free(sp->ask);
        X509_free(sp->asvk);
        free(sp->dir);
        pthread_mutex_destroy(&sp->lock);
        free(sp);
        return NULL;
}

cp_snp_generation cp_amdsp_generation(const cp_amdsp *sp) {
        return sp ? sp->gen : CP_SNP_GEN_UNKNOWN;
}

void cp_amdsp_chip_id(const cp_amdsp *sp, uint8_t ret[64]) {
        memcpy(ret, sp->chip_id, 64);
}

void cp_amdsp_get_tcb(const cp_amdsp *sp, cp_snp_tcb *ret) {
        *ret = sp->tcb;
}

int cp_amdsp_set_tcb(cp_amdsp *sp, const cp_snp_tcb *tcb) {
        if (!sp || !tcb)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_set_tcb: NULL argument");
        if (tcb->has_fmc != (sp->gen == CP_SNP_GEN_TURIN))
                return CP_ERROR(CP_EINVAL, "fmc SPL given for %s / missing for Turin", product_line(sp->gen));
        pthread_mutex_lock(&sp->lock);
        cp_snp_tcb old = sp->tcb;
        sp->tcb = *tcb;
        uint64_t raw = amdsp_tcb_raw(sp);
        int r = 0;
        if (!tcb_known(sp, raw)) {
                if (sp->n_tcbs >= AMDSP_MAX_TCBS)
                        r = CP_ERROR(CP_ETOOBIG, "more than %u TCB versions", AMDSP_MAX_TCBS);
                else
                        sp->tcbs[sp->n_tcbs++] = raw;
        }
        if (r >= 0)
                r = save_state(sp);
        if (r < 0)
                sp->tcb = old;
        pthread_mutex_unlock(&sp->lock);
        return r;
}

int cp_amdsp_set_mask(cp_amdsp *sp, bool mask_chip_key, bool mask_chip_id) {
        if (!sp)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_set_mask: NULL argument");
        pthread_mutex_lock(&sp->lock);
        sp->mask_chip_key = mask_chip_key;
        sp->mask_chip_id = mask_chip_id;
        int r = save_state(sp);
        pthread_mutex_unlock(&sp->lock);
        return r;
}

int cp_amdsp_ca_cert(cp_amdsp *sp, cp_amd_cert_kind kind, uint8_t **ret, size_t *ret_len) {
        X509 *x = NULL;
        if (!sp || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_ca_cert: NULL argument");
        if (kind == CP_AMD_CERT_ARK)
                x = sp->ark;
        else if (kind == CP_AMD_CERT_ASK)
                x = sp->ask;
        else if (kind == CP_AMD_CERT_ASVK)
                x = sp->asvk;
        else
                return CP_ERROR(CP_EINVAL, "cp_amdsp_ca_cert: not a CA kind");
        if (!x)
                return CP_ERROR(CP_ENOTFOUND, "this host has no ASVK (no VLEK)");
        return amdsp_x509_der(x, ret, ret_len);
}

static int leaf(cp_amdsp *sp, bool vlek, const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len) {
        if (!sp || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_vcek: NULL argument");
        pthread_mutex_lock(&sp->lock);
        uint64_t raw = tcb ? cp_snp_tcb_encode(tcb, sp->gen) : amdsp_tcb_raw(sp);
        int r = amdsp_leaf_der(sp, vlek, raw, ret, ret_len);
        pthread_mutex_unlock(&sp->lock);
        return r;
}

int cp_amdsp_vcek(cp_amdsp *sp, const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len) {
        return leaf(sp, false, tcb, ret, ret_len);
}

int cp_amdsp_vlek(cp_amdsp *sp, const cp_snp_tcb *tcb, uint8_t **ret, size_t *ret_len) {
        return leaf(sp, true, tcb, ret, ret_len);
}

static int append_pem(BIO *b, X509 *x) {
        if (PEM_write_bio_X509(b, x) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "PEM encoding");
        return 0;
}

int cp_amdsp_cert_chain_pem(cp_amdsp *sp, cp_amd_cert_kind leaf_kind, uint8_t **ret, size_t *ret_len) {
        if (!sp || !ret || !ret_len || (leaf_kind != CP_AMD_CERT_VCEK && leaf_kind != CP_AMD_CERT_VLEK))
                return CP_ERROR(CP_EINVAL, "cp_amdsp_cert_chain_pem: invalid arguments");
        X509 *inter = leaf_kind == CP_AMD_CERT_VLEK ? sp->asvk : sp->ask;
        if (!inter)
                return CP_ERROR(CP_ENOTFOUND, "this host has no ASVK (no VLEK)");
        _cleanup_(cp_BIO_freep) BIO *b = BIO_new(BIO_s_mem());
        char *data = NULL;
        int r;
        if (!b)
                return cp_error_oom();
        if ((r = append_pem(b, inter)) < 0 || (r = append_pem(b, sp->ark)) < 0)
                return r;
        long n = BIO_get_mem_data(b, &data);
        uint8_t *out = malloc((size_t) n + 1);
        if (!out)
                return cp_error_oom();
        memcpy(out, data, (size_t) n);
        out[n] = 0;
        *ret = out;
        *ret_len = (size_t) n;
        return 0;
}

int cp_amdsp_crl(cp_amdsp *sp, int64_t now, uint8_t **ret, size_t *ret_len) {
        _cleanup_x509_crl_ X509_CRL *crl = X509_CRL_new();
        _cleanup_(cp_ASN1_TIME_freep) ASN1_TIME *t1 = NULL, *t2 = NULL;
        _cleanup_(cp_EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        _cleanup_(cp_ASN1_INTEGER_freep) ASN1_INTEGER *num = ASN1_INTEGER_new();
        int r;

        if (!sp || !ret || !ret_len)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_crl: NULL argument");
        if (!now)
                now = (int64_t) time(NULL);
        if (!crl || !num)
                return cp_error_oom();
        pthread_mutex_lock(&sp->lock);
        t1 = ASN1_TIME_set(NULL, (time_t) (now - 3600));
        t2 = ASN1_TIME_set(NULL, (time_t) (now + 7 * 86400));
        if (!t1 || !t2 || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
            !X509_CRL_set_issuer_name(crl, X509_get_subject_name(sp->ark)) || !X509_CRL_set1_lastUpdate(crl, t1) ||
            !X509_CRL_set1_nextUpdate(crl, t2) || !ASN1_INTEGER_set_int64(num, now) ||
            !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "CRL fields");
                goto out;
        }
        for (size_t i = 0; i < sp->n_revoked; i++) {
                _cleanup_(cp_X509_REVOKED_freep) X509_REVOKED *rv = X509_REVOKED_new();
                _cleanup_(cp_BN_freep) BIGNUM *bn = BN_bin2bn(sp->revoked[i], sp->revoked_len[i], NULL);
                _cleanup_(cp_ASN1_INTEGER_freep) ASN1_INTEGER *ser = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
                if (!rv || !ser || !X509_REVOKED_set_serialNumber(rv, ser) || !X509_REVOKED_set_revocationDate(rv, t1) ||
                    !X509_CRL_add0_revoked(crl, rv)) {
                        r = CP_OSSL_ERROR(CP_ECRYPTO, "CRL entry");
                        goto out;
                }
                rv = NULL; /* owned by the CRL */
        }
        if (!X509_CRL_sort(crl)) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "CRL sort");
                goto out;
        }
        if ((r = pss_ctx(sp->ark_key, &ctx)) < 0)
                goto out;
        if (X509_CRL_sign_ctx(crl, ctx) <= 0) {
                r = CP_OSSL_ERROR(CP_ECRYPTO, "CRL signature");
                goto out;
        }
        {
                unsigned char *p = NULL;
                int n = i2d_X509_CRL(crl, &p);
                if (n <= 0) {
                        r = CP_OSSL_ERROR(CP_ECRYPTO, "CRL encoding");
                        goto out;
                }
                uint8_t *o = malloc((size_t) n);
                if (!o) {
                        OPENSSL_free(p);
                        r = cp_error_oom();
                        goto out;
                }
                memcpy(o, p, (size_t) n);
                OPENSSL_free(p);
                *ret = o;
                *ret_len = (size_t) n;
                r = 0;
        }
out:
        pthread_mutex_unlock(&sp->lock);
        return r;
}

int cp_amdsp_revoke(cp_amdsp *sp, const uint8_t *serial, size_t len) {
        if (!sp || !serial || len == 0 || len > 20)
                return CP_ERROR(CP_EINVAL, "cp_amdsp_revoke: serial must be 1..20 bytes");
        /* canonical form: no leading zero bytes */
        while (len > 1 && serial[0] == 0) {
                serial++;
                len--;
        }
        pthread_mutex_lock(&sp->lock);
        int r = 0;
        bool dup = false;
        for (size_t i = 0; i < sp->n_revoked; i++)
                if (sp->revoked_len[i] == len && memcmp(sp->revoked[i], serial, len) == 0)
                        dup = true;
        if (!dup) {
                if (sp->n_revoked >= AMDSP_MAX_REVOKED)
                        r = CP_ERROR(CP_ETOOBIG, "more than %u revoked serials", AMDSP_MAX_REVOKED);
                else {
                        memcpy(sp->revoked[sp->n_revoked], serial, len);
                        sp->revoked_len[sp->n_revoked++] = (uint8_t) len;
                        r = save_state(sp);
                        if (r < 0)
                                sp->n_revoked--;
                }
        }
        pthread_mutex_unlock(&sp->lock);
        return r;
}
