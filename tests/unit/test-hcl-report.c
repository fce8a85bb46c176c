/* SPDX-License-Identifier: Apache-2.0 */
/* Azure HCL report, runtime-data JSON and REPORT_DATA binding. */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/azure.h"
#include "tests.h"

#define TRUSTEE "snp/confidential-containers__trustee/az-snp-vtpm/"
#define KINVOLK "snp/kinvolk__azure-cvm-tooling/"

typedef struct snp_case {
        const char *hcl;
        const char *snp;      /* the bare report sliced out of it */
        uint32_t version;
        size_t runtime_len;
} snp_case;

static const snp_case snp_cases[] = {
        { TRUSTEE "hcl-report.bin", TRUSTEE "hcl-report.snp-report.bin", 1, 1110 },
        { TRUSTEE "evidence-v0.hcl-report.bin", TRUSTEE "evidence-v0.hcl-report.snp-report.bin", 1, 1110 },
        { TRUSTEE "evidence-v1.hcl-report.bin", TRUSTEE "evidence-v1.hcl-report.snp-report.bin", 1, 1110 },
        { TRUSTEE "evidence-v2.hcl-report.bin", TRUSTEE "evidence-v2.hcl-report.snp-report.bin", 1, 1110 },
        { TRUSTEE "evidence-genoa.hcl-report.bin", TRUSTEE "evidence-genoa.hcl-report.snp-report.bin", 2, 1200 },
        { KINVOLK "hcl-report-snp.bin", KINVOLK "hcl-report-snp.snp-report.bin", 1, 583 },
};

static const char *const tdx_cases[] = {
        "snp/confidential-containers__trustee/az-tdx-vtpm/hcl-report.bin",
        KINVOLK "hcl-report-tdx.bin",
};

static int parse_with(const uint8_t *base, size_t len, size_t off, uint32_t value) {
        uint8_t *b = malloc(len);
        cp_hcl_report r;
        int k;
        ASSERT_TRUE(b);
        memcpy(b, base, len);
        cp_put_le32(b + off, value);
        k = cp_hcl_report_parse(b, len, &r);
        free(b);
        return k;
}

TEST(snp_hcl_reports_parse_and_bind) {
        for (size_t i = 0; i < CP_ELEMENTSOF(snp_cases); i++) {
                size_t len, snp_len;
                uint8_t *data = cp_test_read(snp_cases[i].hcl, &len);
                uint8_t *snp = cp_test_read(snp_cases[i].snp, &snp_len);
                cp_hcl_report r;

                ASSERT_OK(cp_hcl_report_parse(data, len, &r));
                ASSERT_EQ(r.version, snp_cases[i].version);
                ASSERT_EQ(r.report_type, CP_HCL_REPORT_SNP);
                ASSERT_EQ(r.hash_type, CP_HCL_HASH_SHA256);
                ASSERT_EQ(r.request_type, CP_HCL_REQUEST_AK_CERT);
                ASSERT_EQ(r.request_data_version, 1);
                ASSERT_EQ(r.status, 0);
                ASSERT_EQ(r.hw_report_len, CP_HCL_SNP_REPORT_SIZE);
                ASSERT_EQ(snp_len, r.hw_report_len);
                ASSERT_MEMEQ(r.hw_report, snp, snp_len);
                ASSERT_MEMEQ(r.report_data, snp + CP_HCL_SNP_REPORT_DATA_OFFSET, 64);
                ASSERT_EQ(r.runtime_data_len, snp_cases[i].runtime_len);
                ASSERT_EQ(r.report_size, CP_HCL_VARIABLE_DATA_OFFSET + r.runtime_data_len);
                ASSERT_TRUE(r.runtime_data == data + CP_HCL_VARIABLE_DATA_OFFSET);
                ASSERT_STREQ(cp_hcl_report_type_name(r.report_type), "snp");

                ASSERT_OK(cp_hcl_report_check_binding(&r));
                ASSERT_OK(cp_azure_check_binding(r.report_data, CP_HCL_HASH_SHA256, r.runtime_data,
                                                 r.runtime_data_len));
                /* the binding is over the variable data exactly */
                ASSERT_ERR(cp_azure_check_binding(r.report_data, CP_HCL_HASH_SHA256, r.runtime_data,
                                                  r.runtime_data_len + 1),
                           CP_EBINDING);
                ASSERT_ERR(cp_azure_check_binding(r.report_data, CP_HCL_HASH_SHA256, r.runtime_data,
                                                  r.runtime_data_len - 1),
                           CP_EBINDING);
                ASSERT_ERR(cp_azure_check_binding(r.report_data, CP_HCL_HASH_SHA384, r.runtime_data,
                                                  r.runtime_data_len),
                           CP_EBINDING);

                cp_azure_runtime_data *rd = NULL;
                ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
                ASSERT_TRUE(cp_azure_runtime_data_ak(rd) != NULL);
                ASSERT_EQ(EVP_PKEY_get_bits((const EVP_PKEY *) cp_azure_runtime_data_ak(rd)), 2048);
                const uint8_t *n, *e;
                size_t n_len, e_len;
                cp_azure_runtime_data_ak_rsa(rd, &n, &n_len, &e, &e_len);
                ASSERT_EQ(n_len, 256);
                ASSERT_EQ(e_len, 3);
                ASSERT_MEMEQ(e, "\x01\x00\x01", 3);
                const cp_azure_vm_config *vm = cp_azure_runtime_data_vm_config(rd);
                ASSERT_TRUE(vm->present);
                ASSERT_EQ(vm->tpm_enabled, CP_AZURE_FLAG_TRUE);
                ASSERT_EQ(vm->secure_boot, CP_AZURE_FLAG_TRUE);
                ASSERT_EQ(vm->console_enabled, CP_AZURE_FLAG_TRUE);
                ASSERT_TRUE(vm->vm_unique_id && strlen(vm->vm_unique_id) == 36);
                rd = cp_azure_runtime_data_free(rd);
                ASSERT_TRUE(rd == NULL);

                /* one flipped bit anywhere in the runtime data breaks the binding */
                for (size_t j = 0; j < r.runtime_data_len; j += 97) {
                        uint8_t *copy = malloc(len);
                        cp_hcl_report r2;
                        ASSERT_TRUE(copy);
                        memcpy(copy, data, len);
                        copy[CP_HCL_VARIABLE_DATA_OFFSET + j] ^= 0x01;
                        ASSERT_OK(cp_hcl_report_parse(copy, len, &r2));
                        ASSERT_ERR(cp_hcl_report_check_binding(&r2), CP_EBINDING);
                        free(copy);
                }
                /* ... and so does any change of REPORT_DATA, incl. the zero half */
                for (size_t j = 0; j < 64; j++) {
                        cp_hcl_report r2 = r;
                        r2.report_data[j] ^= 0x80;
                        ASSERT_ERR(cp_hcl_report_check_binding(&r2), CP_EBINDING);
                }
                free(snp);
                free(data);
        }
}

