/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD SEV-SNP certificates (ARK, ASK, ASVK, VCEK, VLEK): loading, AMD's X.509
 * extensions under 1.3.6.1.4.1.3704.1, and the per-certificate checks used by
 * chain verification (snp_trust.c) and CRL checking (snp_crl.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "basic/secure.h"
#include "confpool/snp_cert.h"
#include "ossl/ossl-util.h"
#include "libconfpool/snp_cert-internal.h"

/* DER contents of OID 1.3.6.1.4.1.3704.1 (AMD KDS extensions) */
static const uint8_t amd_oid_prefix[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01 };

/* RSASSA-PSS-params exactly as AMD issues them: SHA-384, MGF1(SHA-384),
 * saltLength 48, trailerField omitted (newer certs) or explicitly 1 (older
 * certs, e.g. VCEKs issued 2022-2023 and the 2020 Milan ARK/ASK). */
static const uint8_t pss384_params[] = {
        0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
        0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
        0x00, 0xa2, 0x03, 0x02, 0x01, 0x30,
};
static const uint8_t pss384_params_trailer[] = {
        0x30, 0x39, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
        0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
        0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
        0x00, 0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01,
};

#define AMD_SPL_MAX 9 /* .3.1 .. .3.9 */
#define AMD_MAX_EXTENSIONS 32u

const char *cp_amd_cert_kind_name(cp_amd_cert_kind k) {
        switch (k) {
        case CP_AMD_CERT_ARK:
                return "ARK";
        case CP_AMD_CERT_ASK:
                return "ASK";
        case CP_AMD_CERT_ASVK:
                return "ASVK";
        case CP_AMD_CERT_VCEK:
                return "VCEK";
        case CP_AMD_CERT_VLEK:
                return "VLEK";
        default:
                return "unknown";
        }
}

/* ---- DER / PEM framing -------------------------------------------------- */

int cp_amd_der_header(cp_cursor *c, uint8_t *ret_tag, size_t *ret_len) {
        size_t pos = cp_cursor_tell(c), body = 0;
        uint8_t tag, b;

        if (cp_cursor_u8(c, &tag) < 0 || cp_cursor_u8(c, &b) < 0)
                goto trunc;
        if ((tag & 0x1f) == 0x1f) {
                cp_cursor_rewind(c, pos);
                return CP_ERROR(CP_EFORMAT, "multi-byte DER tags are not supported");
        }
        if (b < 0x80)
                body = b;
        else if (b == 0x80) {
                cp_cursor_rewind(c, pos);
                return CP_ERROR(CP_EFORMAT, "indefinite-length encoding is not DER");
        } else {
                unsigned n = b & 0x7fu;
                if (n > 4) {
                        cp_cursor_rewind(c, pos);
                        return CP_ERROR(CP_EFORMAT, "DER length of %u bytes is too large", n);
                }
                for (unsigned i = 0; i < n; i++) {
                        if (cp_cursor_u8(c, &b) < 0)
                                goto trunc;
                        if (i == 0 && b == 0) {
                                cp_cursor_rewind(c, pos);
                                return CP_ERROR(CP_EFORMAT, "non-minimal DER length");
                        }
                        body = (body << 8) | b;
                }
                if (body < 0x80) {
                        cp_cursor_rewind(c, pos);
                        return CP_ERROR(CP_EFORMAT, "non-minimal DER length");
                }
        }
        if (body > cp_cursor_remaining(c)) {
                size_t have = cp_cursor_remaining(c);
                cp_cursor_rewind(c, pos);
                return CP_ERROR(CP_EFORMAT, "truncated DER: element needs %zu bytes, %zu present", body, have);
        }
        *ret_tag = tag;
        *ret_len = body;
        return 0;
trunc:
        cp_cursor_rewind(c, pos);
        return CP_ERROR(CP_EFORMAT, "truncated DER header at offset %zu", pos);
}

int cp_amd_der_outer(const uint8_t *buf, size_t len, size_t *ret_total) {
        cp_cursor c = cp_cursor_make(buf, len);
        uint8_t tag;
        size_t body;
        int r = cp_amd_der_header(&c, &tag, &body);
        if (r < 0)
                return r;
        if (tag != 0x30)
                return CP_ERROR(CP_EFORMAT, "DER does not start with a SEQUENCE (tag 0x%02x)", tag);
        *ret_total = cp_cursor_offset(&c) + body;
        return 0;
}

static bool is_space(uint8_t ch) {
        return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static void skip_space(cp_cursor *c) {
        uint8_t ch;
        for (;;) {
                size_t pos = cp_cursor_tell(c);
                if (cp_cursor_u8(c, &ch) < 0)
                        return;
                if (!is_space(ch)) {
                        cp_cursor_rewind(c, pos);
                        return;
                }
        }
}

/* Consume the literal s if it comes next. */
static bool take_literal(cp_cursor *c, const char *s) {
        size_t n = strlen(s), pos = cp_cursor_tell(c);
        const uint8_t *p;
        if (n > cp_cursor_remaining(c))
                return false;
        if (cp_cursor_ptr(c, n, &p) < 0)
                return false;
        if (memcmp(p, s, n) != 0) {
                cp_cursor_rewind(c, pos);
                return false;
        }
        return true;
}

bool cp_amd_looks_like_pem(const uint8_t *buf, size_t len) {
        cp_cursor c = cp_cursor_make(buf, len);
        skip_space(&c);
        return take_literal(&c, "-----BEGIN ");
}

int cp_amd_pem_next(const uint8_t *buf, size_t len, size_t *off, const char *label, size_t max_der,
                    uint8_t **ret_der, size_t *ret_der_len) {
        char begin[64], end[64];
        cp_cursor c = cp_cursor_make(buf, len);
        _cleanup_free_ char *b64 = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        size_t b64_max = (max_der + 2) / 3 * 4, n = 0, der_len = 0;
        int r;

        snprintf(begin, sizeof(begin), "-----BEGIN %s-----", label);
        snprintf(end, sizeof(end), "-----END %s-----", label);
        if (*off > len)
                return CP_ERROR(CP_EINVAL, "PEM offset out of range");
        r = cp_cursor_skip(&c, *off);
        if (r < 0)
                return r;
        skip_space(&c);
        if (!take_literal(&c, begin))
                return CP_ERROR(CP_EFORMAT, "expected \"%s\"", begin);

        b64 = malloc(b64_max + 1);
        if (!b64)
                return cp_error_oom();
        for (;;) {
                uint8_t ch;
                if (take_literal(&c, end))
                        break;
                if (cp_cursor_u8(&c, &ch) < 0)
                        return CP_ERROR(CP_EFORMAT, "PEM block without \"%s\"", end);
                if (is_space(ch))
                        continue;
                bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                          ch == '+' || ch == '/' || ch == '=';
                if (!ok)
                        return CP_ERROR(CP_EFORMAT, "invalid character 0x%02x in PEM body", ch);
                if (n >= b64_max)
                        return CP_ERROR(CP_ETOOBIG, "PEM %s larger than %zu bytes", label, max_der);
                b64[n++] = (char) ch;
        }
        b64[n] = '\0';
        if (n == 0)
                return CP_ERROR(CP_EFORMAT, "empty PEM block");
        der = malloc(cp_b64_decoded_max(n));
        if (!der)
                return cp_error_oom();
        r = cp_b64_decode(b64, n, CP_B64_STD, der, cp_b64_decoded_max(n), &der_len);
        if (r < 0)
                return cp_error_wrap("PEM %s", label);
        *off = cp_cursor_offset(&c);
        *ret_der_len = der_len;
        *ret_der = TAKE_PTR(der);
        return 0;
}

/* ---- extensions --------------------------------------------------------- */

typedef struct amd_ext_state {
        bool has_spl[AMD_SPL_MAX + 1];
        uint8_t spl[AMD_SPL_MAX + 1];
        bool has_product, has_hwid, has_csp;
        unsigned n_amd;
} amd_ext_state;

static void oid_text(const ASN1_OBJECT *obj, char *buf, size_t cap) {
        if (OBJ_obj2txt(buf, (int) cap, obj, 1) <= 0)
                snprintf(buf, cap, "(unprintable OID)");
}

static int ext_integer(const char *oid, const uint8_t *p, size_t n, int64_t *ret) {
        const unsigned char *q = p;
        _cleanup_asn1_integer_ ASN1_INTEGER *ai = NULL;
        int64_t v;

        if (n == 0 || n > 16)
                return CP_ERROR(CP_ECERT, "AMD extension %s: bad INTEGER length %zu", oid, n);
        ai = d2i_ASN1_INTEGER(NULL, &q, (long) n);
        if (!ai)
                return CP_OSSL_ERROR(CP_ECERT, "AMD extension %s: not a DER INTEGER", oid);
        if (q != p + n)
                return CP_ERROR(CP_ECERT, "AMD extension %s: trailing bytes after INTEGER", oid);
        if (ASN1_INTEGER_get_int64(&v, ai) != 1)
                return CP_OSSL_ERROR(CP_ECERT, "AMD extension %s: INTEGER out of range", oid);
        *ret = v;
        return 0;
}

/* IA5String, printable ASCII only, length 1..cap-1, copied NUL-terminated. */
static int ext_ia5(const char *oid, const uint8_t *p, size_t n, char *out, size_t cap) {
        const unsigned char *q = p;
        _cleanup_asn1_ia5_ ASN1_IA5STRING *s = NULL;

        if (n == 0 || n > 4096)
                return CP_ERROR(CP_ECERT, "AMD extension %s: bad IA5String length %zu", oid, n);
        s = d2i_ASN1_IA5STRING(NULL, &q, (long) n);
        if (!s)
                return CP_OSSL_ERROR(CP_ECERT, "AMD extension %s: not a DER IA5String", oid);
        if (q != p + n)
                return CP_ERROR(CP_ECERT, "AMD extension %s: trailing bytes after IA5String", oid);
        int sl = ASN1_STRING_length(s);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        if (sl <= 0 || (size_t) sl >= cap)
                return CP_ERROR(CP_ECERT, "AMD extension %s: string length %d not in 1..%zu", oid, sl, cap - 1);
        for (int i = 0; i < sl; i++)
                if (d[i] < 0x20 || d[i] > 0x7e)
                        return CP_ERROR(CP_ECERT, "AMD extension %s: non-printable character", oid);
        memcpy(out, d, (size_t) sl);
        out[sl] = '\0';
        return 0;
}

static int ext_hwid(const uint8_t *p, size_t n, cp_amd_cert_info *info) {
        /* Raw form (every real VCEK): 64 bytes (Milan/Genoa) or 8 (Turin).
         * DER-wrapped form: OCTET STRING of 64 or 8 bytes.  The total lengths
         * differ (66/10 vs 64/8), so the form is unambiguous. */
        if (n == 64 || n == 8) {
                memcpy(info->hwid, p, n);
                info->hwid_len = n;
                info->hwid_der_wrapped = false;
                return 0;
        }
        if ((n == 66 && p[0] == 0x04 && p[1] == 0x40) || (n == 10 && p[0] == 0x04 && p[1] == 0x08)) {
                cp_cursor c = cp_cursor_make(p, n);
                int r = cp_cursor_skip(&c, 2);
                if (r < 0)
                        return r;
                r = cp_cursor_bytes(&c, n - 2, info->hwid);
                if (r < 0)
                        return r;
                info->hwid_len = n - 2;
                info->hwid_der_wrapped = true;
                return 0;
        }
        return CP_ERROR(CP_ECERT, "AMD extension hwID: unexpected length %zu (want 64 or 8 bytes, raw or "
                                  "as OCTET STRING)", n);
}

static int parse_amd_ext(const ASN1_OBJECT *obj, const uint8_t *suffix, size_t slen, const ASN1_OCTET_STRING *val,
                         cp_amd_cert_info *info, amd_ext_state *st) {
        char oid[96];
        const uint8_t *p = ASN1_STRING_get0_data(val);
        size_t n = (size_t) ASN1_STRING_length(val);
        int64_t v;
        int r;

        oid_text(obj, oid, sizeof(oid));
        st->n_amd++;
        if (slen == 1 && suffix[0] == 0x01) { /* structVersion */
                r = ext_integer(oid, p, n, &v);
                if (r < 0)
                        return r;
                if (v < 0 || v > 255)
                        return CP_ERROR(CP_ECERT, "AMD structVersion %lld out of range", (long long) v);
                info->has_struct_version = true;
                info->struct_version = (int) v;
                return 0;
        }
        if (slen == 1 && suffix[0] == 0x02) { /* productName */
                r = ext_ia5(oid, p, n, info->product_name, sizeof(info->product_name));
                if (r < 0)
                        return r;
                st->has_product = true;
                return 0;
        }
        if (slen == 2 && suffix[0] == 0x03 && suffix[1] >= 1 && suffix[1] <= AMD_SPL_MAX) { /* SPLs */
                unsigned idx = suffix[1];
                r = ext_integer(oid, p, n, &v);
                if (r < 0)
                        return r;
                if (v < 0 || v > 255)
                        return CP_ERROR(CP_ECERT, "AMD SPL extension %s: value %lld outside 0..255", oid,
                                        (long long) v);
                if (idx >= 4 && idx <= 7 && v != 0)
                        return CP_ERROR(CP_ECERT, "AMD reserved SPL extension %s must be 0, is %lld", oid,
                                        (long long) v);
                st->has_spl[idx] = true;
                st->spl[idx] = (uint8_t) v;
                return 0;
        }
        if (slen == 1 && suffix[0] == 0x04) { /* hwID */
                r = ext_hwid(p, n, info);
                if (r < 0)
                        return r;
                st->has_hwid = true;
                return 0;
        }
        if (slen == 1 && suffix[0] == 0x05) { /* csp_id */
                r = ext_ia5(oid, p, n, info->csp_id, sizeof(info->csp_id));
                if (r < 0)
                        return r;
                st->has_csp = true;
                return 0;
        }
        return CP_ERROR(CP_ECERT, "unknown AMD extension OID %s", oid);
}

static int parse_extensions(X509 *x, cp_amd_cert_info *info, amd_ext_state *st) {
        int n = X509_get_ext_count(x);

        if (n < 0 || (unsigned) n > AMD_MAX_EXTENSIONS)
                return CP_ERROR(CP_ECERT, "too many extensions (%d)", n);
        for (int i = 0; i < n; i++) {
                X509_EXTENSION *ext = X509_get_ext(x, i);
                const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
                const uint8_t *od = OBJ_get0_data(obj);
                size_t ol = OBJ_length(obj);
                char oid[96];
                int r;

                if (!od || ol == 0)
                        return CP_ERROR(CP_ECERT, "extension with empty OID");
                for (int j = 0; j < i; j++)
                        if (OBJ_cmp(obj, X509_EXTENSION_get_object(X509_get_ext(x, j))) == 0) {
                                oid_text(obj, oid, sizeof(oid));
                                return CP_ERROR(CP_ECERT, "duplicate extension %s", oid);
                        }
                if (ol >= sizeof(amd_oid_prefix) && memcmp(od, amd_oid_prefix, sizeof(amd_oid_prefix)) == 0) {
                        cp_cursor c = cp_cursor_make(od, ol);
                        const uint8_t *suffix = NULL;
                        size_t slen = ol - sizeof(amd_oid_prefix);
                        r = cp_cursor_skip(&c, sizeof(amd_oid_prefix));
                        if (r >= 0 && slen > 0)
                                r = cp_cursor_ptr(&c, slen, &suffix);
                        if (r < 0)
                                return r;
                        if (slen == 0) {
                                oid_text(obj, oid, sizeof(oid));
                                return CP_ERROR(CP_ECERT, "unknown AMD extension OID %s", oid);
                        }
                        r = parse_amd_ext(obj, suffix, slen, X509_EXTENSION_get_data(ext), info, st);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (X509_EXTENSION_get_critical(ext)) {
                        int nid = OBJ_obj2nid(obj);
                        if (nid != NID_basic_constraints && nid != NID_key_usage) {
                                oid_text(obj, oid, sizeof(oid));
                                return CP_ERROR(CP_ECERT, "unsupported critical extension %s", oid);
                        }
                }
        }
        return 0;
}

/* ---- subject CN -> kind ------------------------------------------------- */

static cp_snp_generation product_from_line(const char *s) {
        if (strcmp(s, "Milan") == 0)
                return CP_SNP_GEN_MILAN;
        if (strcmp(s, "Genoa") == 0)
                return CP_SNP_GEN_GENOA;
        if (strcmp(s, "Turin") == 0)
                return CP_SNP_GEN_TURIN;
        return CP_SNP_GEN_UNKNOWN;
}

/* productName: "<Line>" or "<Line>-<stepping>" (e.g. "Milan-B0"). */
static cp_snp_generation product_from_product_name(const char *s) {
        char line[16];
        const char *dash = strchr(s, '-');
        size_t n = dash ? (size_t) (dash - s) : strlen(s);

        if (n == 0 || n >= sizeof(line))
                return CP_SNP_GEN_UNKNOWN;
        memcpy(line, s, n);
        line[n] = '\0';
        if (dash) {
                const char *step = dash + 1;
                if (!*step || strlen(step) > 4)
                        return CP_SNP_GEN_UNKNOWN;
                for (const char *q = step; *q; q++)
                        if (!((*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9')))
                                return CP_SNP_GEN_UNKNOWN;
        }
        return product_from_line(line);
}

static int subject_cn(X509 *x, char *out, size_t cap) {
        const X509_NAME *name = X509_get_subject_name(x);
        int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

        if (idx < 0)
                return CP_ERROR(CP_ECERT, "certificate subject has no CN");
        if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
                return CP_ERROR(CP_ECERT, "certificate subject has more than one CN");
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
        int n = ASN1_STRING_length(s);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        if (n <= 0 || (size_t) n >= cap)
                return CP_ERROR(CP_ECERT, "certificate CN has bad length %d", n);
        for (int i = 0; i < n; i++)
                if (d[i] < 0x20 || d[i] > 0x7e)
                        return CP_ERROR(CP_ECERT, "certificate CN has a non-printable character");
        memcpy(out, d, (size_t) n);
        out[n] = '\0';
        return 0;
}

static int kind_from_cn(const char *cn, cp_amd_cert_kind *ret_kind, cp_snp_generation *ret_gen) {
        cp_snp_generation g = CP_SNP_GEN_UNKNOWN;
        cp_amd_cert_kind k = CP_AMD_CERT_UNKNOWN;

        if (strcmp(cn, "SEV-VCEK") == 0)
                k = CP_AMD_CERT_VCEK;
        else if (strcmp(cn, "SEV-VLEK") == 0)
                k = CP_AMD_CERT_VLEK;
        else if (strncmp(cn, "ARK-", 4) == 0) {
                k = CP_AMD_CERT_ARK;
                g = product_from_line(cn + 4);
        } else if (strncmp(cn, "SEV-VLEK-", 9) == 0) {
                k = CP_AMD_CERT_ASVK;
                g = product_from_line(cn + 9);
        } else if (strncmp(cn, "SEV-", 4) == 0) {
                k = CP_AMD_CERT_ASK;
                g = product_from_line(cn + 4);
        }
        if (k == CP_AMD_CERT_UNKNOWN)
                return CP_ERROR(CP_ECERT, "not an AMD SEV certificate: CN \"%s\"", cn);
        if (k != CP_AMD_CERT_VCEK && k != CP_AMD_CERT_VLEK && g == CP_SNP_GEN_UNKNOWN)
                return CP_ERROR(CP_ECERT, "unknown AMD product in CN \"%s\"", cn);
        *ret_kind = k;
        *ret_gen = g;
        return 0;
}

/* ---- signature profile & keys ------------------------------------------- */

bool cp_amd_sigalg_is_pss384(const X509_ALGOR *alg) {
        const ASN1_OBJECT *obj = NULL;
        const void *pval = NULL;
        int ptype = 0;

        if (!alg)
                return false;
        X509_ALGOR_get0(&obj, &ptype, &pval, alg);
        if (OBJ_obj2nid(obj) != NID_rsassaPss || ptype != V_ASN1_SEQUENCE || !pval)
                return false;
        const ASN1_STRING *s = pval;
        const uint8_t *d = ASN1_STRING_get0_data(s);
        size_t n = (size_t) ASN1_STRING_length(s);
        return (n == sizeof(pss384_params) && memcmp(d, pss384_params, n) == 0) ||
               (n == sizeof(pss384_params_trailer) && memcmp(d, pss384_params_trailer, n) == 0);
}

static int check_key(const cp_amd_cert *c) {
        EVP_PKEY *pk = X509_get0_pubkey(c->x509);
        const cp_amd_cert_info *i = &c->info;

        if (!pk)
                return CP_OSSL_ERROR(CP_ECERT, "%s: unsupported or malformed public key",
                                     cp_amd_cert_kind_name(i->kind));
        if (i->kind == CP_AMD_CERT_VCEK || i->kind == CP_AMD_CERT_VLEK) {
                char group[64];
                size_t glen = 0;
                if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_EC)
                        return CP_ERROR(CP_ECERT, "%s key is not an EC key", cp_amd_cert_kind_name(i->kind));
                if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) != 1 ||
                    strcmp(group, SN_secp384r1) != 0) {
                        cp_ossl_clear();
                        return CP_ERROR(CP_ECERT, "%s key is not on P-384", cp_amd_cert_kind_name(i->kind));
                }
                return 0;
        }
        if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)
                return CP_ERROR(CP_ECERT, "%s key is not an RSA key", cp_amd_cert_kind_name(i->kind));
        if (EVP_PKEY_get_bits(pk) != 4096)
                return CP_ERROR(CP_ECERT, "%s key is RSA-%d, expected RSA-4096", cp_amd_cert_kind_name(i->kind),
                                EVP_PKEY_get_bits(pk));
        return 0;
}

/* ---- load ----------------------------------------------------------------- */

static int parse_info(cp_amd_cert *c) {
        cp_amd_cert_info *info = &c->info;
        X509 *x = c->x509;
        amd_ext_state st = { 0 };
        cp_snp_generation cn_gen = CP_SNP_GEN_UNKNOWN;
        char cn[64];
        int r;

        if (X509_get_version(x) != X509_VERSION_3)
                return CP_ERROR(CP_ECERT, "not an X.509 v3 certificate (version field %ld)", X509_get_version(x));
        if (EVP_Digest(c->der, c->der_len, info->sha256, NULL, EVP_sha256(), NULL) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "SHA-256 failed");

        /* serial */
        {
                _cleanup_bn_ BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
                if (!bn)
                        return CP_OSSL_ERROR(CP_ECERT, "bad serial number");
                if (BN_is_negative(bn))
                        return CP_ERROR(CP_ECERT, "negative serial number");
                int nb = BN_num_bytes(bn);
                if (nb > (int) sizeof(info->serial))
                        return CP_ERROR(CP_ECERT, "serial number longer than 20 bytes");
                if (BN_bn2binpad(bn, info->serial, sizeof(info->serial)) < 0)
                        return CP_OSSL_ERROR(CP_ECRYPTO, "serial conversion failed");
                info->serial_len = nb > 0 ? (size_t) nb : 1;
        }

        r = cp_ossl_time_to_unix(X509_get0_notBefore(x), &info->not_before);
        if (r < 0)
                return cp_error_wrap("notBefore");
        r = cp_ossl_time_to_unix(X509_get0_notAfter(x), &info->not_after);
        if (r < 0)
                return cp_error_wrap("notAfter");
        if (info->not_after < info->not_before)
                return CP_ERROR(CP_ECERT, "notAfter before notBefore");

        /* OpenSSL's own extension decoding (basicConstraints, keyUsage, ...) */
        uint32_t flags = X509_get_extension_flags(x);
        if (flags & EXFLAG_INVALID) {
                cp_ossl_clear();
                return CP_ERROR(CP_ECERT, "malformed standard extension");
        }
        c->is_ca = (flags & EXFLAG_BCONS) && (flags & EXFLAG_CA);
        c->self_issued = X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
        {
                const X509_ALGOR *outer = NULL;
                X509_get0_signature(NULL, &outer, x);
                const X509_ALGOR *inner = X509_get0_tbs_sigalg(x);
                c->pss_profile = cp_amd_sigalg_is_pss384(outer) && cp_amd_sigalg_is_pss384(inner) &&
                                 X509_ALGOR_cmp(outer, inner) == 0;
        }

        r = subject_cn(x, cn, sizeof(cn));
        if (r < 0)
                return r;
        r = kind_from_cn(cn, &info->kind, &cn_gen);
        if (r < 0)
                return r;
        r = parse_extensions(x, info, &st);
        if (r < 0)
                return r;

        if (info->kind == CP_AMD_CERT_VCEK || info->kind == CP_AMD_CERT_VLEK) {
                const char *kn = cp_amd_cert_kind_name(info->kind);
                if (!st.has_product)
                        return CP_ERROR(CP_ECERT, "%s without productName extension", kn);
                info->generation = product_from_product_name(info->product_name);
                if (info->generation == CP_SNP_GEN_UNKNOWN)
                        return CP_ERROR(CP_ECERT, "%s: unknown productName \"%s\"", kn, info->product_name);
                bool turin = info->generation == CP_SNP_GEN_TURIN;
                static const unsigned required[] = { 1, 2, 3, 8 };
                for (size_t i = 0; i < CP_ELEMENTSOF(required); i++)
                        if (!st.has_spl[required[i]])
                                return CP_ERROR(CP_ECERT, "%s lacks SPL extension 1.3.6.1.4.1.3704.1.3.%u", kn,
                                                required[i]);
                if (turin && !st.has_spl[9])
                        return CP_ERROR(CP_ECERT, "Turin %s lacks fmcSPL (1.3.6.1.4.1.3704.1.3.9)", kn);
                if (!turin && st.has_spl[9])
                        return CP_ERROR(CP_ECERT, "%s %s carries fmcSPL, which exists on Turin only",
                                        cp_amd_product_str(info->generation), kn);
                info->has_tcb = true;
                info->tcb = (cp_snp_tcb){
                        .bl = st.spl[1], .tee = st.spl[2], .snp = st.spl[3], .ucode = st.spl[8],
                        .fmc = turin ? st.spl[9] : 0, .has_fmc = turin,
                };
                if (info->kind == CP_AMD_CERT_VCEK) {
                        if (!st.has_hwid)
                                return CP_ERROR(CP_ECERT, "VCEK without hwID extension");
                        if (st.has_csp)
                                return CP_ERROR(CP_ECERT, "VCEK carries a csp_id extension");
                        size_t want = turin ? 8 : 64;
                        if (info->hwid_len != want)
                                return CP_ERROR(CP_ECERT, "%s VCEK hwID is %zu bytes, expected %zu",
                                                cp_amd_product_str(info->generation), info->hwid_len, want);
                } else {
                        if (st.has_hwid)
                                return CP_ERROR(CP_ECERT, "VLEK carries a hwID extension");
                        if (!st.has_csp)
                                return CP_ERROR(CP_ECERT, "VLEK without csp_id extension");
                }
                if (c->is_ca)
                        return CP_ERROR(CP_ECERT, "%s has CA:TRUE", kn);
        } else {
                if (st.n_amd > 0)
                        return CP_ERROR(CP_ECERT, "%s carries AMD VCEK extensions", cp_amd_cert_kind_name(info->kind));
                info->generation = cn_gen;
        }
        return check_key(c);
}

static int cert_from_der(const uint8_t *der, size_t len, cp_amd_cert **ret) {
        _cleanup_(cp_amd_cert_freep) cp_amd_cert *c = NULL;
        size_t total;
        int r;

        if (len > CP_MAX_CERT_DER)
                return CP_ERROR(CP_ETOOBIG, "certificate of %zu bytes exceeds %u", len, CP_MAX_CERT_DER);
        r = cp_amd_der_outer(der, len, &total);
        if (r < 0)
                return r;
        if (total != len)
                return CP_ERROR(CP_ETRAILING, "%zu bytes after the certificate", len - total);

        c = calloc(1, sizeof(*c));
        if (!c)
                return cp_error_oom();
        c->der = malloc(len);
        if (!c->der)
                return cp_error_oom();
        memcpy(c->der, der, len);
        c->der_len = len;

        const unsigned char *p = c->der;
        c->x509 = d2i_X509(NULL, &p, (long) len);
        if (!c->x509)
                return CP_OSSL_ERROR(CP_EFORMAT, "malformed X.509 certificate");
        if (p != c->der + len) {
                cp_ossl_clear();
                return CP_ERROR(CP_ETRAILING, "trailing bytes inside the certificate encoding");
        }
        r = parse_info(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

cp_amd_cert *cp_amd_cert_free(cp_amd_cert *c) {
        if (!c)
                return NULL;
        X509_free(c->x509);
        free(c->der);
        free(c);
        return NULL;
}

int cp_amd_cert_load(const uint8_t *buf, size_t len, cp_amd_cert **ret) {
        if (!ret || (!buf && len))
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (len == 0)
                return CP_ERROR(CP_EFORMAT, "empty certificate input");
        if (!cp_amd_looks_like_pem(buf, len))
                return cert_from_der(buf, len, ret);

        _cleanup_free_ uint8_t *der = NULL;
        size_t der_len = 0, off = 0;
        int r;
        if (len > 2 * CP_MAX_CERT_DER)
                return CP_ERROR(CP_ETOOBIG, "PEM input of %zu bytes too large", len);
        r = cp_amd_pem_next(buf, len, &off, "CERTIFICATE", CP_MAX_CERT_DER, &der, &der_len);
        if (r < 0)
                return r;
        cp_cursor c = cp_cursor_make(buf, len);
        r = cp_cursor_skip(&c, off);
        if (r < 0)
                return r;
        skip_space(&c);
        if (cp_cursor_remaining(&c) > 0) {
                if (take_literal(&c, "-----BEGIN "))
                        return CP_ERROR(CP_ETRAILING, "PEM input holds more than one block; expected one "
                                                      "certificate");
                return CP_ERROR(CP_ETRAILING, "%zu bytes after the PEM certificate", cp_cursor_remaining(&c));
        }
        return cert_from_der(der, der_len, ret);
}

int cp_amd_cert_load_bundle(const uint8_t *buf, size_t len, cp_amd_cert **ret, size_t cap, size_t *ret_n) {
        cp_amd_cert *tmp[CP_MAX_CHAIN_DEPTH] = { NULL };
        size_t n = 0;
        int r = 0;

        if (!ret || !ret_n || cap == 0 || (!buf && len))
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (cap > CP_MAX_CHAIN_DEPTH)
                cap = CP_MAX_CHAIN_DEPTH;
        if (len == 0)
                return CP_ERROR(CP_EFORMAT, "empty certificate input");
        if (len > CP_MAX_CERTTABLE_SIZE)
                return CP_ERROR(CP_ETOOBIG, "certificate bundle of %zu bytes too large", len);

        bool pem = cp_amd_looks_like_pem(buf, len);
        cp_cursor c = cp_cursor_make(buf, len);
        for (;;) {
                if (pem)
                        skip_space(&c);
                if (cp_cursor_remaining(&c) == 0)
                        break;
                if (n == cap) {
                        r = CP_ERROR(CP_ETOOBIG, "more than %zu certificates in the bundle", cap);
                        goto fail;
                }
                if (pem) {
                        _cleanup_free_ uint8_t *der = NULL;
                        size_t der_len = 0, off = cp_cursor_offset(&c);
                        r = cp_amd_pem_next(buf, len, &off, "CERTIFICATE", CP_MAX_CERT_DER, &der, &der_len);
                        if (r < 0)
                                goto fail;
                        r = cp_cursor_skip(&c, off - cp_cursor_offset(&c));
                        if (r < 0)
                                goto fail;
                        r = cert_from_der(der, der_len, &tmp[n]);
                } else {
                        size_t total;
                        const uint8_t *p;
                        cp_cursor rest;
                        r = cp_cursor_window(&c, cp_cursor_offset(&c), cp_cursor_remaining(&c), &rest);
                        if (r < 0)
                                goto fail;
                        r = cp_amd_der_outer(rest.p, rest.len, &total);
                        if (r < 0)
                                goto fail;
                        r = cp_cursor_ptr(&c, total, &p);
                        if (r < 0)
                                goto fail;
                        r = cert_from_der(p, total, &tmp[n]);
                }
                if (r < 0) {
                        cp_error_wrap("certificate %zu", n + 1);
                        goto fail;
                }
                n++;
        }
        if (n == 0) {
                r = CP_ERROR(CP_EFORMAT, "no certificate in input");
                goto fail;
        }
        for (size_t i = 0; i < n; i++)
                ret[i] = tmp[i];
        *ret_n = n;
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                cp_amd_cert_free(tmp[i]);
        return r;
}

int cp_amd_cert_load_chain(const uint8_t *buf, size_t len, cp_amd_cert **ret_ask, cp_amd_cert **ret_ark) {
        cp_amd_cert *certs[2] = { NULL, NULL };
        size_t n = 0;
        int r;

        r = cp_amd_cert_load_bundle(buf, len, certs, 2, &n);
        if (r < 0)
                return r;
        _cleanup_(cp_amd_cert_freep) cp_amd_cert *a = certs[0];
        _cleanup_(cp_amd_cert_freep) cp_amd_cert *b = n > 1 ? certs[1] : NULL;
        if (n != 2)
                return CP_ERROR(CP_EFORMAT, "certificate chain holds %zu certificates, expected 2 (ASK/ASVK, ARK)", n);
        if (a->info.kind != CP_AMD_CERT_ASK && a->info.kind != CP_AMD_CERT_ASVK)
                return CP_ERROR(CP_ECERT, "first certificate of the chain is %s, expected ASK or ASVK",
                                cp_amd_cert_kind_name(a->info.kind));
        if (b->info.kind != CP_AMD_CERT_ARK)
                return CP_ERROR(CP_ECERT, "second certificate of the chain is %s, expected ARK",
                                cp_amd_cert_kind_name(b->info.kind));
        if (a->info.generation != b->info.generation)
                return CP_ERROR(CP_ECERT, "chain mixes products: %s %s and ARK-%s",
                                cp_amd_cert_kind_name(a->info.kind), cp_amd_product_str(a->info.generation),
                                cp_amd_product_str(b->info.generation));
        if (ret_ask)
                *ret_ask = TAKE_PTR(a);
        if (ret_ark)
                *ret_ark = TAKE_PTR(b);
        return 0;
}

const cp_amd_cert_info *cp_amd_cert_info_get(const cp_amd_cert *c) {
        return c ? &c->info : NULL;
}

const uint8_t *cp_amd_cert_der(const cp_amd_cert *c, size_t *ret_len) {
        if (!c) {
                if (ret_len)
                        *ret_len = 0;
                return NULL;
        }
        if (ret_len)
                *ret_len = c->der_len;
        return c->der;
}

int cp_amd_cert_p384_pubkey(const cp_amd_cert *c, uint8_t x[48], uint8_t y[48]) {
        _cleanup_bn_ BIGNUM *bx = NULL;
        _cleanup_bn_ BIGNUM *by = NULL;
        uint8_t tx[48], ty[48];

        if (!c || !x || !y)
                return CP_ERROR(CP_EINVAL, "invalid arguments");
        if (c->info.kind != CP_AMD_CERT_VCEK && c->info.kind != CP_AMD_CERT_VLEK)
                return CP_ERROR(CP_EINVAL, "%s has no P-384 key", cp_amd_cert_kind_name(c->info.kind));
        EVP_PKEY *pk = X509_get0_pubkey(c->x509);
        if (!pk || EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
            EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1)
                return CP_OSSL_ERROR(CP_ECRYPTO, "cannot read the EC public key");
        if (BN_bn2binpad(bx, tx, 48) != 48 || BN_bn2binpad(by, ty, 48) != 48)
                return CP_OSSL_ERROR(CP_ECRYPTO, "EC coordinate does not fit 48 bytes");
        memcpy(x, tx, 48);
        memcpy(y, ty, 48);
        return 0;
}

const void *cp_amd_cert_evp_pkey(const cp_amd_cert *c) {
        return c ? X509_get0_pubkey(c->x509) : NULL;
}

/* ---- checks shared with the trust store and CRLs ------------------------- */

int cp_amd_cert_verify_signed_by(const cp_amd_cert *child, const cp_amd_cert *parent) {
        const char *ck = cp_amd_cert_kind_name(child->info.kind), *pk = cp_amd_cert_kind_name(parent->info.kind);

        if (!child->pss_profile)
                return CP_ERROR(CP_ECERT, "%s signature algorithm is not RSASSA-PSS with SHA-384, MGF1-SHA-384, "
                                          "salt 48", ck);
        if (X509_NAME_cmp(X509_get_issuer_name(child->x509), X509_get_subject_name(parent->x509)) != 0)
                return CP_ERROR(CP_ECERT, "%s issuer does not name the %s subject", ck, pk);
        EVP_PKEY *key = X509_get0_pubkey(parent->x509);
        if (!key)
                return CP_OSSL_ERROR(CP_ECERT, "%s has no usable public key", pk);
        if (X509_verify(child->x509, key) != 1)
                return CP_OSSL_ERROR(CP_ESIG, "%s (%s) signature does not verify with the %s key", ck,
                                     cp_amd_product_str(child->info.generation) ?: "?", pk);
        cp_ossl_clear();
        return 0;
}

int cp_amd_cert_check_time(const cp_amd_cert *c, int64_t now) {
        if (now >= c->info.not_before && now <= c->info.not_after)
                return 0;
        char tn[32], tb[32], ta[32];
        cp_unix_to_iso(now, tn, sizeof(tn));
        cp_unix_to_iso(c->info.not_before, tb, sizeof(tb));
        cp_unix_to_iso(c->info.not_after, ta, sizeof(ta));
        return CP_ERROR(CP_EEXPIRED, "%s (%s) is %s at %s: valid from %s to %s", cp_amd_cert_kind_name(c->info.kind),
                        cp_amd_product_str(c->info.generation) ?: "?",
                        now < c->info.not_before ? "not yet valid" : "expired", tn, tb, ta);
}

int cp_amd_cert_check_ca(const cp_amd_cert *c) {
        const char *kn = cp_amd_cert_kind_name(c->info.kind);

        if (c->info.kind != CP_AMD_CERT_ARK && c->info.kind != CP_AMD_CERT_ASK && c->info.kind != CP_AMD_CERT_ASVK)
                return CP_ERROR(CP_ECERT, "%s is not a CA certificate kind", kn);
        if (!c->is_ca)
                return CP_ERROR(CP_ECERT, "%s lacks basicConstraints CA:TRUE", kn);
        uint32_t ku = X509_get_key_usage(c->x509);
        if (ku != UINT32_MAX && !(ku & KU_KEY_CERT_SIGN))
                return CP_ERROR(CP_ECERT, "%s keyUsage lacks keyCertSign", kn);
        return check_key(c);
}
