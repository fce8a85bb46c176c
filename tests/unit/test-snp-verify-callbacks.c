/* SPDX-License-Identifier: Apache-2.0 */
/* cp_snp_verify's callbacks for services (get_leaf, prepare_revocation) and
 * the chain's validity window in the result, on a real Azure Milan report. */
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "confpool/azure.h"
#include "confpool/snp_verify.h"
#include "tests.h"

#define NOW INT64_C(1748736000)
#define EV CP_TEST_DATA_DIR "/snp/confidential-containers__trustee/az-snp-vtpm/evidence-v1"

typedef struct calls {
        const uint8_t *leaf;
        size_t leaf_len;
        unsigned get_leaf, prepare;
        cp_snp_generation gen;
        cp_amd_cert_kind signer;
        int prepare_result;
} calls;

static int get_leaf(void *userdata, const cp_snp_report *rep, const uint8_t **ret, size_t *ret_len) {
        calls *c = userdata;
        c->get_leaf++;
        if (rep->signing_key != CP_SNP_SIGNING_KEY_VCEK)
                return CP_ERROR(CP_ENOTFOUND, "not a VCEK report");
        *ret = c->leaf;
        *ret_len = c->leaf_len;
        return 0;
}

static int prepare(void *userdata, cp_snp_generation g, cp_amd_cert_kind signer) {
        calls *c = userdata;
        c->prepare++;
        c->gen = g;
        c->signer = signer;
        return c->prepare_result < 0 ? CP_ERROR(c->prepare_result, "no CRL (test)") : 0;
}

TEST(callbacks_and_chain_window) {
        uint8_t *hclb = NULL, *vcek = NULL;
        size_t hl, vl;
        cp_hcl_report hcl;
        cp_snp_verifier *v = NULL;
        cp_snp_verify_result a, b;
        ASSERT_OK(cp_read_file(EV ".hcl-report.bin", 1u << 20, &hclb, &hl));
        ASSERT_OK(cp_read_file(EV ".vcek.der", 1u << 20, &vcek, &vl));
        ASSERT_OK(cp_hcl_report_parse(hclb, hl, &hcl));
        ASSERT_OK(cp_snp_verifier_new(NULL, &v));
        calls c = { .leaf = vcek, .leaf_len = vl };
        cp_snp_verify_options o = CP_SNP_VERIFY_OPTIONS_INIT;
        o.now = NOW;
        o.userdata = &c;
        o.get_leaf = get_leaf;
        o.prepare_revocation = prepare;
        /* the leaf supplied: get_leaf is not asked; no revocation check, no prepare */
        cp_snp_evidence with = { .report = hcl.hw_report, .report_len = hcl.hw_report_len, .leaf = vcek, .leaf_len = vl };
        ASSERT_OK(cp_snp_verify(v, &with, &o, &a));
        ASSERT_EQ(c.get_leaf, 0);
        ASSERT_EQ(c.prepare, 0);
        ASSERT_TRUE(a.valid_from <= NOW && NOW <= a.valid_until && a.valid_from < a.valid_until);
        /* no leaf: get_leaf supplies it, with the same result (from the chain cache) */
        cp_snp_evidence without = { .report = hcl.hw_report, .report_len = hcl.hw_report_len };
        ASSERT_OK(cp_snp_verify(v, &without, &o, &b));
        ASSERT_EQ(c.get_leaf, 1);
        ASSERT_TRUE(b.cache_hit);
        ASSERT_EQ(b.valid_from, a.valid_from);
        ASSERT_EQ(b.valid_until, a.valid_until);
        ASSERT_MEMEQ(&b.report, &a.report, sizeof(a.report));
        /* without callbacks and leaf: not found */
        cp_snp_verify_options plain = CP_SNP_VERIFY_OPTIONS_INIT;
        plain.now = NOW;
        ASSERT_ERR(cp_snp_verify(v, &without, &plain, &b), CP_ENOTFOUND);
        /* revocation: prepare learns the chain's product and signer; its error ends the verification */
        o.check_revocation = true;
        c.prepare_result = CP_EREVOKED;
        ASSERT_ERR(cp_snp_verify(v, &with, &o, &b), CP_EREVOKED);
        ASSERT_EQ(c.prepare, 1);
        ASSERT_EQ(c.gen, a.generation);
        ASSERT_EQ(c.signer, CP_AMD_CERT_VCEK);
        /* prepare succeeding but no CRL installed: the verifier still refuses */
        c.prepare_result = 0;
        ASSERT_ERR(cp_snp_verify(v, &with, &o, &b), CP_EREVOKED);
        ASSERT_EQ(c.prepare, 2);
        cp_snp_verifier_free(v);
        free(hclb);
        free(vcek);
}
