/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The software AMD-SP against AMD's own certificates and reports
 * (tests/data/snp, copied from ../shared/realdata/snp): every emulated
 * ARK/ASK/ASVK/VCEK/VLEK is reduced to its structure - version, serial
 * (exact for the CAs, 0 for the leaves), signature AlgorithmIdentifier DER
 * (inner and outer), validity in calendar years, subject and issuer, and
 * every extension in order with its criticality and value (exact for
 * keyUsage, basicConstraints, CRL distribution points, structVersion,
 * productName; the shape for key identifiers, SPLs and hwID) - and compared
 * with the same reduction of a real certificate of the same kind and
 * product.  A v5 report of an emulated Genoa is compared field by field with
 * a real Genoa's (firmware build, mitigation vectors, signature algorithm,
 * REPORT_ID_MA, CPUID).
 * Three hosts (Milan, Genoa, Turin, each with a VLEK: 9 RSA-4096 keys) are
 * created once.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/limits.h"
#include "confpool/snp_report.h"
#include "emu/amdsp.h"
#include "tests.h"

static char tmpdir[64];
static cp_amdsp *hosts[_CP_SNP_GEN_MAX];

static void cleanup_tmp(void) {
        char cmd[128];
        for (size_t i = 0; i < _CP_SNP_GEN_MAX; i++)
                hosts[i] = cp_amdsp_free(hosts[i]);
        if (tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
                if (system(cmd) != 0)
                        fprintf(stderr, "cleanup failed\n");
        }
}

static cp_amdsp *host(cp_snp_generation g) {
        static const cp_snp_tcb tcbs[_CP_SNP_GEN_MAX] = {
                [CP_SNP_GEN_MILAN] = { .bl = 3, .tee = 0, .snp = 8, .ucode = 115 },
                [CP_SNP_GEN_GENOA] = { .bl = 10, .tee = 0, .snp = 25, .ucode = 84 },
                [CP_SNP_GEN_TURIN] = { .fmc = 0, .bl = 0, .tee = 0, .snp = 0, .ucode = 9, .has_fmc = true },
        };
        if (!tmpdir[0]) {
                snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-amdsp-fid-XXXXXX");
                ASSERT_TRUE(mkdtemp(tmpdir) != NULL);
                atexit(cleanup_tmp);
        }
        if (!hosts[g]) {
                char dir[128];
                snprintf(dir, sizeof(dir), "%s/%s", tmpdir, cp_snp_generation_name(g));
                cp_amdsp_config c = { .generation = g, .tcb = tcbs[g], .vlek_csp_id = "cc-us-east-2.amazonaws.com" };
                ASSERT_OK(cp_amdsp_open(dir, &c, &hosts[g]));
        }
        return hosts[g];
}

/* ---- structure of a certificate ------------------------------------------ */

static void hex_append(char *out, size_t cap, const uint8_t *p, size_t n) {
        size_t l = strlen(out);
        for (size_t i = 0; i < n && l + 3 < cap; i++, l += 2)
                snprintf(out + l, cap - l, "%02x", p[i]);
}

static void appendf(char *out, size_t cap, const char *fmt, const char *s) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, fmt, s);
}

static void der_of_algor(const X509_ALGOR *a, char *out, size_t cap) {
        unsigned char *p = NULL;
        int n = i2d_X509_ALGOR(a, &p);
        ASSERT_TRUE(n > 0);
        hex_append(out, cap, p, (size_t) n);
        OPENSSL_free(p);
}

static void name_of(const X509_NAME *n, char *out, size_t cap) {
        BIO *b = BIO_new(BIO_s_mem());
        char *p;
        ASSERT_TRUE(b != NULL);
        ASSERT_TRUE(X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0);
        long l = BIO_get_mem_data(b, &p);
        size_t o = strlen(out);
        snprintf(out + o, cap - o, "%.*s", (int) l, p);
        BIO_free(b);
}

