/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TDX DCAP quote verification against real Intel data
 * (tests/data/tdx/cases.json, copied from ../shared/realdata/tdx with its
 * attribution): every case gives its expected verdict and TCB status at its
 * check time; every bit flip of a verifying quote's signed body, QE report
 * and signatures is refused; malformed quotes are refused by the parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "basic/cleanup.h"
#include "basic/cursor.h"
#include "confpool/tdx_quote.h"
#include "confpool/tdx_verify.h"
#include "libconfpool/ecfb.h"
#include "libconfpool/tdx-internal.h"
#include "tests.h"

typedef struct tdx_files {
        uint8_t *quote, *tcb, *qe, *sign, *pck_crl, *root_crl, *td_quote;
        size_t quote_len, tcb_len, qe_len, sign_len, pck_crl_len, root_crl_len, td_quote_len;
} tdx_files;

static uint8_t *read_opt(json_t *c, const char *key, size_t *len) {
        char rel[512];
        const char *p = json_string_value(json_object_get(c, key));
        *len = 0;
        if (!p)
                return NULL;
        snprintf(rel, sizeof(rel), "tdx/%s", p);
        return cp_test_read(rel, len);
}

static void files_load(json_t *c, tdx_files *f) {
        memset(f, 0, sizeof(*f));
        f->quote = read_opt(c, "quote", &f->quote_len);
        f->tcb = read_opt(c, "tcb_info", &f->tcb_len);
        f->qe = read_opt(c, "qe_identity", &f->qe_len);
        f->sign = read_opt(c, "tcb_signing_chain", &f->sign_len);
        f->pck_crl = read_opt(c, "pck_crl", &f->pck_crl_len);
        f->root_crl = read_opt(c, "root_ca_crl", &f->root_crl_len);
        f->td_quote = read_opt(c, "td_quote", &f->td_quote_len);
}

static void files_free(tdx_files *f) {
        free(f->quote);
        free(f->tcb);
        free(f->qe);
        free(f->sign);
        free(f->pck_crl);
        free(f->root_crl);
        free(f->td_quote);
}

static cp_tdx_collateral collateral(const tdx_files *f) {
        return (cp_tdx_collateral) { .tcb_info = f->tcb, .tcb_info_len = f->tcb_len, .qe_identity = f->qe,
                                     .qe_identity_len = f->qe_len, .tcb_signing_chain = f->sign,
                                     .tcb_signing_chain_len = f->sign_len, .pck_crl = f->pck_crl,
                                     .pck_crl_len = f->pck_crl_len, .root_ca_crl = f->root_crl,
                                     .root_ca_crl_len = f->root_crl_len };
}

static int64_t case_time(json_t *c) {
        int64_t t = 0;
        const char *s = json_string_value(json_object_get(c, "check_time"));
        if (s && tdx_parse_time(s, &t) < 0)
                cp_test_fail(__FILE__, __LINE__, "bad check_time %s", s);
        return t;
}

static int verify_case(json_t *c, const tdx_files *f, cp_tdx_verify_result *r) {
        cp_tdx_collateral col = collateral(f);
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = case_time(c);
        const char *format = json_string_value(json_object_get(c, "format"));
        if (!strcmp(format, "azure-hcl-tdreport"))
                return cp_tdx_verify_azure_hcl(f->quote, f->quote_len, f->td_quote, f->td_quote_len, &col, &o, r);
        return cp_tdx_verify(f->quote, f->quote_len, &col, &o, r);
}

static void check_advisories(json_t *want, const cp_tdx_verify_result *r) {
        if (!json_is_array(want))
                return;
        ASSERT_EQ(json_array_size(want), r->n_advisories);
        json_t *e;
        size_t i;
        json_array_foreach(want, i, e) {
                bool found = false;
                for (size_t j = 0; j < r->n_advisories; j++)
                        found = found || !strcmp(r->advisories[j], json_string_value(e));
                ASSERT_TRUE(found);
        }
}

/* The refusal is the one cases.json's "why" describes. */
static bool reason_matches(const char *why, int k) {
        if (!why)
                return false;
        if (strstr(why, "no TCB level matches") || strstr(why, "does not match the PCK certificate FMSPC"))
                return k == CP_ETCB;
        if (strstr(why, "debug-only"))
                return k == CP_EUNTRUSTED;
        if (strstr(why, "collateral expired"))
                return k == CP_EEXPIRED;
        if (strstr(why, "no TD quote"))
                return k == CP_ENOTFOUND;
        return false;
}

typedef struct case_row {
        char name[96];
        json_t *c;
} case_row;

