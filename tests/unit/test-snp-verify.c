/* SPDX-License-Identifier: Apache-2.0 */
/*
 * End-to-end verification of the real SEV-SNP evidence in tests/data/snp
 * (cases.json: reports from real AMD Milan/Genoa processors, Azure HCL
 * reports, an AWS VLEK report), plus tampering: every single-bit flip of the
 * signed area, tampered VCEKs, wrong chains, wrong products, expired VLEK.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "confpool/snp_verify.h"
#include "libconfpool/ecfb.h"
#include "libconfpool/p384.h"
#include "tests.h"

/* 2025-06-01T00:00:00Z: every certificate in the data is valid then. */
#define NOW_2025 INT64_C(1748736000)
/* 2026-11-25T00:00:00Z: the AWS VLEK has expired (2025-12-10). */
#define NOW_2026 INT64_C(1795564800)

typedef struct tcase {
        const char *name; /* = report, for the case tables */
        char report[256], leaf[256], chain[256], generation[16], signing_key[8], expect[16];
        long offset;
        int version;
        uint8_t *report_buf, *leaf_buf, *chain_buf;
        size_t report_len, leaf_len, chain_len;
} tcase;

static tcase *load_cases(size_t *ret_n) {
        size_t len;
        uint8_t *j = cp_test_read("snp/cases.json", &len);
        json_error_t err;
        json_t *root = json_loadb((const char *) j, len, 0, &err);
        free(j);
        ASSERT_TRUE(root && json_is_array(root));
        size_t n = json_array_size(root);
        ASSERT_TRUE(n >= 16);
        tcase *cs = calloc(n, sizeof(*cs));
        size_t i;
        json_t *e;
        json_array_foreach(root, i, e) {
                tcase *c = &cs[i];
                snprintf(c->report, sizeof(c->report), "snp/%s", json_string_value(json_object_get(e, "report")));
                c->name = c->report;
                snprintf(c->leaf, sizeof(c->leaf), "snp/%s",
                         json_string_value(json_object_get(e, "endorsement_key_cert")));
                snprintf(c->chain, sizeof(c->chain), "snp/%s", json_string_value(json_object_get(e, "ask_ark_chain")));
                snprintf(c->generation, sizeof(c->generation), "%s",
                         json_string_value(json_object_get(e, "generation")));
                snprintf(c->signing_key, sizeof(c->signing_key), "%s",
                         json_string_value(json_object_get(e, "signing_key")));
                snprintf(c->expect, sizeof(c->expect), "%s", json_string_value(json_object_get(e, "expect")));
                c->offset = (long) json_integer_value(json_object_get(e, "report_offset"));
                c->version = (int) json_integer_value(json_object_get(e, "report_version"));
                c->report_buf = cp_test_read(c->report, &c->report_len);
                ASSERT_TRUE(c->report_len >= (size_t) c->offset + CP_SNP_REPORT_SIZE);
                c->leaf_buf = cp_test_read(c->leaf, &c->leaf_len);
                c->chain_buf = cp_test_read(c->chain, &c->chain_len);
        }
        json_decref(root);
        *ret_n = n;
        return cs;
}

static void free_cases(tcase *cs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(cs[i].report_buf);
                free(cs[i].leaf_buf);
                free(cs[i].chain_buf);
        }
        free(cs);
}

static cp_snp_evidence evidence_of(const tcase *c) {
        cp_snp_evidence ev = {
                .report = c->report_buf + c->offset,
                .report_len = CP_SNP_REPORT_SIZE,
                .leaf = c->leaf_buf,
                .leaf_len = c->leaf_len,
                .intermediate = c->chain_buf,
                .intermediate_len = c->chain_len,
        };
        return ev;
}

static bool is_vlek(const tcase *c) {
        return !strcmp(c->signing_key, "VLEK");
}

/* The cases of cases.json and a verifier with the built-in AMD roots. */
typedef struct fixture {
        tcase *cs;
        size_t n;
        cp_snp_verifier *v;
} fixture;

static void fixture_open(fixture *f) {
        f->cs = load_cases(&f->n);
        f->v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &f->v));
}

static void fixture_close(fixture *f) {
        f->v = cp_snp_verifier_free(f->v);
        free_cases(f->cs, f->n);
}

typedef struct real_counts {
        cp_snp_verifier *v;
        unsigned verified, rejected;
} real_counts;