/* "years=N" when notAfter is notBefore plus N calendar years, else the seconds */
static void validity_of(X509 *x, char *out, size_t cap) {
        struct tm a, b;
        ASSERT_TRUE(ASN1_TIME_to_tm(X509_get0_notBefore(x), &a) == 1);
        ASSERT_TRUE(ASN1_TIME_to_tm(X509_get0_notAfter(x), &b) == 1);
        char buf[64];
        if (a.tm_mon == b.tm_mon && a.tm_mday == b.tm_mday && a.tm_hour == b.tm_hour && a.tm_min == b.tm_min &&
            a.tm_sec == b.tm_sec)
                snprintf(buf, sizeof(buf), " years=%d", b.tm_year - a.tm_year);
        else
                snprintf(buf, sizeof(buf), " seconds=%lld", (long long) (timegm(&b) - timegm(&a)));
        appendf(out, cap, "%s", buf);
}

static void ext_of(X509_EXTENSION *e, char *out, size_t cap) {
        char oid[80];
        OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1);
        const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
        const uint8_t *d = ASN1_STRING_get0_data(v);
        size_t n = (size_t) ASN1_STRING_length(v);
        appendf(out, cap, "\next %s", oid);
        appendf(out, cap, "%s ", X509_EXTENSION_get_critical(e) ? " critical" : "");
        if (!strcmp(oid, "2.5.29.14") || !strcmp(oid, "2.5.29.35")) {
                char b[32];
                snprintf(b, sizeof(b), "keyid(%zu)", n);
                appendf(out, cap, "%s", b);
        } else if (!strncmp(oid, "1.3.6.1.4.1.3704.1.3.", 21)) {
                appendf(out, cap, "%s", n >= 3 && d[0] == 0x02 ? "INTEGER" : "?");
        } else if (!strcmp(oid, "1.3.6.1.4.1.3704.1.4")) {
                char b[32];
                snprintf(b, sizeof(b), "raw(%zu)", n);
                appendf(out, cap, "%s", b);
        } else if (!strcmp(oid, "1.3.6.1.4.1.3704.1.5")) {
                appendf(out, cap, "%s", n >= 2 && d[0] == 0x16 ? "IA5String" : "?");
        } else
                hex_append(out, cap, d, n);
}

/* The structure; for a CA the exact serial, for a leaf its value (AMD: 0). */
static void shape_of(X509 *x, char *out, size_t cap) {
        const ASN1_BIT_STRING *sig;
        const X509_ALGOR *outer;
        char a[256] = "", b[256] = "";
        out[0] = 0;
        const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
        appendf(out, cap, "version=%s serial=", X509_get_version(x) == X509_VERSION_3 ? "3" : "?");
        hex_append(out, cap, ASN1_STRING_get0_data(sn), (size_t) ASN1_STRING_length(sn));
        validity_of(x, out, cap);
        X509_get0_signature(&sig, &outer, x);
        der_of_algor(X509_get0_tbs_sigalg(x), a, sizeof(a));
        der_of_algor(outer, b, sizeof(b));
        ASSERT_STREQ(a, b); /* inner and outer AlgorithmIdentifier agree */
        appendf(out, cap, "\nsigalg %s\nsubject ", a);
        name_of(X509_get_subject_name(x), out, cap);
        appendf(out, cap, "%s", "\nissuer ");
        name_of(X509_get_issuer_name(x), out, cap);
        for (int i = 0; i < X509_get_ext_count(x); i++)
                ext_of(X509_get_ext(x, i), out, cap);
}

static X509 *load_real(const char *rel, int index) {
        size_t n;
        _cleanup_free_ uint8_t *buf = cp_test_read(rel, &n);
        ASSERT_TRUE(buf != NULL);
        if (n > 10 && !memcmp(buf, "-----", 5)) {
                BIO *b = BIO_new_mem_buf(buf, (int) n);
                X509 *x = NULL;
                for (int i = 0; i <= index; i++) {
                        X509_free(x);
                        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
                        ASSERT_TRUE(x != NULL);
                }
                BIO_free(b);
                return x;
        }
        const unsigned char *p = buf;
        X509 *x = d2i_X509(NULL, &p, (long) n);
        ASSERT_TRUE(x != NULL);
        return x;
}

static X509 *load_emulated(cp_snp_generation g, cp_amd_cert_kind k) {
        uint8_t *der = NULL;
        size_t n;
        if (k == CP_AMD_CERT_VCEK)
                ASSERT_OK(cp_amdsp_vcek(host(g), NULL, &der, &n));
        else if (k == CP_AMD_CERT_VLEK)
                ASSERT_OK(cp_amdsp_vlek(host(g), NULL, &der, &n));
        else
                ASSERT_OK(cp_amdsp_ca_cert(host(g), k, &der, &n));
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) n);
        ASSERT_TRUE(x != NULL);
        free(der);
        return x;
}