static void one_case(void *ctx, const void *row) {
        json_t *c = ((const case_row *) row)->c;
        (void) ctx;
        tdx_files f;
        cp_tdx_verify_result r;
        files_load(c, &f);
        int k = verify_case(c, &f, &r);
        const char *expect = json_string_value(json_object_get(c, "expect"));
        if (!strcmp(expect, "verified")) {
                if (k < 0)
                        cp_test_fail(__FILE__, __LINE__, "expected verified: %s (%s)", cp_error_message(), cp_err_name(k));
                ASSERT_STREQ(cp_tdx_tcb_status_name(r.tcb_status), json_string_value(json_object_get(c, "tcb_status")));
                json_t *d = json_object_get(c, "tcb_detail");
                ASSERT_STREQ(cp_tdx_tcb_status_name(r.platform_status),
                             json_string_value(json_object_get(d, "platform_level")));
                ASSERT_STREQ(r.platform_tcb_date, json_string_value(json_object_get(d, "platform_tcb_date")));
                check_advisories(json_object_get(d, "advisory_ids"), &r);
                ASSERT_EQ((unsigned) json_integer_value(json_object_get(c, "qe_isvsvn")), r.quote.cert.qe_report.isvsvn);
                ASSERT_EQ((unsigned) json_integer_value(json_object_get(c, "pck_pcesvn")), r.pck.pcesvn);
                json_t *comp;
                size_t i;
                json_array_foreach(json_object_get(c, "pck_sgx_tcb"), i, comp)
                        ASSERT_EQ((unsigned) json_integer_value(comp), r.pck.tcb_comp[i]);
                char fmspc[13];
                for (i = 0; i < 6; i++)
                        snprintf(fmspc + 2 * i, 3, "%02x", r.pck.fmspc[i]);
                ASSERT_STREQ(fmspc, json_string_value(json_object_get(c, "fmspc")));
                ASSERT_EQ((unsigned) json_integer_value(json_object_get(c, "quote_version")), r.quote.version);
                ASSERT_EQ((unsigned) json_integer_value(json_object_get(c, "body_type")), r.quote.body.type);
                ASSERT_EQ(json_is_true(json_object_get(c, "td_debug")),
                          (r.quote.body.td_attributes & CP_TDX_TDATTR_DEBUG) != 0);
                ASSERT_TRUE(r.revocation_checked);
        } else {
                if (k >= 0)
                        cp_test_fail(__FILE__, __LINE__, "expected rejected (%s), got verified %s",
                                     json_string_value(json_object_get(c, "why")), cp_tdx_tcb_status_name(r.tcb_status));
                printf("    rejected as expected: %s (%s)\n", cp_error_message(), cp_err_name(k));
                ASSERT_TRUE(reason_matches(json_string_value(json_object_get(c, "why")), k));
        }
        files_free(&f);
}

static json_t *load_cases(void) {
        json_error_t err;
        json_t *cases = json_load_file(cp_test_data("tdx/cases.json"), 0, &err);
        if (!json_is_array(cases))
                cp_test_fail(__FILE__, __LINE__, "cases.json: %s", err.text);
        return cases;
}

TEST(every_realdata_case) {
        json_t *cases = load_cases(), *c;
        size_t n = json_array_size(cases), i;
        case_row *rows = calloc(n, sizeof(*rows));
        ASSERT_TRUE(rows);
        json_array_foreach(cases, i, c) {
                snprintf(rows[i].name, sizeof(rows[i].name), "%zu:%s@%s", i,
                         json_string_value(json_object_get(c, "quote")),
                         json_string_value(json_object_get(c, "check_time")) ?: "-");
                rows[i].c = c;
        }
        TEST_TABLE_N(rows, n, one_case, NULL);
        free(rows);
        json_decref(cases);
}

/* Issue 19: the same cases through one verifier, three rounds (first
 * sight with OpenSSL, then the keys' fixed-base tables): every verdict is
 * the one cp_tdx_verify gives without any cache. */
static void one_case_cached(void *ctx, const void *row) {
        cp_tdx_verifier *v = ctx;
        json_t *c = ((const case_row *) row)->c;
        if (!strcmp(json_string_value(json_object_get(c, "format")), "azure-hcl-tdreport"))
                return; /* no verifier form */
        tdx_files f;
        cp_tdx_verify_result r1, r2;
        files_load(c, &f);
        cp_tdx_collateral col = collateral(&f);
        cp_tdx_verify_options o = CP_TDX_VERIFY_OPTIONS_INIT;
        o.now = case_time(c);
        int k1 = cp_tdx_verify(f.quote, f.quote_len, &col, &o, &r1);
        int k2 = cp_tdx_verifier_verify(v, f.quote, f.quote_len, &col, &o, &r2);
        ASSERT_EQ(k2, k1);
        if (k1 == 0)
                ASSERT_EQ(r2.tcb_status, r1.tcb_status);
        files_free(&f);
}