static void check_real_case(void *ctx, const void *row) {
        real_counts *k = ctx;
        const tcase *c = row;
        cp_snp_evidence ev = evidence_of(c);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        /* VLEK certificates expired 2025-12-10: check them before that date */
        o.now = is_vlek(c) ? NOW_2025 : 0;
        cp_snp_verify_result res;
        int r = cp_snp_verify(k->v, &ev, &o, &res);
        if (!strcmp(c->expect, "verified")) {
                if (r != 0)
                        cp_test_fail(__FILE__, __LINE__, "%s: expected verified, got %s: %s", c->report,
                                     cp_err_name(r), cp_error_message());
                ASSERT_STREQ(cp_snp_generation_name(res.generation), c->generation);
                ASSERT_EQ(res.report.version, c->version);
                ASSERT_EQ(res.signer, is_vlek(c) ? CP_AMD_CERT_VLEK : CP_AMD_CERT_VCEK);
                ASSERT_EQ(res.chip_id_checked, !is_vlek(c));
                k->verified++;
        } else {
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "%s: expected rejection, got verified", c->report);
                ASSERT_TRUE(r == CP_ECHIPID || r == CP_ESIG);
                k->rejected++;
        }
}

TEST(real_cases_give_expected_results) {
        fixture f;
        fixture_open(&f);
        real_counts k = { .v = f.v };
        /* three rounds on one verifier: the first verifies with nettle, the
         * second builds each key's fixed-base table, the third uses it
         * (issue 19): the verdicts may not change */
        for (int round = 0; round < 3; round++)
                TEST_TABLE_N(f.cs, f.n, check_real_case, &k);
        ASSERT_EQ(k.verified, 3 * 15);
        ASSERT_EQ(k.rejected, 3 * 1);
        cp_ecfb_stats st;
        cp_snp_verifier_ecfb_stats(f.v, &st);
        ASSERT_TRUE(st.builds >= 1 && st.hits >= 15);
        fixture_close(&f);
}

/* One VLEK report checked at these times in turn: the cached chain must
 * not mask expiry either. */
static const struct vlek_step {
        const char *name;
        int64_t now;
        int expect;
} vlek_steps[] = {
        { "2026: expired", NOW_2026, CP_EEXPIRED },
        { "2025: valid", NOW_2025, 0 },
        { "2026 again, chain cached: expired", NOW_2026, CP_EEXPIRED },
};

static void check_vlek_step(void *ctx, const void *row) {
        const fixture *f = ctx;
        const struct vlek_step *t = row;
        unsigned seen = 0;
        for (size_t i = 0; i < f->n; i++) {
                if (!is_vlek(&f->cs[i]))
                        continue;
                cp_snp_evidence ev = evidence_of(&f->cs[i]);
                cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
                cp_snp_verify_result res;
                o.now = t->now;
                ASSERT_ERR(cp_snp_verify(f->v, &ev, &o, &res), t->expect);
                if (t->expect == 0)
                        ASSERT_TRUE(res.csp_id[0] != '\0');
                seen++;
        }
        ASSERT_TRUE(seen >= 1);
}

TEST(vlek_expired_with_current_time) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE(vlek_steps, check_vlek_step, &f);
        fixture_close(&f);
}

typedef struct flip_ctx {
        cp_snp_verifier *v;
        const tcase *cs;
        size_t stride;
        unsigned long flips;
} flip_ctx;

static void check_bit_flips(void *ctx, const void *row) {
        flip_ctx *k = ctx;
        const tcase *c = row;
        size_t i = (size_t) (c - k->cs);
        if (strcmp(c->expect, "verified") != 0)
                return;
        uint8_t rep[CP_SNP_REPORT_SIZE];
        memcpy(rep, c->report_buf + c->offset, sizeof(rep));
        cp_snp_evidence ev = evidence_of(c);
        ev.report = rep;
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.now = is_vlek(c) ? NOW_2025 : 0;
        cp_snp_verify_result res;
        ASSERT_OK(cp_snp_verify(k->v, &ev, &o, &res));
        for (size_t bit = i % k->stride; bit < CP_SNP_REPORT_SIGNED_SIZE * 8; bit += k->stride) {
                rep[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                int r = cp_snp_verify(k->v, &ev, &o, &res);
                rep[bit / 8] ^= (uint8_t) (1u << (bit % 8));
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "%s: flip of bit %zu (byte 0x%zx) accepted", c->report,
                                     bit % 8, bit / 8);
                k->flips++;
        }
}

/* Every single-bit flip in 0x000-0x29F of every verifying report is
 * rejected.  CP_TEST_BITFLIP_STRIDE (default 1) thins the bits for slow
 * sanitizer builds. */
