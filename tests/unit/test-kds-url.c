/* SPDX-License-Identifier: Apache-2.0 */
/* AMD KDS URL builders. */
#include <stdlib.h>
#include <string.h>

#include "confpool/snp_cert.h"
#include "tests.h"

static uint8_t *snp_read(const char *rel, size_t *ret_len) {
        char path[512];
        snprintf(path, sizeof(path), "snp/%s", rel);
        return cp_test_read(path, ret_len);
}

TEST(vcek_url_genoa_from_real_report) {
        /* Oak's Genoa report; its VCEK was downloaded from
         * .../vcek/v1/Genoa/D2421D97...968D?blSPL=10&teeSPL=00&snpSPL=25&ucodeSPL=84
         * (Oak's comment, uppercase, zero-padded); we emit lowercase, plain %d. */
        size_t len;
        uint8_t *rep = snp_read("project-oak__oak/genoa_oc_evidence.report.bin", &len);
        ASSERT_EQ(len, 0x4a0);
        const uint8_t *chip = rep + 0x1a0;
        const uint8_t *t = rep + 0x180; /* REPORTED_TCB, Genoa layout */
        cp_snp_tcb tcb = { .bl = t[0], .tee = t[1], .snp = t[6], .ucode = t[7] };
        char url[512];
        ASSERT_OK(cp_kds_vcek_url(NULL, CP_SNP_GEN_GENOA, chip, &tcb, url, sizeof(url)));
        ASSERT_STREQ(url, "https://kdsintf.amd.com/vcek/v1/Genoa/"
                          "d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102a"
                          "dbc7c53d0302bff82a432c94a305dec7a7a270ceb19a10f04a83316c6486968d"
                          "?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84");
        /* exact fit and one byte short */
        size_t need = strlen(url) + 1;
        char *exact = malloc(need);
        ASSERT_TRUE(exact);
        ASSERT_OK(cp_kds_vcek_url(NULL, CP_SNP_GEN_GENOA, chip, &tcb, exact, need));
        ASSERT_STREQ(exact, url);
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_GENOA, chip, &tcb, exact, need - 1), CP_ETOOBIG);
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_GENOA, chip, &tcb, exact, 0), CP_ETOOBIG);
        free(exact);
        free(rep);
}

TEST(vcek_url_turin) {
        /* virtee's real Turin VCEK: hwID 1e550a8ee5cf9f4d, fmc 0 bl 0 tee 0 snp 0 ucode 9 */
        uint8_t chip[64] = { 0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d };
        memset(chip + 8, 0, 56);
        cp_snp_tcb tcb = { .fmc = 0, .bl = 0, .tee = 0, .snp = 0, .ucode = 9, .has_fmc = true };
        char url[256];
        ASSERT_OK(cp_kds_vcek_url(NULL, CP_SNP_GEN_TURIN, chip, &tcb, url, sizeof(url)));
        ASSERT_STREQ(url, "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d"
                          "?blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9&fmcSPL=0");
        /* the snp-anchors example: fmc 0, bl 1, tee 0, snp 2, ucode 71 */
        tcb = (cp_snp_tcb){ .fmc = 3, .bl = 1, .tee = 0, .snp = 2, .ucode = 71, .has_fmc = true };
        ASSERT_OK(cp_kds_vcek_url("http://cache.local:8080/", CP_SNP_GEN_TURIN, chip, &tcb, url, sizeof(url)));
        ASSERT_STREQ(url, "http://cache.local:8080/vcek/v1/Turin/1e550a8ee5cf9f4d"
                          "?blSPL=1&teeSPL=0&snpSPL=2&ucodeSPL=71&fmcSPL=3");
        /* Turin needs fmc; Milan must not have it */
        tcb.has_fmc = false;
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_TURIN, chip, &tcb, url, sizeof(url)), CP_EINVAL);
        tcb.has_fmc = true;
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_MILAN, chip, &tcb, url, sizeof(url)), CP_EINVAL);
}

TEST(vcek_url_milan_255) {
        uint8_t chip[64];
        for (int i = 0; i < 64; i++)
                chip[i] = (uint8_t) (0xf0 + (i & 0xf));
        cp_snp_tcb tcb = { .bl = 255, .tee = 0, .snp = 1, .ucode = 200 };
        char url[512];
        ASSERT_OK(cp_kds_vcek_url(NULL, CP_SNP_GEN_MILAN, chip, &tcb, url, sizeof(url)));
        ASSERT_TRUE(strncmp(url, "https://kdsintf.amd.com/vcek/v1/Milan/f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", 70) == 0);
        ASSERT_TRUE(strstr(url, "?blSPL=255&teeSPL=0&snpSPL=1&ucodeSPL=200") != NULL);
        ASSERT_EQ(strlen(url), strlen("https://kdsintf.amd.com/vcek/v1/Milan/") + 128 +
                                       strlen("?blSPL=255&teeSPL=0&snpSPL=1&ucodeSPL=200"));
        /* masked CHIP_ID */
        memset(chip, 0, sizeof(chip));
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_MILAN, chip, &tcb, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_UNKNOWN, chip, &tcb, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_MILAN, NULL, &tcb, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_vcek_url(NULL, CP_SNP_GEN_MILAN, chip, NULL, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_vcek_url("", CP_SNP_GEN_MILAN, chip, &tcb, url, sizeof(url)), CP_EINVAL);
}

