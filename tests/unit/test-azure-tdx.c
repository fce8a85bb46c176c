/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Azure TDX HCL reports (issue 16): the two real ones (trustee's
 * az-tdx-vtpm, kinvolk's azure-cvm-tooling) parse, bind their runtime data
 * (REPORTDATA = SHA-256(runtime data) || 32 zeros) and have consistent
 * TDREPORT hashes; trustee's matches the DCAP quote Azure's host made for
 * it field by field; cp_hcl_report_write() lays out the same bytes from
 * their parts (the software paravisor writes what Azure's does); tampered
 * variants (runtime data, TDREPORT, quote body, truncation) are refused.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "basic/cursor.h"
#include "confpool/azure.h"
#include "confpool/tdx_quote.h"
#include "confpool/tdx_verify.h"
#include "tests.h"

typedef struct report_row {
        const char *name, *rel;
} report_row;

static const report_row reports[] = {
        { "trustee", "snp/confidential-containers__trustee/az-tdx-vtpm/hcl-report.bin" },
        { "kinvolk", "snp/kinvolk__azure-cvm-tooling/hcl-report-tdx.bin" },
};

static void real_binds(void *ctx, const void *row) {
        (void) ctx;
        const report_row *rr = row;
        size_t len;
        uint8_t *b = cp_test_read(rr->rel, &len);
        cp_hcl_report h;
        cp_tdx_tdreport t;
        ASSERT_OK(cp_tdx_azure_hcl_check(b, len, NULL, &h, &t));
        ASSERT_EQ(h.report_type, CP_HCL_REPORT_TDX);
        ASSERT_EQ(h.hash_type, CP_HCL_HASH_SHA256);
        ASSERT_EQ(len, 2600);
        /* REPORTDATA[32:64] is zero: the SHA-256 pads to 64 bytes */
        static const uint8_t zero[32];
        ASSERT_TRUE(memcmp(t.report_data + 32, zero, 32) == 0);
        cp_azure_runtime_data *rd = NULL;
        ASSERT_OK(cp_azure_runtime_data_parse(h.runtime_data, h.runtime_data_len, &rd));
        ASSERT_TRUE(cp_azure_runtime_data_ak(rd) != NULL);
        cp_azure_runtime_data_free(rd);
        free(b);
}

TEST(real_reports_bind_runtime_data) {
        TEST_TABLE(reports, real_binds, NULL);
}

static void real_rebuilds(void *ctx, const void *row) {
        (void) ctx;
        const report_row *rr = row;
        size_t len, out_len;
        uint8_t *b = cp_test_read(rr->rel, &len), *out = NULL;
        cp_hcl_report h;
        ASSERT_OK(cp_hcl_report_parse(b, len, &h));
        ASSERT_OK(cp_hcl_report_write(h.request_type, h.report_type, h.hash_type, h.hw_report, h.hw_report_len,
                                      h.runtime_data, h.runtime_data_len, len, &out, &out_len));
        ASSERT_EQ(out_len, len);
        ASSERT_TRUE(memcmp(out, b, len) == 0);
        free(out);
        free(b);
}

/* the software paravisor's layout is Azure's, byte for byte */
TEST(writer_reproduces_real_reports) {
        TEST_TABLE(reports, real_rebuilds, NULL);
}

TEST(writer_refuses_bad_input) {
        uint8_t hw[CP_HCL_TDX_REPORT_SIZE] = { 0x81 }, *out = NULL;
        size_t n;
        ASSERT_ERR(cp_hcl_report_write(2, CP_HCL_REPORT_TDX, CP_HCL_HASH_SHA256, hw, 1000, (const uint8_t *) "{}", 2, 0,
                                       &out, &n),
                   CP_EINVAL);
        ASSERT_ERR(cp_hcl_report_write(7, CP_HCL_REPORT_TDX, CP_HCL_HASH_SHA256, hw, sizeof hw, (const uint8_t *) "{}",
                                       2, 0, &out, &n),
                   CP_EINVAL);
        /* does not fit the NV area */
        ASSERT_ERR(cp_hcl_report_write(2, CP_HCL_REPORT_TDX, CP_HCL_HASH_SHA256, hw, sizeof hw, (const uint8_t *) "{}",
                                       2, 1024, &out, &n),
                   CP_ETOOBIG);
        cp_error_clear();
}

typedef struct tamper {
        const char *name;
        size_t offset; /* from the start of the HCL report */
        int expect;
} tamper;

/* 0x20: the TDREPORT; +0x80 REPORTDATA, +0x200 TDINFO (MRTD at +0x210), +0x100 TEE_TCB_INFO */
static const tamper tampers[] = {
        { "runtime data (first byte of the JSON)", CP_HCL_VARIABLE_DATA_OFFSET, CP_EBINDING },
        { "runtime data (a byte in the middle)", CP_HCL_VARIABLE_DATA_OFFSET + 300, CP_EBINDING },
        { "TDREPORT REPORTDATA", 0x20 + 0x80, CP_EBINDING },
        { "TDREPORT REPORTDATA padding", 0x20 + 0x80 + 40, CP_EBINDING },
        { "TDREPORT TDINFO MRTD", 0x20 + 0x200 + 0x10, CP_EBINDING },
        { "TDREPORT TEE_TCB_INFO", 0x20 + 0x100 + 9, CP_EBINDING },
        { "TDREPORT type", 0x20, CP_EFORMAT },
        { "TDX padding after the TDREPORT", 0x20 + 0x400 + 3, CP_EMBZ },
        { "header version", 4, CP_EVERSION },
        { "report type (TDX -> 3)", CP_HCL_REQUEST_DATA_OFFSET + 8, CP_EUNSUPPORTED },
        { "NV padding after the report", 2590, CP_ETRAILING },
};

static void one_tamper(void *ctx, const void *row) {
        const tamper *t = row;
        const uint8_t *orig = ctx;
        uint8_t b[2600];
        memcpy(b, orig, sizeof b);
        b[t->offset] ^= 0x01;
        int r = cp_tdx_azure_hcl_check(b, sizeof b, NULL, NULL, NULL);
        if (r != t->expect)
                cp_test_fail(__FILE__, __LINE__, "%s: got %d (%s), want %d", t->name, r, cp_error_message(), t->expect);
        cp_error_clear();
}

TEST(tampered_real_report_refused) {
        size_t len;
        uint8_t *b = cp_test_read(reports[0].rel, &len);
        ASSERT_EQ(len, 2600);
        TEST_TABLE(tampers, one_tamper, b);
        free(b);
}

TEST(truncated_real_report_refused) {
        size_t len;
        uint8_t *b = cp_test_read(reports[0].rel, &len);
        cp_hcl_report h;
        ASSERT_OK(cp_hcl_report_parse(b, len, &h));
        /* every length short of the report's own size is refused */
        size_t end = CP_HCL_VARIABLE_DATA_OFFSET + h.runtime_data_len;
        for (size_t n = 0; n < end; n++) {
                int r = cp_tdx_azure_hcl_check(b, n, NULL, NULL, NULL);
                if (r >= 0)
                        cp_test_fail(__FILE__, __LINE__, "a report truncated to %zu bytes was accepted", n);
                cp_error_clear();
        }
        /* the NV padding is not part of the report: the exact size parses */
        ASSERT_OK(cp_tdx_azure_hcl_check(b, end, NULL, NULL, NULL));
        free(b);
}

/* trustee's report against the quote Azure's host made for it: every
 * compared field, changed in the quote body, is named in the refusal */
TEST(real_report_matches_its_quote_field_by_field) {
        size_t len, ql;
        uint8_t *b = cp_test_read(reports[0].rel, &len);
        uint8_t *qb = cp_test_read("tdx/confidential-containers__trustee/az-tdx-vtpm/td-quote.bin", &ql);
        cp_tdx_quote q;
        ASSERT_OK(cp_tdx_quote_parse(qb, ql, 0, &q));
        ASSERT_OK(cp_tdx_azure_hcl_check(b, len, &q.body, NULL, NULL));
        static const struct {
                const char *name;
                size_t off, n;
        } fields[] = {
                { "TEE_TCB_SVN", offsetof(cp_tdx_body, tee_tcb_svn), 16 },
                { "MRSEAM", offsetof(cp_tdx_body, mrseam), 48 },
                { "MRTD", offsetof(cp_tdx_body, mrtd), 48 },
                { "MRCONFIGID", offsetof(cp_tdx_body, mrconfigid), 48 },
                { "MROWNER", offsetof(cp_tdx_body, mrowner), 48 },
                { "RTMR2", offsetof(cp_tdx_body, rtmr) + 2 * 48, 48 },
                { "REPORTDATA", offsetof(cp_tdx_body, report_data), 64 },
                { "TDATTRIBUTES", offsetof(cp_tdx_body, td_attributes), 8 },
                { "XFAM", offsetof(cp_tdx_body, xfam), 8 },
        };
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
                cp_tdx_body body = q.body;
                ((uint8_t *) &body)[fields[i].off + fields[i].n - 1] ^= 0x80;
                ASSERT_ERR(cp_tdx_azure_hcl_check(b, len, &body, NULL, NULL), CP_EBINDING);
                ASSERT_TRUE(strstr(cp_error_message(), fields[i].name) != NULL);
                cp_error_clear();
        }
        free(qb);
        free(b);
}