TEST(every_bit_flip_in_signed_area_is_rejected) {
        fixture f;
        fixture_open(&f);
        const char *st = getenv("CP_TEST_BITFLIP_STRIDE");
        flip_ctx k = { .v = f.v, .cs = f.cs, .stride = st ? strtoul(st, NULL, 10) : 1 };
        if (k.stride == 0)
                k.stride = 1;
        TEST_TABLE_N(f.cs, f.n, check_bit_flips, &k);
        printf("    %lu flipped reports rejected\n", k.flips);
        ASSERT_TRUE(k.flips > 0);
        fixture_close(&f);
}

/* Changes to the signature area of the virtee Milan report (cs[1]): count
 * bytes from first, stride apart, one at a time, xor-ed with mask (set to
 * mask where set), each verified and restored. */
static const struct sig_tamper {
        const char *name;
        size_t first, count, stride;
        uint8_t mask;
        bool set;
        int expect;
} sig_tampers[] = {
        /* r and s, low (significant) bytes */
        { "r, every 5th low byte", 0x2A0, 10, 5, 0x80, false, CP_ESIG },
        { "s, every 5th low byte", 0x2E8, 10, 5, 0x01, false, CP_ESIG },
        /* zero padding of r and the rest of the signature area is MBZ */
        { "zero padding of r", 0x2A0 + 60, 1, 1, 1, true, CP_EMBZ },
        { "reserved rest of the signature area", 0x400, 1, 1, 1, true, CP_EMBZ },
        { "untouched", 0, 0, 1, 0, false, 0 },
};

static void check_sig_tamper(void *ctx, const void *row) {
        const fixture *f = ctx;
        const struct sig_tamper *t = row;
        const tcase *c = &f->cs[1]; /* virtee Milan report */
        uint8_t rep[CP_SNP_REPORT_SIZE];
        memcpy(rep, c->report_buf, sizeof(rep));
        cp_snp_evidence ev = evidence_of(c);
        ev.report = rep;
        cp_snp_verify_result res;
        if (t->count == 0)
                ASSERT_ERR(cp_snp_verify(f->v, &ev, NULL, &res), t->expect);
        for (size_t i = 0; i < t->count; i++) {
                size_t off = t->first + i * t->stride;
                uint8_t was = rep[off];
                if (t->set)
                        ASSERT_EQ(was, 0); /* so that setting it changes it */
                rep[off] = t->set ? t->mask : (uint8_t) (was ^ t->mask);
                ASSERT_ERR(cp_snp_verify(f->v, &ev, NULL, &res), t->expect);
                rep[off] = was;
        }
}

TEST(signature_area_tampering_rejected) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE(sig_tampers, check_sig_tamper, &f);
        fixture_close(&f);
}

/* The first report (cs[0]) cut short, extended by a byte, or with its
 * version changed, verified with or without options. */
static const struct mangle {
        const char *name;
        size_t report_len;
        bool extended;     /* the report is followed by a zero byte */
        int version;       /* written over the version byte unless 0 */
        bool options;      /* pass options (else NULL) */
        unsigned parse_flags;
        int options_version; /* written over o.version unless 0 */
        int expect;
} mangles[] = {
        { "one byte short", CP_SNP_REPORT_SIZE - 1, false, 0, false, 0, 0, CP_ETRUNC },
        { "empty", 0, false, 0, false, 0, 0, CP_ETRUNC },
        { "one trailing byte", CP_SNP_REPORT_SIZE + 1, true, 0, false, 0, 0, CP_ETRAILING },
        { "version 9", CP_SNP_REPORT_SIZE, true, 9, false, 0, 0, CP_EVERSION },
        { "version 1", CP_SNP_REPORT_SIZE, true, 1, false, 0, 0, CP_EVERSION },
        /* with the opt-in, a newer version parses and then fails the signature */
        { "version 9, newer allowed", CP_SNP_REPORT_SIZE, true, 9, true, CP_SNP_PARSE_ALLOW_NEWER, 0, CP_ESIG },
        /* options with a wrong version are refused */
        { "options version 99", CP_SNP_REPORT_SIZE, true, 9, true, CP_SNP_PARSE_ALLOW_NEWER, 99, CP_EINVAL },
};

