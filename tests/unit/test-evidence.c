/* SPDX-License-Identifier: Apache-2.0 */
/* Evidence files: bare, extended (report || certificate table) and Azure
 * HCL reports are detected, and an extended report verifies with the VCEK
 * and ASK taken from its own certificate table. */
#include <stdlib.h>

#include "confpool/snp_verify.h"
#include "cli/evidence.h"
#include "tests.h"

static uint8_t *build_extended(size_t *ret_len, bool with_vcek) {
        size_t rl, vl, cl;
        uint8_t *rep = cp_test_read("snp/virtee__sev/report_milan.bin", &rl);
        uint8_t *vcek = cp_test_read("snp/virtee__sev/vcek_milan.der", &vl);
        uint8_t *ask = cp_test_read("snp/virtee__sev/builtin_milan/ask.pem", &cl);
        cp_snp_cert_entry e[2];
        memset(e, 0, sizeof(e));
        size_t n = 0;
        if (with_vcek) {
                e[n].kind = CP_SNP_CERT_VCEK;
                e[n].data = vcek;
                e[n].length = (uint32_t) vl;
                n++;
        }
        e[n].kind = CP_SNP_CERT_ASK;
        e[n].data = ask;
        e[n].length = (uint32_t) cl;
        n++;
        size_t need = 0;
        ASSERT_ERR(cp_snp_certtable_build(e, n, NULL, 0, &need), CP_ETOOBIG);
        uint8_t *out = calloc(1, rl + need);
        memcpy(out, rep, rl);
        size_t tl;
        ASSERT_OK(cp_snp_certtable_build(e, n, out + rl, need, &tl));
        free(rep);
        free(vcek);
        free(ask);
        *ret_len = rl + tl;
        return out;
}

TEST(detects_formats) {
        size_t len;
        cp_evidence_file ev;
        uint8_t *bare = cp_test_read("snp/virtee__sev/report_milan.bin", &len);
        ASSERT_OK(cp_evidence_parse(bare, len, &ev));
        ASSERT_EQ(ev.format, CP_EVIDENCE_BARE);
        ASSERT_TRUE(ev.snp.certtable == NULL);
        free(bare);

        uint8_t *hcl = cp_test_read("snp/confidential-containers__trustee/az-snp-vtpm/hcl-report.bin", &len);
        ASSERT_OK(cp_evidence_parse(hcl, len, &ev));
        ASSERT_EQ(ev.format, CP_EVIDENCE_HCL);
        ASSERT_TRUE(ev.snp.report == hcl + 0x20);
        ASSERT_EQ(ev.snp.report_len, CP_SNP_REPORT_SIZE);
        cp_snp_report rep;
        ASSERT_OK(cp_snp_report_parse(ev.snp.report, ev.snp.report_len, 0, &rep));
        ASSERT_OK(cp_evidence_check_binding(&ev, &rep));
        rep.report_data[0] ^= 1;
        ASSERT_ERR(cp_evidence_check_binding(&ev, &rep), CP_EBINDING);
        free(hcl);

        uint8_t *tdx = cp_test_read("snp/kinvolk__azure-cvm-tooling/hcl-report-tdx.bin", &len);
        ASSERT_ERR(cp_evidence_parse(tdx, len, &ev), CP_EUNSUPPORTED);
        free(tdx);

        uint8_t *ext = build_extended(&len, true);
        ASSERT_OK(cp_evidence_parse(ext, len, &ev));
        ASSERT_EQ(ev.format, CP_EVIDENCE_EXTENDED);
        ASSERT_TRUE(cp_evidence_has_leaf(&ev, CP_SNP_SIGNING_KEY_VCEK));
        ASSERT_FALSE(cp_evidence_has_leaf(&ev, CP_SNP_SIGNING_KEY_VLEK));
        /* a report followed by junk is neither */
        ext[CP_SNP_REPORT_SIZE + 16] = 1; /* first entry's offset points into the entry table */
        ASSERT_FAILS(cp_evidence_parse(ext, len, &ev));
        free(ext);
}

TEST(extended_report_verifies_from_its_own_table) {
        size_t len;
        uint8_t *ext = build_extended(&len, true);
        cp_evidence_file ev;
        ASSERT_OK(cp_evidence_parse(ext, len, &ev));
        cp_snp_verifier *v = NULL;
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        cp_snp_verify_result *res = calloc(1, sizeof(*res));
        ASSERT_OK(cp_snp_verify(v, &ev.snp, NULL, res));
        ASSERT_EQ(res->generation, CP_SNP_GEN_MILAN);
        ASSERT_TRUE(res->chip_id_checked);
        /* a table without the VCEK: nothing to verify with */
        uint8_t *noleaf = build_extended(&len, false);
        ASSERT_OK(cp_evidence_parse(noleaf, len, &ev));
        ASSERT_ERR(cp_snp_verify(v, &ev.snp, NULL, res), CP_ENOTFOUND);
        free(noleaf);
        free(res);
        v = cp_snp_verifier_free(v);
        free(ext);
}

TEST(file_load_errors) {
        cp_evidence_file ev;
        ASSERT_ERR(cp_evidence_file_load("/nonexistent/report.bin", &ev), CP_ENOTFOUND);
        ASSERT_ERR(cp_evidence_file_load("/", &ev), CP_EIO);
        ASSERT_OK(cp_evidence_file_load(cp_test_data("snp/virtee__sev/report_milan.bin"), &ev));
        ASSERT_EQ(ev.format, CP_EVIDENCE_BARE);
        cp_evidence_file_clear(&ev);
        ASSERT_TRUE(ev.buf == NULL);
}