typedef struct cert_case {
        const char *name;
        cp_snp_generation gen;
        cp_amd_cert_kind kind;
        const char *real; /* tests/data-relative */
        int index;        /* certificate of a PEM bundle */
} cert_case;

#define BUILTIN "snp/confidential-containers__trustee/builtin/"
static const cert_case cert_cases[] = {
        /* the bundles are ASK, ARK, ASVK */
        { "milan-ark", CP_SNP_GEN_MILAN, CP_AMD_CERT_ARK, BUILTIN "milan_ask_ark_asvk.pem", 1 },
        { "milan-ask", CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK, BUILTIN "milan_ask_ark_asvk.pem", 0 },
        { "milan-asvk", CP_SNP_GEN_MILAN, CP_AMD_CERT_ASVK, BUILTIN "milan_ask_ark_asvk.pem", 2 },
        { "genoa-ark", CP_SNP_GEN_GENOA, CP_AMD_CERT_ARK, BUILTIN "genoa_ask_ark_asvk.pem", 1 },
        { "genoa-ask", CP_SNP_GEN_GENOA, CP_AMD_CERT_ASK, BUILTIN "genoa_ask_ark_asvk.pem", 0 },
        { "genoa-asvk", CP_SNP_GEN_GENOA, CP_AMD_CERT_ASVK, BUILTIN "genoa_ask_ark_asvk.pem", 2 },
        { "turin-ark", CP_SNP_GEN_TURIN, CP_AMD_CERT_ARK, BUILTIN "turin_ask_ark_asvk.pem", 1 },
        { "turin-ask", CP_SNP_GEN_TURIN, CP_AMD_CERT_ASK, BUILTIN "turin_ask_ark_asvk.pem", 0 },
        { "turin-asvk", CP_SNP_GEN_TURIN, CP_AMD_CERT_ASVK, BUILTIN "turin_ask_ark_asvk.pem", 2 },
        /* the newest leaves of each product (2024-2025 issue: no trailerField) */
        { "milan-vcek", CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK,
          "snp/confidential-containers__trustee/az-snp-vtpm/evidence-v2.vcek.der", 0 },
        { "genoa-vcek", CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK,
          "snp/confidential-containers__trustee/az-snp-vtpm/vcek-genoa.pem", 0 },
        { "turin-vcek", CP_SNP_GEN_TURIN, CP_AMD_CERT_VCEK, "snp/virtee__sev/vcek_turin.der", 0 },
        { "milan-vlek", CP_SNP_GEN_MILAN, CP_AMD_CERT_VLEK, "snp/confidential-containers__trustee/snp/test-vlek.der",
          0 },
};

static void check_cert(void *ctx, const void *row) {
        const cert_case *c = row;
        (void) ctx;
        static char want[4096], got[4096];
        X509 *real = load_real(c->real, c->index), *emu = load_emulated(c->gen, c->kind);
        shape_of(real, want, sizeof(want));
        shape_of(emu, got, sizeof(got));
        ASSERT_STREQ(got, want);
        X509_free(real);
        X509_free(emu);
}

TEST(certificates_shaped_like_amds) {
        TEST_TABLE(cert_cases, check_cert, NULL);
}

/* The emulated VLEK of Genoa/Turin: no real one here; the Milan VLEK's shape
 * with the product line as productName. */
TEST(vlek_product_name_is_the_product_line) {
        static const struct {
                cp_snp_generation g;
                const char *ia5;
        } v[] = { { CP_SNP_GEN_GENOA, "160547656e6f61" }, { CP_SNP_GEN_TURIN, "1605547572696e" } };
        for (size_t i = 0; i < 2; i++) {
                static char got[4096];
                X509 *x = load_emulated(v[i].g, CP_AMD_CERT_VLEK);
                shape_of(x, got, sizeof(got));
                char want[128];
                snprintf(want, sizeof(want), "ext 1.3.6.1.4.1.3704.1.2 %s\n", v[i].ia5);
                ASSERT_TRUE(strstr(got, want) != NULL);
                ASSERT_TRUE(strstr(got, "serial=00 years=1\n") != NULL);
                X509_free(x);
        }
}