static void check_mangle(void *ctx, const void *row) {
        const fixture *f = ctx;
        const struct mangle *t = row;
        const tcase *c = &f->cs[0];
        uint8_t big[CP_SNP_REPORT_SIZE + 1];
        memcpy(big, c->report_buf, CP_SNP_REPORT_SIZE);
        big[CP_SNP_REPORT_SIZE] = 0;
        cp_snp_evidence ev = evidence_of(c);
        if (t->extended)
                ev.report = big;
        ev.report_len = t->report_len;
        if (t->version)
                big[0] = (uint8_t) t->version;
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.parse_flags = t->parse_flags;
        if (t->options_version)
                o.version = (unsigned) t->options_version;
        cp_snp_verify_result res;
        ASSERT_ERR(cp_snp_verify(f->v, &ev, t->options ? &o : NULL, &res), t->expect);
}

TEST(truncated_extended_and_mangled_inputs) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE(mangles, check_mangle, &f);
        fixture_close(&f);
}

#define TRUSTEE_SNP "snp/confidential-containers__trustee/snp/"

/* The trustee test-report.bin (cs[2], a Milan report) with its VCEK or
 * chain replaced, a product required, or an empty trust store. */
static const struct cert_case {
        const char *name;
        const char *leaf_file;  /* read as the leaf */
        bool other_chip_leaf;   /* the VCEK of cs[0] */
        bool no_leaf;
        const char *chain_file; /* read as the ASK/ARK chain */
        cp_snp_generation product;
        bool empty_trust;
        bool any_error; /* else exactly expect */
        int expect;
} cert_cases[] = {
        { .name = "as it is", .expect = 0 },
        { .name = "tampered VCEK (legacy)", .leaf_file = TRUSTEE_SNP "test-vcek-invalid-legacy.der", .any_error = true },
        { .name = "tampered VCEK (new)", .leaf_file = TRUSTEE_SNP "test-vcek-invalid-new.der", .any_error = true },
        { .name = "a VCEK of another chip", .other_chip_leaf = true, .any_error = true },
        { .name = "the Genoa chain for a Milan VCEK", .chain_file = "snp/google__go-sev-guest/ask_ark_genoa.pem",
          .any_error = true },
        { .name = "requiring Genoa", .product = CP_SNP_GEN_GENOA, .expect = CP_ECERT },
        { .name = "requiring Milan", .product = CP_SNP_GEN_MILAN, .expect = 0 },
        { .name = "no certificate at all", .no_leaf = true, .expect = CP_ENOTFOUND },
        /* an empty trust store trusts nothing */
        { .name = "an empty trust store", .empty_trust = true, .expect = CP_EUNTRUSTED },
};

static void check_cert_case(void *ctx, const void *row) {
        const fixture *f = ctx;
        const struct cert_case *t = row;
        const tcase *c = &f->cs[2];
        ASSERT_TRUE(strstr(c->report, "trustee/snp/test-report.bin") != NULL);
        cp_snp_evidence ev = evidence_of(c);
        uint8_t *leaf = NULL, *chain = NULL;
        size_t len;
        if (t->leaf_file) {
                leaf = cp_test_read(t->leaf_file, &len);
                ev.leaf = leaf;
                ev.leaf_len = len;
        }
        if (t->other_chip_leaf) {
                ev.leaf = f->cs[0].leaf_buf;
                ev.leaf_len = f->cs[0].leaf_len;
        }
        if (t->no_leaf) {
                ev.leaf = NULL;
                ev.leaf_len = 0;
        }
        if (t->chain_file) {
                chain = cp_test_read(t->chain_file, &len);
                ev.intermediate = chain;
                ev.intermediate_len = len;
        }
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.product = t->product;
        cp_snp_verifier *v = f->v, *empty_v = NULL;
        if (t->empty_trust) {
                cp_amd_trust *empty = NULL;
                ASSERT_OK(cp_amd_trust_new_empty(&empty));
                ASSERT_OK(cp_snp_verifier_new(empty, &empty_v));
                v = empty_v;
        }
        cp_snp_verify_result res;
        int r = cp_snp_verify(v, &ev, t->product ? &o : NULL, &res);
        if (t->any_error)
                ASSERT_FAILS(r);
        else
                ASSERT_ERR(r, t->expect);
        cp_snp_verifier_free(empty_v);
        free(chain);
        free(leaf);
}

TEST(tampered_and_mismatched_certificates) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE(cert_cases, check_cert_case, &f);
        fixture_close(&f);
}

TEST(revocation_required_without_crl_fails) {
        fixture f;
        fixture_open(&f);
        cp_snp_evidence ev = evidence_of(&f.cs[1]);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.check_revocation = true;
        cp_snp_verify_result res;
        ASSERT_ERR(cp_snp_verify(f.v, &ev, &o, &res), CP_EREVOKED);
        fixture_close(&f);
}

