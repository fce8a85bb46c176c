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
                return k == CP_EEXPIRED || k == CP_EREVOKED;
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

static void flip_range(fixture *x, size_t from, size_t to, const char *what) {
        cp_tdx_verify_result r;
        uint8_t *q = x->f.quote;
        size_t n = 0;
        for (size_t i = from; i < to; i++)
                for (unsigned b = 0; b < 8; b++) {
                        q[i] ^= (uint8_t) (1u << b);
                        int k = cp_tdx_verify(q, x->f.quote_len, &x->col, &x->o, &r);
                        q[i] ^= (uint8_t) (1u << b);
                        if (k >= 0)
                                cp_test_fail(__FILE__, __LINE__, "%s: flip of bit %u of byte %zu verified", what, b, i);
                        n++;
                }
        printf("    %s: %zu single-bit flips refused\n", what, n);
}

static void flip_all(size_t case_index) {
        fixture x;
        cp_tdx_verify_result r;
        fixture_load(&x, case_index);
        ASSERT_OK(cp_tdx_verify(x.f.quote, x.f.quote_len, &x.col, &x.o, &r));
        const cp_tdx_quote *q = &r.quote;
        const uint8_t *base = x.f.quote;
        size_t sig = (size_t) (q->signature - base), qe = (size_t) (q->cert.qe_report_raw - base);
        size_t qsig = (size_t) (q->cert.qe_report_sig - base), auth = (size_t) (q->cert.qe_auth_data - base);
        flip_range(&x, 0, q->signed_len, "signed header and body");
        flip_range(&x, sig, sig + 128, "quote signature and attestation key");
        flip_range(&x, qe, qe + CP_TDX_SGX_REPORT_SIZE, "QE report");
        flip_range(&x, qsig, qsig + 64, "QE report signature");
        flip_range(&x, auth, auth + q->cert.qe_auth_data_len, "QE auth data");
        files_free(&x.f);
}

TEST(every_bit_flip_refused_v4) {
        flip_all(CASE_PHALA_V4);
}

TEST(every_bit_flip_refused_v5) {
        flip_all(CASE_GO_V5);
}