TEST(every_realdata_case_cached_same_verdict) {
        json_t *cases = load_cases(), *c;
        size_t n = json_array_size(cases), i;
        case_row *rows = calloc(n, sizeof(*rows));
        cp_tdx_verifier *v = NULL;
        ASSERT_TRUE(rows);
        ASSERT_OK(cp_tdx_verifier_new(&v));
        json_array_foreach(cases, i, c) {
                snprintf(rows[i].name, sizeof(rows[i].name), "%zu:%s", i, json_string_value(json_object_get(c, "quote")));
                rows[i].c = c;
        }
        for (int round = 0; round < 3; round++)
                TEST_TABLE_N(rows, n, one_case_cached, v);
        cp_ecfb_stats st;
        cp_tdx_verifier_ecfb_stats(v, &st);
        printf("    fixed-base tables: %llu hits, %llu builds\n", (unsigned long long) st.hits,
               (unsigned long long) st.builds);
        ASSERT_TRUE(st.hits > 0);
        cp_tdx_verifier_free(v);
        free(rows);
        json_decref(cases);
}

/* Every case that verifies at its check time is refused at the real
 * current time: Intel's collateral expires after about 30 days. */
TEST(every_case_expired_now) {
        json_t *cases = load_cases(), *c;
        size_t i;
        json_array_foreach(cases, i, c) {
                tdx_files f;
                cp_tdx_verify_result r;
                if (strcmp(json_string_value(json_object_get(c, "format")), "azure-hcl-tdreport") == 0)
                        continue;
                files_load(c, &f);
                cp_tdx_collateral col = collateral(&f);
                ASSERT_FAILS(cp_tdx_verify(f.quote, f.quote_len, &col, NULL, &r));
                files_free(&f);
        }
        json_decref(cases);
}

/* ---- a verifying quote and its collateral (dcap-qvl's, UpToDate) */

typedef struct fixture {
        tdx_files f;
        cp_tdx_collateral col;
        cp_tdx_verify_options o;
} fixture;

static void fixture_load(fixture *x, size_t case_index) {
        json_t *cases = load_cases();
        json_t *c = json_array_get(cases, case_index);
        ASSERT_STREQ(json_string_value(json_object_get(c, "expect")), "verified");
        files_load(c, &x->f);
        x->col = collateral(&x->f);
        x->o = (cp_tdx_verify_options) CP_TDX_VERIFY_OPTIONS_INIT;
        x->o.now = case_time(c);
        json_decref(cases);
}

#define CASE_PHALA_V4 6
#define CASE_GO_V5 1
#define CASE_TRUSTEE_V4 3

static void flip_range(cp_tdx_verifier *v, fixture *x, size_t from, size_t to, const char *what) {
        cp_tdx_verify_result r;
        uint8_t *q = x->f.quote;
        size_t n = 0;
        for (size_t i = from; i < to; i++)
                for (unsigned b = 0; b < 8; b++) {
                        q[i] ^= (uint8_t) (1u << b);
                        int k = cp_tdx_verifier_verify(v, q, x->f.quote_len, &x->col, &x->o, &r);
                        q[i] ^= (uint8_t) (1u << b);
                        if (k >= 0)
                                cp_test_fail(__FILE__, __LINE__, "%s: flip of bit %u of byte %zu verified", what, b, i);
                        n++;
                }
        printf("    %s: %zu single-bit flips refused\n", what, n);
}

/* v NULL: every flip goes through the full chain and collateral checks;
 * else they hit the verifier's cache and only the quote's own checks run. */
static void flip_all(size_t case_index, cp_tdx_verifier *v) {
        fixture x;
        cp_tdx_verify_result r;
        fixture_load(&x, case_index);
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &x.col, &x.o, &r));
        const cp_tdx_quote *q = &r.quote;
        const uint8_t *base = x.f.quote;
        size_t sig = (size_t) (q->signature - base), qe = (size_t) (q->cert.qe_report_raw - base);
        size_t qsig = (size_t) (q->cert.qe_report_sig - base), auth = (size_t) (q->cert.qe_auth_data - base);
        flip_range(v, &x, 0, q->signed_len, "signed header and body");
        flip_range(v, &x, sig, sig + 128, "quote signature and attestation key");
        flip_range(v, &x, qe, qe + CP_TDX_SGX_REPORT_SIZE, "QE report");
        flip_range(v, &x, qsig, qsig + 64, "QE report signature");
        flip_range(v, &x, auth, auth + q->cert.qe_auth_data_len, "QE auth data");
        files_free(&x.f);
}