TEST(tdx_hcl_reports_parse_and_bind) {
        for (size_t i = 0; i < CP_ELEMENTSOF(tdx_cases); i++) {
                size_t len;
                uint8_t *data = cp_test_read(tdx_cases[i], &len);
                cp_hcl_report r;

                ASSERT_OK(cp_hcl_report_parse(data, len, &r));
                ASSERT_EQ(r.version, 2);
                ASSERT_EQ(r.report_type, CP_HCL_REPORT_TDX);
                ASSERT_STREQ(cp_hcl_report_type_name(r.report_type), "tdx");
                ASSERT_EQ(r.hw_report_len, CP_HCL_TDX_REPORT_SIZE);
                ASSERT_EQ(r.hw_report[0], 0x81); /* REPORTTYPE.TYPE: TDX */
                ASSERT_MEMEQ(r.report_data, data + CP_HCL_HW_REPORT_OFFSET + CP_HCL_TDX_REPORT_DATA_OFFSET, 64);
                ASSERT_OK(cp_hcl_report_check_binding(&r));

                cp_azure_runtime_data *rd = NULL;
                ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
                const EVP_PKEY *ek = cp_azure_runtime_data_ek(rd);
                ASSERT_TRUE(ek != NULL);
                ASSERT_TRUE(cp_azure_runtime_data_ek(rd) == ek); /* built once */
                ASSERT_EQ(EVP_PKEY_get_bits(ek), 2048);
                ASSERT_TRUE(EVP_PKEY_get_id(ek) == EVP_PKEY_RSA);
                ASSERT_EQ(cp_azure_runtime_data_vm_config(rd)->tpm_persisted, CP_AZURE_FLAG_FALSE);
                cp_azure_runtime_data_free(rd);

                /* the 160 bytes after the TDREPORT must be zero */
                ASSERT_ERR(parse_with(data, len, CP_HCL_HW_REPORT_OFFSET + CP_HCL_TDX_REPORT_SIZE + 8, 1), CP_EMBZ);
                free(data);
        }
}