TEST(chain_and_crl_urls) {
        char url[128];
        static const struct {
                cp_snp_generation g;
                cp_amd_cert_kind k;
                const char *chain, *crl;
        } v[] = {
                { CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain",
                  "https://kdsintf.amd.com/vcek/v1/Milan/crl" },
                { CP_SNP_GEN_GENOA, CP_AMD_CERT_VCEK, "https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain",
                  "https://kdsintf.amd.com/vcek/v1/Genoa/crl" },
                { CP_SNP_GEN_TURIN, CP_AMD_CERT_VCEK, "https://kdsintf.amd.com/vcek/v1/Turin/cert_chain",
                  "https://kdsintf.amd.com/vcek/v1/Turin/crl" },
                { CP_SNP_GEN_MILAN, CP_AMD_CERT_VLEK, "https://kdsintf.amd.com/vlek/v1/Milan/cert_chain",
                  "https://kdsintf.amd.com/vlek/v1/Milan/crl" },
                { CP_SNP_GEN_TURIN, CP_AMD_CERT_VLEK, "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain",
                  "https://kdsintf.amd.com/vlek/v1/Turin/crl" },
        };
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                ASSERT_OK(cp_kds_chain_url(NULL, v[i].g, v[i].k, url, sizeof(url)));
                ASSERT_STREQ(url, v[i].chain);
                ASSERT_OK(cp_kds_crl_url(CP_KDS_DEFAULT_BASE, v[i].g, v[i].k, url, sizeof(url)));
                ASSERT_STREQ(url, v[i].crl);
        }
        ASSERT_OK(cp_kds_crl_url("https://mirror.example///", CP_SNP_GEN_GENOA, CP_AMD_CERT_VLEK, url, sizeof(url)));
        ASSERT_STREQ(url, "https://mirror.example/vlek/v1/Genoa/crl");
        ASSERT_ERR(cp_kds_chain_url(NULL, CP_SNP_GEN_MILAN, CP_AMD_CERT_ASK, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_chain_url(NULL, CP_SNP_GEN_UNKNOWN, CP_AMD_CERT_VCEK, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_crl_url(NULL, (cp_snp_generation) 42, CP_AMD_CERT_VCEK, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_chain_url(NULL, CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, url, 20), CP_ETOOBIG);
        ASSERT_EQ(url[0], '\0');
        ASSERT_ERR(cp_kds_crl_url("/", CP_SNP_GEN_MILAN, CP_AMD_CERT_VCEK, url, sizeof(url)), CP_EINVAL);
}

TEST(vlek_url) {
        char url[256];
        cp_snp_tcb tcb = { .bl = 4, .tee = 0, .snp = 24, .ucode = 217 };
        ASSERT_OK(cp_kds_vlek_url(NULL, CP_SNP_GEN_MILAN, &tcb, url, sizeof(url)));
        ASSERT_STREQ(url, "https://kdsintf.amd.com/vlek/v1/Milan/cert?blSPL=4&teeSPL=0&snpSPL=24&ucodeSPL=217");
        cp_snp_tcb tt = { .fmc = 1, .bl = 2, .tee = 3, .snp = 4, .ucode = 5, .has_fmc = true };
        ASSERT_OK(cp_kds_vlek_url(NULL, CP_SNP_GEN_TURIN, &tt, url, sizeof(url)));
        ASSERT_STREQ(url, "https://kdsintf.amd.com/vlek/v1/Turin/cert?blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5&fmcSPL=1");
        ASSERT_ERR(cp_kds_vlek_url(NULL, CP_SNP_GEN_TURIN, &tcb, url, sizeof(url)), CP_EINVAL);
        ASSERT_ERR(cp_kds_vlek_url(NULL, CP_SNP_GEN_MILAN, &tcb, url, 30), CP_ETOOBIG);
        ASSERT_ERR(cp_kds_vlek_url(NULL, CP_SNP_GEN_MILAN, NULL, url, sizeof(url)), CP_EINVAL);
}