/* v4 through the full checks; v4 and v5 again through the cache (the
 * quote's own checks are the same on both paths). */
TEST(every_bit_flip_refused_v4) {
        flip_all(CASE_PHALA_V4, NULL);
}

/* The same flips with the chain and collateral cached: the cache never
 * vouches for the quote itself. */
TEST(every_bit_flip_refused_cached) {
        cp_tdx_verifier *v = NULL;
        uint64_t hits, misses;
        ASSERT_OK(cp_tdx_verifier_new(&v));
        flip_all(CASE_PHALA_V4, v);
        flip_all(CASE_GO_V5, v);
        cp_tdx_verifier_stats(v, &hits, &misses);
        printf("    cache: %llu hits, %llu misses\n", (unsigned long long) hits, (unsigned long long) misses);
        ASSERT_TRUE(hits > 10000);
        /* the PCK and attestation keys verified with their fixed-base tables (issue 19) */
        cp_ecfb_stats st;
        cp_tdx_verifier_ecfb_stats(v, &st);
        printf("    fixed-base tables: %llu hits, %llu builds\n", (unsigned long long) st.hits,
               (unsigned long long) st.builds);
        ASSERT_TRUE(st.hits > 10000 && st.builds >= 2);
        cp_tdx_verifier_free(v);
}

TEST(verifier_cache) {
        fixture x;
        cp_tdx_verify_result r, r2;
        cp_tdx_verifier *v = NULL;
        uint64_t hits, misses;
        ASSERT_OK(cp_tdx_verifier_new(&v));
        fixture_load(&x, CASE_PHALA_V4);
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &x.col, &x.o, &r));
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &x.col, &x.o, &r2));
        cp_tdx_verifier_stats(v, &hits, &misses);
        ASSERT_EQ(hits, 1u);
        ASSERT_EQ(misses, 1u);
        ASSERT_EQ(r2.tcb_status, r.tcb_status);
        ASSERT_EQ(r2.valid_until, r.valid_until);
        ASSERT_MEMEQ(r2.pck.fmspc, r.pck.fmspc, 6);
        /* outside the cached window: not a hit, and refused as expired */
        cp_tdx_verify_options late = x.o;
        late.now = r.valid_until + 1;
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &x.col, &late, &r2));
        /* other collateral bytes: not a hit (no CRLs: verifies, unchecked) */
        cp_tdx_collateral col = x.col;
        col.pck_crl = col.root_ca_crl = NULL;
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        ASSERT_FALSE(r2.revocation_checked);
        cp_tdx_verifier_stats(v, &hits, &misses);
        ASSERT_EQ(hits, 1u);
        ASSERT_EQ(misses, 3u);
        /* a failed verification caches nothing */
        col = x.col;
        col.tcb_signing_chain = x.f.pck_crl;
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        cp_tdx_verifier_stats(v, &hits, &misses);
        ASSERT_EQ(hits, 1u);
        files_free(&x.f);
        cp_tdx_verifier_free(v);
}

/* A PCK chain the verifier has not seen (a text line before the PEM, which
 * the PEM reader skips: other bytes, same certificates). */
static uint8_t *chain_variant(const cp_tdx_quote *q, size_t *len) {
        static const char head[] = "another platform\n";
        uint8_t *p = malloc(sizeof(head) - 1 + q->cert.pck_chain_len);
        ASSERT_TRUE(p);
        memcpy(p, head, sizeof(head) - 1);
        memcpy(p + sizeof(head) - 1, q->cert.pck_chain, q->cert.pck_chain_len);
        *len = sizeof(head) - 1 + q->cert.pck_chain_len;
        return p;
}

/* Warm collateral: a new PCK chain with collateral already verified reuses
 * the parsed TCB Info / QE Identity - only for the very same bytes, valid
 * now - and still checks the PCK chain and the FMSPC match. */