TEST(runtime_data_formats) {
        size_t len;
        uint8_t *data;
        cp_hcl_report r;
        cp_azure_runtime_data *rd = NULL;
        const uint8_t *ud;
        size_t ud_len;

        /* 2023 format: only HCLAkPub with key_ops encrypt, current-time, no user-data */
        data = cp_test_read(KINVOLK "hcl-report-snp.bin", &len);
        ASSERT_EQ(len, 2048);
        ASSERT_OK(cp_hcl_report_parse(data, len, &r));
        ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
        ASSERT_FALSE(cp_azure_runtime_data_ak_can_sign(rd));
        ASSERT_TRUE(cp_azure_runtime_data_ek(rd) == NULL);
        ASSERT_TRUE(cp_azure_runtime_data_vm_config(rd)->has_current_time);
        ASSERT_EQ(cp_azure_runtime_data_vm_config(rd)->current_time, 1678652405);
        ASSERT_EQ(cp_azure_runtime_data_vm_config(rd)->tpm_persisted, CP_AZURE_FLAG_ABSENT);
        ASSERT_TRUE(cp_azure_runtime_data_vm_config(rd)->root_cert_thumbprint == NULL);
        ASSERT_STREQ(cp_azure_runtime_data_vm_config(rd)->vm_unique_id, "BAEFD3E1-184B-4C4C-AB88-0BDAD260505F");
        ASSERT_ERR(cp_azure_runtime_data_user_data(rd, &ud, &ud_len), CP_ENOTFOUND);
        ASSERT_ERR(cp_azure_runtime_data_check_user_data(rd, (const uint8_t *) "", 0), CP_EBINDING);
        rd = cp_azure_runtime_data_free(rd);
        free(data);

        /* Genoa, newer format */
        data = cp_test_read(TRUSTEE "evidence-genoa.hcl-report.bin", &len);
        ASSERT_OK(cp_hcl_report_parse(data, len, &r));
        ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
        ASSERT_TRUE(cp_azure_runtime_data_ak_can_sign(rd));
        ASSERT_EQ(cp_azure_runtime_data_vm_config(rd)->tpm_persisted, CP_AZURE_FLAG_TRUE);
        ASSERT_STREQ(cp_azure_runtime_data_vm_config(rd)->root_cert_thumbprint,
                     "6nZZnYaJc4KqUZ_yvA-mucFdYNouvlPnITnNMXsHl-0");
        ASSERT_OK(cp_azure_runtime_data_user_data(rd, &ud, &ud_len));
        ASSERT_EQ(ud_len, 64);
        ASSERT_TRUE(ud[0] == 0 && ud[63] == 0);
        ASSERT_OK(cp_azure_runtime_data_check_user_data(rd, (const uint8_t *) "", 0));
        rd = cp_azure_runtime_data_free(rd);
        free(data);

        /* Trustee evidence v2: user-data carries the 48-byte report_data the
         * quote's extraData also holds (uppercase hex in the JSON). */
        static const char v2_user_hex[] = "982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a"
                                          "a398f647caa2338748cd0fd9f5f819ef";
        uint8_t expect[48];
        size_t expect_len;
        ASSERT_OK(cp_hex_decode(v2_user_hex, strlen(v2_user_hex), expect, sizeof(expect), &expect_len));
        ASSERT_EQ(expect_len, 48);
        data = cp_test_read(TRUSTEE "evidence-v2.hcl-report.bin", &len);
        ASSERT_OK(cp_hcl_report_parse(data, len, &r));
        ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
        ASSERT_OK(cp_azure_runtime_data_check_user_data(rd, expect, 48));
        ASSERT_ERR(cp_azure_runtime_data_check_user_data(rd, expect, 32), CP_EBINDING);
        expect[47] ^= 1;
        ASSERT_ERR(cp_azure_runtime_data_check_user_data(rd, expect, 48), CP_EBINDING);
        uint8_t too_long[65] = {};
        ASSERT_ERR(cp_azure_runtime_data_check_user_data(rd, too_long, sizeof(too_long)), CP_EBINDING);
        rd = cp_azure_runtime_data_free(rd);
        free(data);

        /* kinvolk var-data.bin: standalone runtime data */
        data = cp_test_read(KINVOLK "var-data.bin", &len);
        ASSERT_OK(cp_azure_runtime_data_parse(data, len, &rd));
        ASSERT_TRUE(cp_azure_runtime_data_ek(rd) != NULL);
        rd = cp_azure_runtime_data_free(rd);
        /* every strict prefix is rejected */
        for (size_t l = 0; l < len; l++)
                ASSERT_FAILS(cp_azure_runtime_data_parse(data, l, &rd));
        ASSERT_TRUE(rd == NULL);
        free(data);
        ASSERT_TRUE(cp_azure_runtime_data_free(NULL) == NULL);
}

TEST(hcl_truncation_every_length) {
        size_t len;
        uint8_t *data = cp_test_read(TRUSTEE "evidence-genoa.hcl-report.bin", &len);
        cp_hcl_report r;
        uint32_t report_size;

        ASSERT_OK(cp_hcl_report_parse(data, len, &r));
        report_size = r.report_size;
        for (size_t l = 0; l < len; l++) {
                uint8_t *copy = malloc(l ? l : 1);
                ASSERT_TRUE(copy);
                memcpy(copy, data, l);
                if (l < report_size)
                        ASSERT_ERR(cp_hcl_report_parse(copy, l, &r), CP_ETRUNC);
                else /* only zero padding removed: still the same report */
                        ASSERT_OK(cp_hcl_report_parse(copy, l, &r));
                free(copy);
        }
        ASSERT_ERR(cp_hcl_report_parse(NULL, 0, &r), CP_ETRUNC);
        ASSERT_ERR(cp_hcl_report_parse(data, len, NULL), CP_EINVAL);
        free(data);
}