/* ---- reports ---------------------------------------------------------------- */

static void emulated_report(cp_amdsp *sp, uint8_t report[CP_SNP_REPORT_SIZE]) {
        uint8_t secrets[CP_SNP_SECRETS_PAGE_SIZE], key[32], p[CP_SNP_MSG_REPORT_REQ_SIZE], msg[CP_MAX_SNP_GUEST_MSG],
                resp[CP_MAX_SNP_GUEST_MSG], plain[CP_MAX_SNP_GUEST_MSG];
        cp_amdsp_launch l = { .policy = 0x30000 };
        uint32_t h = 0, fw, st;
        uint64_t seq;
        size_t n, rn, pn;
        cp_snp_msg_hdr hdr;
        ASSERT_OK(cp_amdsp_launch_guest(sp, &l, &h, secrets));
        ASSERT_OK(cp_snp_secrets_get(secrets, 0, key, &seq));
        cp_snp_report_req q = { .vmpl = 0 };
        cp_snp_report_req_encode(&q, p);
        ASSERT_OK(cp_snp_msg_seal(key, 0, seq + 1, CP_SNP_MSG_REPORT_REQ, 1, p, sizeof(p), msg, sizeof(msg), &n));
        ASSERT_OK(cp_amdsp_guest_request(sp, h, msg, n, resp, sizeof(resp), &rn, NULL, NULL, &fw));
        ASSERT_EQ(fw, 0);
        ASSERT_OK(cp_snp_msg_open(key, resp, rn, &hdr, plain, sizeof(plain), &pn));
        ASSERT_OK(cp_snp_report_rsp_parse(plain, pn, &st, report));
        ASSERT_EQ(st, 0);
}

TEST(genoa_v5_report_like_a_real_genoa) {
        size_t n;
        _cleanup_free_ uint8_t *buf = cp_test_read("snp/project-oak__oak/genoa_oc_evidence.report.bin", &n);
        ASSERT_TRUE(buf != NULL);
        uint8_t raw[CP_SNP_REPORT_SIZE];
        emulated_report(host(CP_SNP_GEN_GENOA), raw);
        _cleanup_free_ cp_snp_report *real = calloc(1, sizeof(*real)), *emu = calloc(1, sizeof(*emu));
        ASSERT_TRUE(real && emu);
        ASSERT_OK(cp_snp_report_parse(buf, n, 0, real));
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, emu));
        ASSERT_EQ(emu->version, real->version);
        ASSERT_EQ(emu->version, 5);
        ASSERT_TRUE(emu->has_mit_vectors && real->has_mit_vectors);
        ASSERT_EQ(emu->launch_mit_vector, real->launch_mit_vector);
        ASSERT_EQ(emu->current_mit_vector, real->current_mit_vector);
        ASSERT_EQ(emu->signature_algo, real->signature_algo);
        ASSERT_EQ(emu->cpuid_fam_id, real->cpuid_fam_id);
        ASSERT_EQ(emu->cpuid_generation, real->cpuid_generation);
        ASSERT_MEMEQ(emu->report_id_ma, real->report_id_ma, 32);
        /* firmware version as the real part's (1.55.43), build non-zero */
        ASSERT_EQ(emu->current_major, real->current_major);
        ASSERT_EQ(emu->current_minor, real->current_minor);
        ASSERT_EQ(emu->current_build, real->current_build);
        ASSERT_TRUE(emu->current_build != 0);
        ASSERT_EQ(emu->committed_build, emu->current_build);
}

TEST(milan_default_firmware_build_nonzero) {
        uint8_t raw[CP_SNP_REPORT_SIZE];
        emulated_report(host(CP_SNP_GEN_MILAN), raw);
        _cleanup_free_ cp_snp_report *emu = calloc(1, sizeof(*emu));
        ASSERT_TRUE(emu != NULL);
        ASSERT_OK(cp_snp_report_parse(raw, sizeof(raw), 0, emu));
        ASSERT_EQ(emu->current_major, 1);
        ASSERT_EQ(emu->current_minor, 55);
        ASSERT_EQ(emu->current_build, 29); /* Milan 1.55.29 as in the real Milan reports */
}