TEST(verifier_warm_collateral) {
        fixture x, y;
        cp_tdx_verify_result r, r2;
        cp_tdx_verifier *v = NULL;
        size_t cl;
        ASSERT_OK(cp_tdx_verifier_new(&v));
        fixture_load(&x, CASE_PHALA_V4);
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &x.col, &x.o, &r));
        ASSERT_EQ(tdx_verifier_coll_hits(v), 0u);
        _cleanup_free_ uint8_t *chain = chain_variant(&r.quote, &cl);
        cp_tdx_collateral col = x.col;
        col.pck_chain = chain;
        col.pck_chain_len = cl;
        ASSERT_OK(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        ASSERT_EQ(tdx_verifier_coll_hits(v), 1u);
        ASSERT_EQ(r2.tcb_status, r.tcb_status);
        ASSERT_EQ(r2.valid_from, r.valid_from);
        ASSERT_EQ(r2.valid_until, r.valid_until);
        ASSERT_STREQ(r2.platform_tcb_date, r.platform_tcb_date);
        ASSERT_MEMEQ(r2.pck.fmspc, r.pck.fmspc, 6);
        ASSERT_TRUE(r2.revocation_checked);
        /* a broken PCK chain is refused although the collateral is warm */
        chain[cl / 2] ^= 0x01;
        col.pck_chain = chain;
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        chain[cl / 2] ^= 0x01;
        /* one byte of TCB Info changed: not reused, refused (its signature) */
        _cleanup_free_ uint8_t *ti = calloc(1, x.f.tcb_len + 1);
        ASSERT_TRUE(ti);
        memcpy(ti, x.f.tcb, x.f.tcb_len);
        uint8_t *digit = (uint8_t *) strstr((char *) ti, "\"isvsvn\":");
        ASSERT_TRUE(digit != NULL && digit + 9 < ti + x.f.tcb_len);
        digit[9] = digit[9] == '1' ? '2' : '1';
        uint64_t before = tdx_verifier_coll_hits(v);
        col.tcb_info = ti;
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &x.o, &r2));
        ASSERT_EQ(tdx_verifier_coll_hits(v), before);
        /* outside the collateral's window: not reused, refused as expired */
        cp_tdx_verify_options late = x.o;
        late.now = r.valid_until + 1;
        col = x.col;
        col.pck_chain = chain;
        col.pck_chain_len = cl;
        chain[0] ^= 0x20; /* another variant: no full-entry hit either */
        ASSERT_FAILS(cp_tdx_verifier_verify(v, x.f.quote, x.f.quote_len, &col, &late, &r2));
        ASSERT_EQ(tdx_verifier_coll_hits(v), before);
        /* another platform's quote with this collateral: the FMSPC check still runs */
        fixture_load(&y, CASE_TRUSTEE_V4); /* its PCK chain is valid at x's check time */
        int k = cp_tdx_verifier_verify(v, y.f.quote, y.f.quote_len, &x.col, &x.o, &r2);
        printf("    other platform, warm collateral: %s (%s)\n", k < 0 ? cp_error_message() : "verified",
               k < 0 ? cp_err_name(k) : "-");
        ASSERT_EQ(k, CP_ETCB);
        ASSERT_TRUE(strstr(cp_error_message(), "FMSPC") != NULL);
        ASSERT_EQ(tdx_verifier_coll_hits(v), before + 1);
        files_free(&y.f);
        files_free(&x.f);
        cp_tdx_verifier_free(v);
}

/* ---- parser: truncation, bad lengths, versions, types, trailing bytes */

static uint8_t *quote_copy(size_t case_index, size_t *len, cp_tdx_quote *q) {
        fixture x;
        fixture_load(&x, case_index);
        uint8_t *p = malloc(x.f.quote_len + 64);
        ASSERT_TRUE(p);
        memcpy(p, x.f.quote, x.f.quote_len);
        memset(p + x.f.quote_len, 0, 64);
        ASSERT_OK(cp_tdx_quote_parse(p, x.f.quote_len, 0, q));
        *len = q->quote_len; /* without the file's padding */
        files_free(&x.f);
        return p;
}

TEST(parse_every_truncation_refused) {
        cp_tdx_quote q, t;
        size_t len;
        for (size_t c = 0; c < 2; c++) {
                _cleanup_free_ uint8_t *p = quote_copy(c == 0 ? CASE_PHALA_V4 : CASE_GO_V5, &len, &q);
                for (size_t n = 0; n < len; n++)
                        ASSERT_ERR(cp_tdx_quote_parse(p, n, 0, &t), CP_ETRUNC);
                ASSERT_OK(cp_tdx_quote_parse(p, len, CP_TDX_PARSE_STRICT, &t));
        }
}

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
static void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t) v);
        put16(p + 2, (uint16_t) (v >> 16));
}
static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

typedef struct edit_row {
        const char *name;
        size_t case_index;
        int field;           /* what to edit */
        int32_t delta;       /* added to the field (or the value for absolute fields) */
        int expect;
} edit_row;

enum { F_VERSION, F_KEY_TYPE, F_TEE_TYPE, F_SIG_LEN, F_CERT_TYPE, F_CERT_SIZE, F_AUTH_LEN, F_INNER_TYPE,
       F_INNER_SIZE, F_BODY_TYPE, F_BODY_SIZE, F_TRAILING_STRICT };