TEST(hcl_header_negatives) {
        size_t len;
        uint8_t *data = cp_test_read(TRUSTEE "evidence-v0.hcl-report.bin", &len);
        cp_hcl_report r;

        ASSERT_ERR(parse_with(data, len, 0x00, 0x41434C48), CP_EFORMAT); /* "HLCA" */
        ASSERT_ERR(parse_with(data, len, 0x00, 0), CP_EFORMAT);
        ASSERT_ERR(parse_with(data, len, 0x04, 0), CP_EVERSION);
        ASSERT_ERR(parse_with(data, len, 0x04, 3), CP_EVERSION);
        ASSERT_OK(parse_with(data, len, 0x04, 2));
        ASSERT_ERR(parse_with(data, len, 0x08, 0x92b), CP_EFORMAT);      /* ReportSize */
        ASSERT_ERR(parse_with(data, len, 0x08, 0xa28), CP_EFORMAT);
        ASSERT_ERR(parse_with(data, len, 0x0c, 0), CP_EUNSUPPORTED);     /* request type */
        ASSERT_ERR(parse_with(data, len, 0x0c, 3), CP_EUNSUPPORTED);
        ASSERT_OK(parse_with(data, len, 0x0c, 1));
        ASSERT_ERR(parse_with(data, len, 0x10, 1), CP_EFORMAT);          /* status */
        ASSERT_ERR(parse_with(data, len, 0x14, 1), CP_EMBZ);             /* reserved */
        ASSERT_ERR(parse_with(data, len, 0x1c, 0x80000000u), CP_EMBZ);
        ASSERT_ERR(parse_with(data, len, 0x4c0, 1129), CP_EFORMAT);      /* DataSize */
        ASSERT_ERR(parse_with(data, len, 0x4c0, 0), CP_EFORMAT);
        ASSERT_ERR(parse_with(data, len, 0x4c4, 2), CP_EVERSION);        /* IGVM_REQUEST_DATA version */
        ASSERT_ERR(parse_with(data, len, 0x4c4, 0), CP_EVERSION);
        ASSERT_ERR(parse_with(data, len, 0x4c8, 0), CP_EUNSUPPORTED);    /* report type */
        ASSERT_ERR(parse_with(data, len, 0x4c8, 1), CP_EUNSUPPORTED);
        ASSERT_ERR(parse_with(data, len, 0x4c8, 3), CP_EUNSUPPORTED);
        ASSERT_ERR(parse_with(data, len, 0x4c8, 5), CP_EUNSUPPORTED);
        ASSERT_ERR(parse_with(data, len, 0x4cc, 0), CP_EUNSUPPORTED);    /* hash type */
        ASSERT_ERR(parse_with(data, len, 0x4cc, 4), CP_EUNSUPPORTED);
        ASSERT_ERR(parse_with(data, len, 0x4d0, 1111), CP_EFORMAT);      /* VariableDataSize vs DataSize */
        ASSERT_ERR(parse_with(data, len, 0x4d0, 0xffffffffu), CP_ETOOBIG);
        ASSERT_ERR(parse_with(data, len, 0x4d0, CP_MAX_RUNTIME_DATA + 1), CP_ETOOBIG);

        /* a known but different hash type parses, and the binding then fails */
        uint8_t *copy = malloc(len);
        ASSERT_TRUE(copy);
        memcpy(copy, data, len);
        cp_put_le32(copy + 0x4cc, CP_HCL_HASH_SHA384);
        ASSERT_OK(cp_hcl_report_parse(copy, len, &r));
        ASSERT_EQ(r.hash_type, CP_HCL_HASH_SHA384);
        ASSERT_ERR(cp_hcl_report_check_binding(&r), CP_EBINDING);

        /* consistent sizes that run past the buffer: truncated */
        memcpy(copy, data, len);
        uint32_t big = (uint32_t) (len - CP_HCL_VARIABLE_DATA_OFFSET + 1);
        cp_put_le32(copy + 0x08, CP_HCL_VARIABLE_DATA_OFFSET + big);
        cp_put_le32(copy + 0x4c0, CP_HCL_REQUEST_DATA_FIXED + big);
        cp_put_le32(copy + 0x4d0, big);
        ASSERT_ERR(cp_hcl_report_parse(copy, len, &r), CP_ETRUNC);
        /* exactly up to the end: fine (no padding left) */
        big--;
        cp_put_le32(copy + 0x08, CP_HCL_VARIABLE_DATA_OFFSET + big);
        cp_put_le32(copy + 0x4c0, CP_HCL_REQUEST_DATA_FIXED + big);
        cp_put_le32(copy + 0x4d0, big);
        ASSERT_OK(cp_hcl_report_parse(copy, len, &r));
        ASSERT_EQ(r.runtime_data_len, big);

        /* shorter variable data: the JSON's tail becomes non-zero trailing bytes */
        memcpy(copy, data, len);
        cp_put_le32(copy + 0x08, CP_HCL_VARIABLE_DATA_OFFSET + 1000);
        cp_put_le32(copy + 0x4c0, CP_HCL_REQUEST_DATA_FIXED + 1000);
        cp_put_le32(copy + 0x4d0, 1000);
        ASSERT_ERR(cp_hcl_report_parse(copy, len, &r), CP_ETRAILING);

        /* any non-zero byte in the padding */
        for (size_t off = CP_HCL_VARIABLE_DATA_OFFSET + 1110; off < len; off += 61) {
                memcpy(copy, data, len);
                copy[off] = 0x01;
                ASSERT_ERR(cp_hcl_report_parse(copy, len, &r), CP_ETRAILING);
        }
        memcpy(copy, data, len);
        copy[len - 1] = 0xff;
        ASSERT_ERR(cp_hcl_report_parse(copy, len, &r), CP_ETRAILING);
        free(copy);

        /* too large as a whole */
        uint8_t *huge = calloc(1, CP_MAX_HCL_REPORT + 1);
        ASSERT_TRUE(huge);
        memcpy(huge, data, len);
        ASSERT_OK(cp_hcl_report_parse(huge, CP_MAX_HCL_REPORT, &r));
        ASSERT_ERR(cp_hcl_report_parse(huge, CP_MAX_HCL_REPORT + 1, &r), CP_ETOOBIG);
        free(huge);
        free(data);
}