static void check_backends(void *ctx, const void *row) {
        cp_snp_verifier *v = ctx;
        const tcase *c = row;
        if (strcmp(c->expect, "verified") != 0)
                return;
        cp_snp_evidence ev = evidence_of(c);
        uint8_t rep[CP_SNP_REPORT_SIZE];
        memcpy(rep, ev.report, sizeof(rep));
        ev.report = rep;
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.now = is_vlek(c) ? NOW_2025 : 0;
        cp_snp_verify_result res;
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res)); /* the first call fills the cache */
        for (int b = CP_P384_BACKEND_NETTLE; b <= CP_P384_BACKEND_OPENSSL; b++) {
                o.backend = (cp_p384_backend) b;
                ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
                ASSERT_TRUE(res.cache_hit); /* second and later calls */
                rep[0x90] ^= 1;              /* measurement */
                ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_ESIG);
                rep[0x90] ^= 1;
        }
}

TEST(backends_agree_and_cache_hits) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE_N(f.cs, f.n, check_backends, f.v);
        fixture_close(&f);
}

TEST(policy_applied_after_crypto) {
        fixture f;
        fixture_open(&f);
        cp_snp_verifier *v = f.v;
        /* go-sev-guest's sample report has policy 0xb0000: DEBUG allowed */
        const tcase *c = &f.cs[0];
        ASSERT_TRUE(strstr(c->report, "go-sev-guest/attestation.bin") != NULL);
        cp_snp_evidence ev = evidence_of(c);
        cp_snp_policy p;
        cp_snp_policy_init(&p);
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.policy = &p;
        cp_snp_verify_result res;
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EPOLICY);
        ASSERT_TRUE(strstr(cp_error_message(), "ebug") != NULL);
        p.allow_debug = true;
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
        ASSERT_TRUE(res.policy_checked);
        /* a measurement pin */
        uint8_t m[48];
        memcpy(m, res.report.measurement, 48);
        m[0] ^= 1;
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, m, 48));
        ASSERT_ERR(cp_snp_verify(v, &ev, &o, &res), CP_EPOLICY);
        m[0] ^= 1;
        ASSERT_OK(cp_snp_bytes_set_add(&p.measurements, m, 48));
        ASSERT_OK(cp_snp_verify(v, &ev, &o, &res));
        cp_snp_policy_clear(&p);
        fixture_close(&f);
}

/* Issue 19: every real report's signature, under the key of the
 * certificate its case names (the mismatched case included), gets the same
 * verdict from the fixed-base table as from nettle and OpenSSL. */
static void check_real_signature(void *ctx, const void *row) {
        (void) ctx;
        const tcase *c = row;
        cp_amd_cert *certs[4] = { NULL };
        size_t n = 0;
        uint8_t xy[96], digest[48], r[48], s[48];
        ASSERT_OK(cp_amd_cert_load_bundle(c->leaf_buf, c->leaf_len, certs, 4, &n));
        ASSERT_OK(cp_amd_cert_p384_pubkey(certs[0], xy, xy + 48));
        for (size_t i = 0; i < n; i++)
                cp_amd_cert_free(certs[i]);
        const uint8_t *rep = c->report_buf + c->offset;
        unsigned int dl = sizeof(digest);
        ASSERT_TRUE(EVP_Digest(rep, CP_SNP_REPORT_SIGNED_SIZE, digest, &dl, EVP_sha384(), NULL) == 1);
        for (int i = 0; i < 48; i++) {
                r[i] = rep[0x2A0 + 47 - i];
                s[i] = rep[0x2E8 + 47 - i];
        }
        cp_ecfb_table *t = NULL;
        cp_p384_pub *pub = NULL;
        ASSERT_OK(cp_ecfb_table_new(CP_ECFB_P384, xy, &t));
        ASSERT_OK(cp_p384_pub_new(xy, xy + 48, &pub));
        int fb = cp_ecfb_verify(t, digest, 48, r, s);
        int ne = cp_p384_verify(pub, CP_P384_BACKEND_NETTLE, digest, r, s);
        int os = cp_p384_verify(pub, CP_P384_BACKEND_OPENSSL, digest, r, s);
        ASSERT_EQ(fb, ne);
        ASSERT_EQ(fb, os);
        ASSERT_EQ(fb == 0, !strcmp(c->expect, "verified")); /* the rejected case: another chip's key */
        cp_ecfb_table_unref(t);
        cp_p384_pub_free(pub);
}

TEST(real_signatures_same_verdict_with_tables) {
        fixture f;
        fixture_open(&f);
        TEST_TABLE_N(f.cs, f.n, check_real_signature, NULL);
        fixture_close(&f);
}