static void edit_one(void *ctx, const void *row) {
        const edit_row *e = row;
        cp_tdx_quote q, t;
        size_t len;
        (void) ctx;
        _cleanup_free_ uint8_t *p = quote_copy(e->case_index, &len, &q);
        size_t sig = (size_t) (q.signature - p), cert = sig + 128;
        size_t auth_len = (size_t) (q.cert.qe_auth_data - p) - 2;
        size_t inner = auth_len + 2 + q.cert.qe_auth_data_len;
        size_t siglen = q.signed_len;
        unsigned flags = 0;
        switch (e->field) {
        case F_VERSION: put16(p, (uint16_t) e->delta); break;
        case F_KEY_TYPE: put16(p + 2, (uint16_t) e->delta); break;
        case F_TEE_TYPE: put32(p + 4, (uint32_t) e->delta); break;
        case F_SIG_LEN: put32(p + siglen, get32(p + siglen) + (uint32_t) e->delta); break;
        case F_CERT_TYPE: put16(p + cert, (uint16_t) e->delta); break;
        case F_CERT_SIZE: put32(p + cert + 2, get32(p + cert + 2) + (uint32_t) e->delta); break;
        case F_AUTH_LEN: put16(p + auth_len, (uint16_t) (q.cert.qe_auth_data_len + (size_t) e->delta)); break;
        case F_INNER_TYPE: put16(p + inner, (uint16_t) e->delta); break;
        case F_INNER_SIZE: put32(p + inner + 2, get32(p + inner + 2) + (uint32_t) e->delta); break;
        case F_BODY_TYPE: put16(p + 48, (uint16_t) e->delta); break;
        case F_BODY_SIZE: put32(p + 50, get32(p + 50) + (uint32_t) e->delta); break;
        case F_TRAILING_STRICT: len += (size_t) e->delta; flags = CP_TDX_PARSE_STRICT; break;
        }
        if (e->field == F_SIG_LEN && e->delta > 0 && e->delta <= 64)
                len += (size_t) e->delta; /* the bytes exist, the structure does not fill them */
        ASSERT_ERR(cp_tdx_quote_parse(p, len, flags, &t), e->expect);
}

TEST(parse_malformed_refused) {
        static const edit_row rows[] = {
                { "version 3", CASE_PHALA_V4, F_VERSION, 3, CP_EVERSION },
                { "version 6", CASE_PHALA_V4, F_VERSION, 6, CP_EVERSION },
                { "version 0", CASE_PHALA_V4, F_VERSION, 0, CP_EVERSION },
                { "key type 3 (ECDSA P-384)", CASE_PHALA_V4, F_KEY_TYPE, 3, CP_EFORMAT },
                { "TEE type SGX", CASE_PHALA_V4, F_TEE_TYPE, 0, CP_EFORMAT },
                { "signature data 1 byte longer", CASE_PHALA_V4, F_SIG_LEN, 1, CP_ETRAILING },
                { "signature data 1 byte shorter", CASE_PHALA_V4, F_SIG_LEN, -1, CP_ETRUNC },
                { "signature data beyond the input", CASE_PHALA_V4, F_SIG_LEN, 4096, CP_ETRUNC },
                { "certification data type 4", CASE_PHALA_V4, F_CERT_TYPE, 4, CP_EFORMAT },
                { "certification data type 7", CASE_PHALA_V4, F_CERT_TYPE, 7, CP_EFORMAT },
                { "certification data 1 byte longer", CASE_PHALA_V4, F_CERT_SIZE, 1, CP_ETRUNC },
                { "certification data 1 byte shorter", CASE_PHALA_V4, F_CERT_SIZE, -1, CP_ETRUNC },
                { "QE auth data 1 byte longer", CASE_PHALA_V4, F_AUTH_LEN, 1, CP_EFORMAT },
                { "QE auth data past the end", CASE_PHALA_V4, F_AUTH_LEN, 60000, CP_ETRUNC },
                { "nested certification data type 6", CASE_PHALA_V4, F_INNER_TYPE, 6, CP_EFORMAT },
                { "nested PCK chain 1 byte longer", CASE_PHALA_V4, F_INNER_SIZE, 1, CP_ETRUNC },
                { "nested PCK chain 1 byte shorter", CASE_PHALA_V4, F_INNER_SIZE, -1, CP_ETRAILING },
                { "v5 body type 1 (SGX)", CASE_GO_V5, F_BODY_TYPE, 1, CP_EVERSION },
                { "v5 body type 4", CASE_GO_V5, F_BODY_TYPE, 4, CP_EVERSION },
                { "v5 TD 1.5 body declared as TD 1.0", CASE_GO_V5, F_BODY_TYPE, 2, CP_EFORMAT },
                { "v5 body size + 1", CASE_GO_V5, F_BODY_SIZE, 1, CP_EFORMAT },
                { "v5 body size - 1", CASE_GO_V5, F_BODY_SIZE, -1, CP_EFORMAT },
                { "trailing byte (strict)", CASE_PHALA_V4, F_TRAILING_STRICT, 1, CP_ETRAILING },
                { "v5 trailing bytes (strict)", CASE_GO_V5, F_TRAILING_STRICT, 64, CP_ETRAILING },
        };
        TEST_TABLE(rows, edit_one, NULL);
}