TEST(binding_hash_types) {
        static const uint8_t doc[] = "{\"keys\":[]}";
        uint8_t rd[64] = {};
        unsigned int dlen;

        ASSERT_EQ(cp_hcl_hash_size(CP_HCL_HASH_SHA256), 32);
        ASSERT_EQ(cp_hcl_hash_size(CP_HCL_HASH_SHA384), 48);
        ASSERT_EQ(cp_hcl_hash_size(CP_HCL_HASH_SHA512), 64);
        ASSERT_EQ(cp_hcl_hash_size(0), 0);

        ASSERT_TRUE(EVP_Digest(doc, sizeof(doc) - 1, rd, &dlen, EVP_sha384(), NULL) == 1);
        ASSERT_OK(cp_azure_check_binding(rd, CP_HCL_HASH_SHA384, doc, sizeof(doc) - 1));
        ASSERT_ERR(cp_azure_check_binding(rd, CP_HCL_HASH_SHA256, doc, sizeof(doc) - 1), CP_EBINDING);
        ASSERT_ERR(cp_azure_check_binding(rd, CP_HCL_HASH_SHA512, doc, sizeof(doc) - 1), CP_EBINDING);
        rd[50] = 1; /* the zero tail must be zero */
        ASSERT_ERR(cp_azure_check_binding(rd, CP_HCL_HASH_SHA384, doc, sizeof(doc) - 1), CP_EBINDING);

        ASSERT_TRUE(EVP_Digest(doc, sizeof(doc) - 1, rd, &dlen, EVP_sha512(), NULL) == 1);
        ASSERT_OK(cp_azure_check_binding(rd, CP_HCL_HASH_SHA512, doc, sizeof(doc) - 1));
        rd[63] ^= 1;
        ASSERT_ERR(cp_azure_check_binding(rd, CP_HCL_HASH_SHA512, doc, sizeof(doc) - 1), CP_EBINDING);

        memset(rd, 0, sizeof(rd));
        ASSERT_TRUE(EVP_Digest("", 0, rd, &dlen, EVP_sha256(), NULL) == 1);
        ASSERT_OK(cp_azure_check_binding(rd, CP_HCL_HASH_SHA256, NULL, 0));
        ASSERT_ERR(cp_azure_check_binding(rd, 0, doc, 1), CP_EUNSUPPORTED);
        ASSERT_ERR(cp_azure_check_binding(rd, 4, doc, 1), CP_EUNSUPPORTED);
        ASSERT_ERR(cp_azure_check_binding(NULL, CP_HCL_HASH_SHA256, doc, 1), CP_EINVAL);
}

/* --- synthetic runtime-data documents --- */

static char *b64u(const uint8_t *p, size_t n) {
        char *s = malloc(cp_b64_encoded_len(n, CP_B64_URL) + 1);
        ASSERT_TRUE(s);
        cp_b64_encode(p, n, CP_B64_URL, s);
        return s;
}

/* An RSA modulus-shaped byte string of the given bit length (top bit set,
 * odd).  Not a real key, but OpenSSL imports public keys without checks. */
static char *modulus_b64(unsigned bits) {
        size_t n = (bits + 7) / 8;
        uint8_t *m = malloc(n);
        ASSERT_TRUE(m);
        for (size_t i = 0; i < n; i++)
                m[i] = (uint8_t) (0x5a ^ (i * 7));
        m[0] = (uint8_t) (0x80 >> ((8 - bits % 8) % 8)) | 1;
        m[n - 1] |= 1;
        char *s = b64u(m, n);
        free(m);
        return s;
}

/* Parses doc from its bytes, and (when it is JSON without duplicate
 * members) from the tree: both must agree on the outcome and the AK. */
static int parse_doc(const char *doc) {
        cp_azure_runtime_data *rd = NULL, *rt = NULL;
        int k = cp_azure_runtime_data_parse((const uint8_t *) doc, strlen(doc), &rd);
        if (k == 0)
                ASSERT_TRUE(cp_azure_runtime_data_ak(rd) != NULL);
        json_error_t jerr;
        json_t *root = json_loads(doc, JSON_REJECT_DUPLICATES, &jerr);
        if (root) {
                int kt = cp_azure_runtime_data_from_json(root, &rt);
                if (kt != k)
                        cp_test_fail(__FILE__, __LINE__, "from bytes %s, from the tree %s: %.80s", cp_err_name(k),
                                     cp_err_name(kt), doc);
                if (k == 0) {
                        const uint8_t *n1, *e1, *n2, *e2;
                        size_t n1l, e1l, n2l, e2l;
                        cp_azure_runtime_data_ak_rsa(rd, &n1, &n1l, &e1, &e1l);
                        cp_azure_runtime_data_ak_rsa(rt, &n2, &n2l, &e2, &e2l);
                        ASSERT_EQ(n1l, n2l);
                        ASSERT_MEMEQ(n1, n2, n1l);
                        ASSERT_EQ(e1l, e2l);
                        ASSERT_MEMEQ(e1, e2, e1l);
                }
                json_decref(root);
        }
        cp_azure_runtime_data_free(rt);
        cp_azure_runtime_data_free(rd);
        return k;
}

static int parse_fmt(const char *fmt, const char *a, const char *b) {
        char *doc = NULL;
        ASSERT_TRUE(asprintf(&doc, fmt, a, b) >= 0);
        int k = parse_doc(doc);
        free(doc);
        return k;
}

/* The synthetic runtime-data documents: the moduli a case can name as "$bits". */
typedef struct rt_moduli {
        unsigned bits[6];
        char *b64[6];
} rt_moduli;

static void rt_moduli_make(rt_moduli *m) {
        static const unsigned bits[] = { 2048, 4096, 1024, 2047, 4097, 3072 };
        for (size_t i = 0; i < 6; i++) {
                m->bits[i] = bits[i];
                m->b64[i] = modulus_b64(bits[i]);
        }
}

static void rt_moduli_free(rt_moduli *m) {
        for (size_t i = 0; i < 6; i++)
                free(m->b64[i]);
}

/* "$2048" names that modulus; anything else stands for itself. */
static const char *rt_arg(const rt_moduli *m, const char *s) {
        if (!s || s[0] != '$')
                return s;
        unsigned bits = (unsigned) strtoul(s + 1, NULL, 10);
        for (size_t i = 0; i < 6; i++)
                if (m->bits[i] == bits)
                        return m->b64[i];
        cp_test_fail(__FILE__, __LINE__, "no %u-bit modulus", bits);
}

typedef struct rt_case {
        const char *name;
        const char *fmt; /* the whole document (a == NULL), or a format of a and b */
        const char *a, *b;
        int want;        /* 0, or the error parsing must give */
} rt_case;

static void check_rt_case(void *ctx, const void *row) {
        const rt_moduli *m = ctx;
        const rt_case *c = row;
        int r = c->a ? parse_fmt(c->fmt, rt_arg(m, c->a), rt_arg(m, c->b)) : parse_doc(c->fmt);
        if (c->want == 0)
                ASSERT_OK(r);
        else
                ASSERT_ERR(r, c->want);
}

#define RT_AK "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"%s\",\"n\":\"%s\"}]}"
#define RT_AK_KEY "{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}"

/* The AK's RSA exponent and modulus. */
static const rt_case rt_ak_cases[] = {
        { "n_2048", RT_AK, "AQAB", "$2048", 0 },
        { "n_3072", RT_AK, "AQAB", "$3072", 0 },
        { "n_4096", RT_AK, "AQAB", "$4096", 0 },
        { "e_3", RT_AK, "Aw", "$2048", 0 },
        { "n_1024", RT_AK, "AQAB", "$1024", CP_EUNSUPPORTED },
        { "n_2047", RT_AK, "AQAB", "$2047", CP_EUNSUPPORTED },
        { "n_4097", RT_AK, "AQAB", "$4097", CP_EUNSUPPORTED },
        { "e_even", RT_AK, "AQAA", "$2048", CP_EFORMAT },
        { "e_1", RT_AK, "AQ", "$2048", CP_EFORMAT },
        { "e_leading_zero", RT_AK, "AAEAAQ", "$2048", CP_EFORMAT },
        { "e_padding", RT_AK, "AQAB=", "$2048", CP_EFORMAT },
        { "e_std_alphabet", RT_AK, "AQ+B", "$2048", CP_EFORMAT },
        { "e_empty", RT_AK, "", "$2048", CP_EFORMAT },
        { "e_12_bytes", RT_AK, "AQABAQABAQABAQAB", "$2048", CP_EUNSUPPORTED },
        { "n_one_byte", RT_AK, "AQAB", "AA", CP_EFORMAT },
        { "n_bad_b64", RT_AK, "AQAB", "A", CP_EFORMAT },
};

/* The keys array and its members.  The EK obeys the RSA rules too; unknown
 * non-RSA keys are skipped, unknown RSA keys must still decode. */