/* Without STRICT, bytes after the signature data are counted and ignored
 * (real hosts pad quotes), and never reach a signature. */
TEST(parse_trailing_counted) {
        cp_tdx_quote q, t;
        size_t len;
        _cleanup_free_ uint8_t *p = quote_copy(CASE_PHALA_V4, &len, &q);
        memset(p + len, 0xa5, 64);
        ASSERT_OK(cp_tdx_quote_parse(p, len + 64, 0, &t));
        ASSERT_EQ(t.trailing_len, 64u);
        ASSERT_EQ(t.quote_len, len);
}

TEST(pck_ext_malformed_refused) {
        cp_tdx_pck_ext e;
        static const uint8_t not_seq[] = { 0x04, 0x01, 0x00 };
        static const uint8_t empty_seq[] = { 0x30, 0x00 };
        static const uint8_t trailing[] = { 0x30, 0x00, 0x00 };
        ASSERT_ERR(cp_tdx_pck_ext_parse(not_seq, sizeof(not_seq), &e), CP_EFORMAT);
        ASSERT_ERR(cp_tdx_pck_ext_parse(empty_seq, sizeof(empty_seq), &e), CP_EFORMAT);
        ASSERT_ERR(cp_tdx_pck_ext_parse(trailing, sizeof(trailing), &e), CP_EFORMAT);
}

/* ---- policy */

static int verify_with_policy(size_t case_index, const char *policy_json, cp_tdx_verify_result *r) {
        fixture x;
        cp_tdx_policy p;
        fixture_load(&x, case_index);
        int k = cp_tdx_policy_from_json(policy_json, strlen(policy_json), &p);
        if (k == 0) {
                x.o.policy = &p;
                k = cp_tdx_verify(x.f.quote, x.f.quote_len, &x.col, &x.o, r);
        }
        files_free(&x.f);
        return k;
}

#define CASE_DEBUG_TD 2     /* trustee tdx_quote_4: TDATTRIBUTES.DEBUG */
#define CASE_OUT_OF_DATE 3  /* trustee tdx_quote_6 */

TEST(policy_refuses_by_default) {
        cp_tdx_verify_result r;
        ASSERT_ERR(verify_with_policy(CASE_DEBUG_TD, "{}", &r), CP_EPOLICY);
        ASSERT_OK(verify_with_policy(CASE_DEBUG_TD, "{\"allow_debug\": true}", &r));
        ASSERT_TRUE(r.policy_checked);
        ASSERT_ERR(verify_with_policy(CASE_OUT_OF_DATE, "{}", &r), CP_EPOLICY);
        ASSERT_OK(verify_with_policy(CASE_OUT_OF_DATE, "{\"accepted_tcb_status\": [\"UpToDate\", \"OutOfDate\"]}", &r));
        ASSERT_OK(verify_with_policy(CASE_PHALA_V4, "{\"require_revocation\": true}", &r));
}

TEST(policy_measurements) {
        cp_tdx_verify_result r;
        char buf[1024], hex[129];
        ASSERT_OK(verify_with_policy(CASE_PHALA_V4, "{}", &r));
        const cp_tdx_body b = r.quote.body;
        static const char *const keys[] = { "mrtd", "rtmr0", "rtmr3", "mrconfigid", "mrowner", "report_data" };
        const uint8_t *vals[] = { b.mrtd, b.rtmr[0], b.rtmr[3], b.mrconfigid, b.mrowner, b.report_data };
        for (size_t i = 0; i < CP_ELEMENTSOF(keys); i++) {
                size_t n = i == 5 ? 64 : 48;
                for (size_t j = 0; j < n; j++)
                        snprintf(hex + 2 * j, 3, "%02x", vals[i][j]);
                const char *fmt = i == 0 ? "{\"%s\": [\"%s\"]}" : "{\"%s\": \"%s\"}";
                snprintf(buf, sizeof(buf), fmt, keys[i], hex);
                ASSERT_OK(verify_with_policy(CASE_PHALA_V4, buf, &r));
                hex[0] = hex[0] == '0' ? '1' : '0';
                snprintf(buf, sizeof(buf), fmt, keys[i], hex);
                ASSERT_ERR(verify_with_policy(CASE_PHALA_V4, buf, &r), CP_EPOLICY);
        }
        snprintf(buf, sizeof(buf), "{\"xfam\": \"%llx\"}", (unsigned long long) b.xfam);
        ASSERT_OK(verify_with_policy(CASE_PHALA_V4, buf, &r));
        snprintf(buf, sizeof(buf), "{\"xfam\": \"%llx\"}", (unsigned long long) (b.xfam ^ 1));
        ASSERT_ERR(verify_with_policy(CASE_PHALA_V4, buf, &r), CP_EPOLICY);
        ASSERT_ERR(verify_with_policy(CASE_PHALA_V4, "{\"min_tee_tcb_svn\": \"ff000000000000000000000000000000\"}", &r),
                   CP_EPOLICY);
        ASSERT_OK(verify_with_policy(CASE_PHALA_V4, "{\"min_tee_tcb_svn\": \"00000000000000000000000000000000\"}", &r));
        ASSERT_ERR(verify_with_policy(CASE_PHALA_V4, "{\"mrsigner\": \"00\"}", &r), CP_EFORMAT);
        ASSERT_ERR(verify_with_policy(CASE_PHALA_V4, "{\"accepted_tcb_status\": [\"Fine\"]}", &r), CP_EFORMAT);
}