static const rt_case rt_keys_cases[] = {
        { "empty_object", "{}", NULL, NULL, CP_EFORMAT },
        { "keys_object", "{\"keys\":{}}", NULL, NULL, CP_EFORMAT },
        { "keys_empty", "{\"keys\":[]}", NULL, NULL, CP_EFORMAT },
        { "key_number", "{\"keys\":[1]}", NULL, NULL, CP_EFORMAT },
        { "no_kid", "{\"keys\":[{\"kty\":\"RSA\"}]}", NULL, NULL, CP_EFORMAT },
        { "no_kty", "{\"keys\":[{\"kid\":\"HCLAkPub\"}]}", NULL, NULL, CP_EFORMAT },
        { "kid_number", "{\"keys\":[{\"kid\":1,\"kty\":\"RSA\"}]}", NULL, NULL, CP_EFORMAT },
        { "no_e", "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"n\":\"%s\"}]}%s", "$2048", "", CP_EFORMAT },
        { "kty_ec", "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"EC\",\"e\":\"AQAB\",\"n\":\"%s\"}]}%s", "$2048", "",
          CP_EUNSUPPORTED },
        { "duplicate_kid", "{\"keys\":[" RT_AK_KEY "," RT_AK_KEY "]}", "$2048", "$2048", CP_EFORMAT },
        { "duplicate_member",
          "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\",\"n\":\"%s\"}]}", "$2048",
          "$2048", CP_EFORMAT },
        { "no_ak", "{\"keys\":[{\"kid\":\"Other\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}]}%s", "$2048", "",
          CP_EFORMAT },
        { "ek_1024", "{\"keys\":[" RT_AK_KEY ",{\"kid\":\"HCLEkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}]}",
          "$2048", "$1024", CP_EUNSUPPORTED },
        { "unknown_ec_key", "{\"keys\":[" RT_AK_KEY ",{\"kid\":\"X\",\"kty\":\"EC\",\"crv\":\"P-256\"}]}%s", "$2048",
          "", 0 },
        { "unknown_rsa_1024", "{\"keys\":[" RT_AK_KEY ",{\"kid\":\"Y\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}]}",
          "$2048", "$1024", 0 },
        { "unknown_rsa_bad_n",
          "{\"keys\":[" RT_AK_KEY ",{\"kid\":\"Y\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s!\"}]}", "$2048", "$1024",
          CP_EFORMAT },
        { "key_ops_string",
          "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\",\"key_ops\":\"sign\"}]}%s",
          "$2048", "", CP_EFORMAT },
        { "key_ops_number",
          "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\",\"key_ops\":[1]}]}%s",
          "$2048", "", CP_EFORMAT },
};

#define RT_FULL                                                                                   \
        "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\","              \
        "\"future\":{\"a\":[1,2]}}],\"vm-configuration\":{%s},\"new-thing\":null}"
#define RT_UD "{\"keys\":[" RT_AK_KEY "],\"user-data\":%s}"

/* Unknown members anywhere are tolerated; vm-configuration / user-data types. */
static const rt_case rt_member_cases[] = {
        { "unknown_members", RT_FULL, "$2048", "\"secure-boot\":false,\"unknown\":\"x\"", 0 },
        { "secure_boot_string", RT_FULL, "$2048", "\"secure-boot\":\"false\"", CP_EFORMAT },
        { "tpm_enabled_number", RT_FULL, "$2048", "\"tpm-enabled\":1", CP_EFORMAT },
        { "vm_unique_id_number", RT_FULL, "$2048", "\"vmUniqueId\":5", CP_EFORMAT },
        { "thumbprint_array", RT_FULL, "$2048", "\"root-cert-thumbprint\":[]", CP_EFORMAT },
        { "current_time_fraction", RT_FULL, "$2048", "\"current-time\":1.5", CP_EFORMAT },
        { "vm_configuration_array", "{\"keys\":[" RT_AK_KEY "],\"vm-configuration\":[]%s}", "$2048", "",
          CP_EFORMAT },
        { "user_data_hex", RT_UD, "$2048", "\"00ff\"", 0 },
        { "user_data_empty", RT_UD, "$2048", "\"\"", 0 },
        { "user_data_odd", RT_UD, "$2048", "\"0\"", CP_EFORMAT },
        { "user_data_not_hex", RT_UD, "$2048", "\"zz\"", CP_EFORMAT },
        { "user_data_number", RT_UD, "$2048", "12", CP_EFORMAT },
};

/* Not JSON, or not a JSON object. */
static const rt_case rt_json_cases[] = {
        { "empty", "", NULL, NULL, CP_EFORMAT },
        { "array", "[]", NULL, NULL, CP_EFORMAT },
        { "string", "\"keys\"", NULL, NULL, CP_EFORMAT },
        { "trailing_garbage", "{\"keys\":[]} x", NULL, NULL, CP_EFORMAT },
        { "invalid_utf8", "{\"keys\":[\"\xff\"]}", NULL, NULL, CP_EFORMAT },
        { "nul_escape", "{\"keys\":[\"\\u0000\"]}", NULL, NULL, CP_EFORMAT },
        { "second_value", "{\"keys\":[" RT_AK_KEY "]}%s", "$2048", "{}", CP_EFORMAT },
};

/* A modulus with a leading zero octet, and an even one. */
static void rt_modulus_leading_zero_and_even(void) {
        uint8_t m[257];
        m[0] = 0;
        for (size_t i = 1; i < sizeof(m); i++)
                m[i] = 0xc3;
        char *s = b64u(m, sizeof(m));
        ASSERT_ERR(parse_fmt(RT_AK, "AQAB", s), CP_EFORMAT);
        free(s);
        m[256] = 0xc2; /* even modulus */
        s = b64u(m + 1, 256);
        ASSERT_ERR(parse_fmt(RT_AK, "AQAB", s), CP_EFORMAT);
        free(s);
}