/* Collateral that is missing or tampered with is refused by name. */
TEST(collateral_refused) {
        fixture x;
        cp_tdx_verify_result r;
        fixture_load(&x, CASE_PHALA_V4);
        cp_tdx_collateral col = x.col;
        col.tcb_info = NULL;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_ENOTFOUND);
        col = x.col;
        col.tcb_signing_chain = NULL;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_ENOTFOUND);
        /* a signed TCB Info with one digit of a level changed */
        _cleanup_free_ uint8_t *t = malloc(x.f.tcb_len);
        memcpy(t, x.f.tcb, x.f.tcb_len);
        char *s = strstr((char *) t, "\"pcesvn\":");
        ASSERT_TRUE(s);
        s[9] = s[9] == '1' ? '2' : '1';
        col = x.col;
        col.tcb_info = t;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_ESIG);
        /* the QE Identity in place of the TCB Info */
        col = x.col;
        col.tcb_info = x.f.qe;
        col.tcb_info_len = x.f.qe_len;
        ASSERT_FAILS(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r));
        /* only one CRL: the other certificate's revocation is unknown */
        col = x.col;
        col.root_ca_crl = NULL;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_EREVOKED);
        /* no CRL at all: verifies, revocation not checked */
        col = x.col;
        col.root_ca_crl = col.pck_crl = NULL;
        ASSERT_OK(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r));
        ASSERT_FALSE(r.revocation_checked);
        files_free(&x.f);
}

/* A PCK chain with a second end-entity certificate (here the TCB Signing
 * certificate) is refused: the certificate whose key and extensions are
 * used must be the one that was verified. */
TEST(pck_chain_two_leaves_refused) {
        fixture x;
        cp_tdx_verify_result r;
        cp_tdx_quote q;
        fixture_load(&x, CASE_PHALA_V4);
        ASSERT_OK(cp_tdx_quote_parse(x.f.quote, x.f.quote_len, 0, &q));
        size_t n = q.cert.pck_chain_len + x.f.sign_len;
        _cleanup_free_ uint8_t *chain = malloc(n);
        ASSERT_TRUE(chain);
        /* the quote's chain ends with a NUL byte: the TCB Signing PEM first */
        memcpy(chain, x.f.sign, x.f.sign_len);
        memcpy(chain + x.f.sign_len, q.cert.pck_chain, q.cert.pck_chain_len);
        cp_tdx_collateral col = x.col;
        col.pck_chain = chain;
        col.pck_chain_len = n;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_ECERT);
        /* the quote's own chain given explicitly verifies */
        col.pck_chain = q.cert.pck_chain;
        col.pck_chain_len = q.cert.pck_chain_len;
        ASSERT_OK(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r));
        files_free(&x.f);
}

TEST(policy_require_revocation) {
        fixture x;
        cp_tdx_verify_result r;
        cp_tdx_policy p;
        static const char pj[] = "{\"require_revocation\": true, \"accepted_tcb_status\": [\"UpToDate\"]}";
        fixture_load(&x, CASE_PHALA_V4);
        ASSERT_OK(cp_tdx_policy_from_json(pj, strlen(pj), &p));
        x.o.policy = &p;
        cp_tdx_collateral col = x.col;
        col.pck_crl = col.root_ca_crl = NULL;
        ASSERT_ERR(cp_tdx_verify(x.f.quote, x.f.quote_len, &col, &x.o, &r), CP_EPOLICY);
        ASSERT_OK(cp_tdx_verify(x.f.quote, x.f.quote_len, &x.col, &x.o, &r));
        files_free(&x.f);
}