static void rt_too_many_keys(const char *n2048) {
        char *doc = NULL, *tmp;
        ASSERT_TRUE(asprintf(&doc, "{\"keys\":[" RT_AK_KEY, n2048) >= 0);
        for (unsigned i = 0; i < CP_MAX_RUNTIME_KEYS; i++) {
                ASSERT_TRUE(asprintf(&tmp, "%s,{\"kid\":\"k%u\",\"kty\":\"oct\"}", doc, i) >= 0);
                free(doc);
                doc = tmp;
        }
        ASSERT_TRUE(asprintf(&tmp, "%s]}", doc) >= 0);
        free(doc);
        ASSERT_ERR(parse_doc(tmp), CP_ETOOBIG);
        free(tmp);
}

/* user-data of 64 bytes is the most there may be. */
static void rt_user_data_limit(const char *n2048) {
        char hex[2 * 65 + 3];
        memset(hex, '0', sizeof(hex) - 1);
        hex[0] = '"';
        hex[2 * 64 + 1] = '"';
        hex[2 * 64 + 2] = 0;
        ASSERT_OK(parse_fmt(RT_UD, n2048, hex)); /* 64 bytes */
        hex[2 * 64 + 1] = hex[2 * 64 + 2] = '0';
        hex[2 * 65 + 1] = '"';
        hex[2 * 65 + 2] = 0;
        ASSERT_ERR(parse_fmt(RT_UD, n2048, hex), CP_ETOOBIG); /* 65 bytes */
}

static void rt_nesting(const char *n2048) {
        char deep[200];
        size_t o = 0;
        o += (size_t) snprintf(deep, sizeof(deep), "{\"x\":");
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH; i++)
                deep[o++] = '[';
        for (unsigned i = 0; i < CP_MAX_JSON_DEPTH; i++)
                deep[o++] = ']';
        deep[o++] = '}';
        deep[o] = 0;
        ASSERT_ERR(parse_doc(deep), CP_EFORMAT);
        /* brackets inside strings do not count */
        char *doc = NULL;
        ASSERT_TRUE(asprintf(&doc,
                             "{\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\","
                             "\"keys\":[" RT_AK_KEY "]}",
                             n2048) >= 0);
        ASSERT_OK(parse_doc(doc));
        free(doc);
}

static void rt_oversized_and_null(void) {
        uint8_t *big = calloc(1, CP_MAX_RUNTIME_DATA + 1);
        cp_azure_runtime_data *rd = NULL;
        ASSERT_TRUE(big);
        ASSERT_ERR(cp_azure_runtime_data_parse(big, CP_MAX_RUNTIME_DATA + 1, &rd), CP_ETOOBIG);
        ASSERT_ERR(cp_azure_runtime_data_parse(big, 1, NULL), CP_EINVAL);
        free(big);
}

TEST(runtime_data_synthetic) {
        rt_moduli m;
        rt_moduli_make(&m);
        const char *n2048 = rt_arg(&m, "$2048");

        TEST_TABLE(rt_ak_cases, check_rt_case, &m);
        rt_modulus_leading_zero_and_even();
        TEST_TABLE(rt_keys_cases, check_rt_case, &m);
        rt_too_many_keys(n2048);
        TEST_TABLE(rt_member_cases, check_rt_case, &m);
        rt_user_data_limit(n2048);
        TEST_TABLE(rt_json_cases, check_rt_case, &m);
        rt_nesting(n2048);
        rt_oversized_and_null();

        rt_moduli_free(&m);
}

/* The tree entry point: nesting limit and argument checks. */
TEST(runtime_data_from_json_limits) {
        char *n2048 = modulus_b64(2048), *doc = NULL;
        cp_azure_runtime_data *rd = NULL;
        for (unsigned depth = CP_MAX_JSON_DEPTH - 2; depth <= CP_MAX_JSON_DEPTH + 1; depth++) {
                /* {"keys":[AK], "x": [[[...]]]}: the root object and the array levels */
                char *nest = calloc(2 * depth + 1, 1);
                for (unsigned i = 0; i + 1 < depth; i++) {
                        nest[i] = '[';
                        nest[2 * depth - 3 - i] = ']';
                }
                ASSERT_TRUE(asprintf(&doc, "{\"keys\":[{\"kid\":\"HCLAkPub\",\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":"
                                           "\"%s\"}],\"x\":%s}",
                                     n2048, depth > 1 ? nest : "1") >= 0);
                int k = parse_doc(doc); /* bytes and tree agree at and around the limit */
                if (depth <= CP_MAX_JSON_DEPTH)
                        ASSERT_OK(k);
                else
                        ASSERT_ERR(k, CP_EFORMAT);
                free(doc);
                free(nest);
        }
        ASSERT_ERR(cp_azure_runtime_data_from_json(NULL, &rd), CP_EINVAL);
        json_t *arr = json_array();
        ASSERT_ERR(cp_azure_runtime_data_from_json(arr, &rd), CP_EFORMAT);
        json_decref(arr);
        free(n2048);
}
