/* SPDX-License-Identifier: Apache-2.0 */
/* TPM 2.0 quotes: real Azure vTPM quotes verified with the HCLAkPub key of
 * the matching HCL report, plus synthetic quotes signed with generated keys. */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "basic/cleanup.h"
#include "basic/codec.h"
#include "basic/cursor.h"
#include "basic/limits.h"
#include "confpool/azure.h"
#include "confpool/tpm_quote.h"
#include "tests.h"

#define TRUSTEE "snp/confidential-containers__trustee/az-snp-vtpm/"
#define KINVOLK "snp/kinvolk__azure-cvm-tooling/"

/* One real quote: message, raw signature, 24 SHA-256 PCR values. */
typedef struct real_quote {
        const char *name;
        uint8_t msg[CP_MAX_TPM_ATTEST];
        size_t msg_len;
        uint8_t sig[512];
        size_t sig_len;
        uint8_t pcrs[24][32];
        size_t n_pcrs;
        EVP_PKEY *ak;
} real_quote;

static void hex_into(const char *hex, uint8_t *out, size_t cap, size_t *ret_len) {
        ASSERT_OK(cp_hex_decode(hex, strlen(hex), out, cap, ret_len));
}

static EVP_PKEY *ak_from_hcl(const char *path) {
        size_t len;
        uint8_t *data = cp_test_read(path, &len);
        cp_hcl_report r;
        cp_azure_runtime_data *rd = NULL;

        ASSERT_OK(cp_hcl_report_parse(data, len, &r));
        ASSERT_OK(cp_hcl_report_check_binding(&r));
        ASSERT_OK(cp_azure_runtime_data_parse(r.runtime_data, r.runtime_data_len, &rd));
        EVP_PKEY *k = (EVP_PKEY *) cp_azure_runtime_data_ak(rd);
        ASSERT_TRUE(EVP_PKEY_up_ref(k) == 1);
        cp_azure_runtime_data_free(rd);
        free(data);
        return k;
}

static EVP_PKEY *ak_from_pem(const char *path) {
        size_t len;
        uint8_t *data = cp_test_read(path, &len);
        BIO *bio = BIO_new_mem_buf(data, (int) len);
        ASSERT_TRUE(bio);
        EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        ASSERT_TRUE(k);
        BIO_free(bio);
        free(data);
        return k;
}

static json_t *load_json(const char *path) {
        size_t len;
        uint8_t *data = cp_test_read(path, &len);
        json_error_t err;
        json_t *j = json_loadb((const char *) data, len, 0, &err);
        ASSERT_TRUE(j);
        free(data);
        return j;
}

static void byte_array(const json_t *a, uint8_t *out, size_t cap, size_t *ret_len) {
        size_t i;
        const json_t *v;
        ASSERT_TRUE(json_is_array(a));
        ASSERT_TRUE(json_array_size(a) <= cap);
        json_array_foreach(a, i, v) {
                ASSERT_TRUE(json_is_integer(v));
                out[i] = (uint8_t) json_integer_value(v);
        }
        *ret_len = json_array_size(a);
}

/* Trustee evidence v0 / genoa: {"quote":{"message":[..],"signature":[..],"pcrs":[[..]..]}} */
static void load_v0(real_quote *q, const char *json_path, const char *msg_bin, const char *sig_bin) {
        json_t *j = load_json(json_path);
        const json_t *quote = json_object_get(j, "quote"), *pcrs = json_object_get(quote, "pcrs"), *v;
        size_t i, n, len;

        byte_array(json_object_get(quote, "message"), q->msg, sizeof(q->msg), &q->msg_len);
        byte_array(json_object_get(quote, "signature"), q->sig, sizeof(q->sig), &q->sig_len);
        json_array_foreach(pcrs, i, v) {
                ASSERT_TRUE(i < 24);
                byte_array(v, q->pcrs[i], 32, &n);
                ASSERT_EQ(n, 32);
        }
        q->n_pcrs = json_array_size(pcrs);
        json_decref(j);

        /* the derived .bin files are the same bytes */
        uint8_t *b = cp_test_read(msg_bin, &len);
        ASSERT_EQ(len, q->msg_len);
        ASSERT_MEMEQ(b, q->msg, len);
        free(b);
        b = cp_test_read(sig_bin, &len);
        ASSERT_EQ(len, q->sig_len);
        ASSERT_MEMEQ(b, q->sig, len);
        free(b);
}

/* Trustee evidence v1/v2 ("tpm_quote") and tpm-quote-v1.json: hex strings */
static void load_hex_json(real_quote *q, const char *json_path, const char *member) {
        json_t *j = load_json(json_path);
        const json_t *quote = member ? json_object_get(j, member) : j, *v;
        size_t i, n;

        hex_into(json_string_value(json_object_get(quote, "message")), q->msg, sizeof(q->msg), &q->msg_len);
        hex_into(json_string_value(json_object_get(quote, "signature")), q->sig, sizeof(q->sig), &q->sig_len);
        json_array_foreach(json_object_get(quote, "pcrs"), i, v) {
                ASSERT_TRUE(i < 24);
                hex_into(json_string_value(v), q->pcrs[i], 32, &n);
                ASSERT_EQ(n, 32);
        }
        q->n_pcrs = json_array_size(json_object_get(quote, "pcrs"));
        json_decref(j);
}

/* kinvolk/trustee quote.bin: Rust bincode of {signature: Vec<u8>,
 * message: Vec<u8>, pcrs: Vec<[u8; 32]>} with u64 little-endian lengths. */
static void load_bincode(real_quote *q, const char *path) {
        size_t len;
        uint8_t *data = cp_test_read(path, &len);
        cp_cursor c = cp_cursor_make(data, len);
        uint64_t n;

        ASSERT_OK(cp_cursor_le64(&c, &n));
        ASSERT_TRUE(n <= sizeof(q->sig));
        ASSERT_OK(cp_cursor_bytes(&c, n, q->sig));
        q->sig_len = n;
        ASSERT_OK(cp_cursor_le64(&c, &n));
        ASSERT_TRUE(n <= sizeof(q->msg));
        ASSERT_OK(cp_cursor_bytes(&c, n, q->msg));
        q->msg_len = n;
        ASSERT_OK(cp_cursor_le64(&c, &n));
        ASSERT_TRUE(n <= 24);
        for (uint64_t i = 0; i < n; i++)
                ASSERT_OK(cp_cursor_bytes(&c, 32, q->pcrs[i]));
        q->n_pcrs = n;
        ASSERT_OK(cp_cursor_end(&c, "quote.bin"));
        free(data);
}

static cp_tpm_pcr_bank bank_of(const real_quote *q) {
        cp_tpm_pcr_bank b = { .hash_alg = CP_TPM_ALG_SHA256 };
        for (size_t i = 0; i < q->n_pcrs; i++)
                b.values[i] = q->pcrs[i];
        return b;
}

#define N_REAL 5

/* The five real quotes that verify, each with the AK that signed it and
 * the nonce it was made for. */
static void load_real(real_quote *qs, const uint8_t **nonces, size_t *nonce_lens) {
        static uint8_t v2_nonce[48], genoa_nonce[48];
        size_t n;

        memset(qs, 0, sizeof(*qs) * N_REAL);
        qs[0].name = "evidence-v0";
        load_v0(&qs[0], TRUSTEE "evidence-v0.json", TRUSTEE "evidence-v0.tpm-quote-message.bin",
                TRUSTEE "evidence-v0.tpm-quote-signature.bin");
        qs[0].ak = ak_from_hcl(TRUSTEE "evidence-v0.hcl-report.bin");
        nonces[0] = (const uint8_t *) "challenge";
        nonce_lens[0] = 9;

        qs[1].name = "evidence-v1";
        load_hex_json(&qs[1], TRUSTEE "evidence-v1.json", "tpm_quote");
        qs[1].ak = ak_from_hcl(TRUSTEE "evidence-v1.hcl-report.bin");
        nonces[1] = (const uint8_t *) "challenge";
        nonce_lens[1] = 9;

        /* v2: the nonce is the report_data that the fresh HCL report also
         * carries as user-data */
        qs[2].name = "evidence-v2";
        load_hex_json(&qs[2], TRUSTEE "evidence-v2.json", "tpm_quote");
        qs[2].ak = ak_from_hcl(TRUSTEE "evidence-v2.hcl-report.bin");
        hex_into("982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9a"
                 "a398f647caa2338748cd0fd9f5f819ef",
                 v2_nonce, sizeof(v2_nonce), &n);
        nonces[2] = v2_nonce;
        nonce_lens[2] = n;

        qs[3].name = "evidence-genoa";
        load_v0(&qs[3], TRUSTEE "evidence-genoa.json", TRUSTEE "evidence-genoa.tpm-quote-message.bin",
                TRUSTEE "evidence-genoa.tpm-quote-signature.bin");
        qs[3].ak = ak_from_hcl(TRUSTEE "evidence-genoa.hcl-report.bin");
        hex_into("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
                 "a05475f8b46094de6b64270ea35d950f",
                 genoa_nonce, sizeof(genoa_nonce), &n);
        nonces[3] = genoa_nonce;
        nonce_lens[3] = n;

        qs[4].name = "kinvolk";
        load_bincode(&qs[4], KINVOLK "quote.bin");
        qs[4].ak = ak_from_pem(KINVOLK "akpub.pem");
        nonces[4] = (const uint8_t *) "challenge";
        nonce_lens[4] = 9;
}

static void free_real(real_quote *qs) {
        for (size_t i = 0; i < N_REAL; i++)
                EVP_PKEY_free(qs[i].ak);
}

TEST(real_quotes_verify) {
        real_quote qs[N_REAL];
        const uint8_t *nonces[N_REAL];
        size_t nonce_lens[N_REAL];

        load_real(qs, nonces, nonce_lens);
        for (size_t i = 0; i < N_REAL; i++) {
                cp_tpm_quote q;
                cp_tpm_signature s;
                cp_tpm_pcr_bank bank = bank_of(&qs[i]);

                ASSERT_OK(cp_tpm_quote_parse(qs[i].msg, qs[i].msg_len, &q));
                ASSERT_EQ(q.magic, CP_TPM_GENERATED_VALUE);
                ASSERT_EQ(q.type, CP_TPM_ST_ATTEST_QUOTE);
                ASSERT_EQ(q.qualified_signer_len, 34); /* nameAlg SHA-256 + digest */
                ASSERT_EQ(q.qualified_signer[0], 0x00);
                ASSERT_EQ(q.qualified_signer[1], 0x0b);
                ASSERT_EQ(q.n_selections, 1);
                ASSERT_EQ(q.selections[0].hash_alg, CP_TPM_ALG_SHA256);
                ASSERT_EQ(q.selections[0].size_of_select, 3);
                for (unsigned p = 0; p < 24; p++)
                        ASSERT_TRUE(cp_tpm_pcr_selected(&q.selections[0], p));
                ASSERT_FALSE(cp_tpm_pcr_selected(&q.selections[0], 24));
                ASSERT_EQ(q.pcr_digest_len, 32);
                ASSERT_EQ(q.firmware_version, UINT64_C(0x2020031200120003));
                ASSERT_EQ(qs[i].n_pcrs, 24);
                ASSERT_TRUE(q.attest == qs[i].msg && q.attest_len == qs[i].msg_len);

                /* the evidence carries a bare 256-byte RSASSA signature, not a TPMT_SIGNATURE */
                ASSERT_EQ(qs[i].sig_len, 256);
                ASSERT_FAILS(cp_tpm_signature_parse(qs[i].sig, qs[i].sig_len, &s));
                ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256,
                                                    &s));

                ASSERT_OK(cp_tpm_quote_verify(&q, &s, qs[i].ak, nonces[i], nonce_lens[i], &bank, 1));
                ASSERT_OK(cp_tpm_quote_verify_signature(&q, &s, qs[i].ak));
                ASSERT_OK(cp_tpm_quote_check_nonce(&q, nonces[i], nonce_lens[i]));
                ASSERT_OK(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &bank, 1));

                /* wrong scheme or hash for this AK */
                cp_tpm_signature s2;
                ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len, CP_TPM_ALG_RSAPSS, CP_TPM_ALG_SHA256,
                                                    &s2));
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s2, qs[i].ak), CP_ESIG);
                ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA384,
                                                    &s2));
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s2, qs[i].ak), CP_ESIG);
                /* another quote's AK */
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, qs[(i + 2) % N_REAL].ak), CP_ESIG);
                /* truncated signature */
                ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len - 1, CP_TPM_ALG_RSASSA,
                                                    CP_TPM_ALG_SHA256, &s2));
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s2, qs[i].ak), CP_ESIG);
        }
        free_real(qs);
}

/* The trustee "challenge" quotes whose AK is not in the data parse and
 * their PCR digest matches, but no AK we hold verifies them. */
TEST(real_quotes_without_ak) {
        real_quote qs[N_REAL], other[2];
        const uint8_t *nonces[N_REAL];
        size_t nonce_lens[N_REAL];
        cp_tpm_quote q;
        cp_tpm_signature s;

        load_real(qs, nonces, nonce_lens);
        memset(other, 0, sizeof(other));
        load_hex_json(&other[0], TRUSTEE "tpm-quote-v1.json", NULL);
        load_bincode(&other[1], TRUSTEE "quote.bin");
        ASSERT_EQ(other[0].msg_len, other[1].msg_len);
        ASSERT_MEMEQ(other[0].msg, other[1].msg, other[0].msg_len);
        for (size_t i = 0; i < 2; i++) {
                cp_tpm_pcr_bank bank = bank_of(&other[i]);
                ASSERT_OK(cp_tpm_quote_parse(other[i].msg, other[i].msg_len, &q));
                ASSERT_OK(cp_tpm_quote_check_nonce(&q, (const uint8_t *) "challenge", 9));
                ASSERT_OK(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &bank, 1));
                ASSERT_OK(cp_tpm_signature_from_raw(other[i].sig, other[i].sig_len, CP_TPM_ALG_RSASSA,
                                                    CP_TPM_ALG_SHA256, &s));
                for (size_t k = 0; k < N_REAL; k++)
                        ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, qs[k].ak), CP_ESIG);
        }

        /* tpm-quote.msg: PCRs 0-7 and 14 selected, no PCR values given */
        size_t len, slen;
        uint8_t *msg = cp_test_read(TRUSTEE "tpm-quote.msg", &len);
        uint8_t *sig = cp_test_read(TRUSTEE "tpm-quote.sig", &slen);
        ASSERT_OK(cp_tpm_quote_parse(msg, len, &q));
        ASSERT_EQ(q.n_selections, 1);
        for (unsigned p = 0; p < 24; p++)
                ASSERT_EQ(cp_tpm_pcr_selected(&q.selections[0], p), p < 8 || p == 14);
        ASSERT_OK(cp_tpm_signature_from_raw(sig, slen, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s));
        for (size_t k = 0; k < N_REAL; k++)
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, qs[k].ak), CP_ESIG);
        cp_tpm_pcr_bank empty = { .hash_alg = CP_TPM_ALG_SHA256 };
        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &empty, 1), CP_EINVAL);
        free(msg);
        free(sig);
        free_real(qs);
}

TEST(real_quotes_tampering) {
        real_quote qs[N_REAL];
        const uint8_t *nonces[N_REAL];
        size_t nonce_lens[N_REAL];

        load_real(qs, nonces, nonce_lens);
        for (size_t i = 0; i < N_REAL; i++) {
                cp_tpm_quote q, q2;
                cp_tpm_signature s;
                cp_tpm_pcr_bank bank = bank_of(&qs[i]);
                uint8_t msg[CP_MAX_TPM_ATTEST], sig[512];

                ASSERT_OK(cp_tpm_quote_parse(qs[i].msg, qs[i].msg_len, &q));
                /* every message byte: the mutated quote is rejected by the parser
                 * or fails the signature; the signature alone covers every byte */
                for (size_t j = 0; j < qs[i].msg_len; j++) {
                        memcpy(msg, qs[i].msg, qs[i].msg_len);
                        msg[j] ^= 0x01;
                        ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len, CP_TPM_ALG_RSASSA,
                                                            CP_TPM_ALG_SHA256, &s));
                        int k = cp_tpm_quote_parse(msg, qs[i].msg_len, &q2);
                        if (k == 0)
                                ASSERT_ERR(cp_tpm_quote_verify(&q2, &s, qs[i].ak, nonces[i], nonce_lens[i], &bank, 1),
                                           CP_ESIG);
                        q2 = q;
                        q2.attest = msg;
                        ASSERT_ERR(cp_tpm_quote_verify_signature(&q2, &s, qs[i].ak), CP_ESIG);
                }
                /* every signature byte */
                for (size_t j = 0; j < qs[i].sig_len; j++) {
                        memcpy(sig, qs[i].sig, qs[i].sig_len);
                        sig[j] ^= 0x80;
                        ASSERT_OK(cp_tpm_signature_from_raw(sig, qs[i].sig_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256,
                                                            &s));
                        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, qs[i].ak, nonces[i], nonce_lens[i], &bank, 1),
                                   CP_ESIG);
                }
                ASSERT_OK(cp_tpm_signature_from_raw(qs[i].sig, qs[i].sig_len, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256,
                                                    &s));

                /* wrong nonce: different bytes, shorter, longer, empty */
                uint8_t bad[64];
                memcpy(bad, nonces[i], nonce_lens[i]);
                bad[nonce_lens[i] - 1] ^= 1;
                ASSERT_ERR(cp_tpm_quote_verify(&q, &s, qs[i].ak, bad, nonce_lens[i], &bank, 1), CP_EBINDING);
                bad[0] ^= 1;
                bad[nonce_lens[i] - 1] ^= 1;
                ASSERT_ERR(cp_tpm_quote_check_nonce(&q, bad, nonce_lens[i]), CP_EBINDING);
                ASSERT_ERR(cp_tpm_quote_check_nonce(&q, nonces[i], nonce_lens[i] - 1), CP_EBINDING);
                memcpy(bad, nonces[i], nonce_lens[i]);
                bad[nonce_lens[i]] = 0;
                ASSERT_ERR(cp_tpm_quote_check_nonce(&q, bad, nonce_lens[i] + 1), CP_EBINDING);
                ASSERT_ERR(cp_tpm_quote_check_nonce(&q, NULL, 0), CP_EBINDING);

                /* wrong PCR values: any one PCR changed */
                for (unsigned p = 0; p < 24; p++) {
                        uint8_t v[32];
                        cp_tpm_pcr_bank b2 = bank;
                        memcpy(v, qs[i].pcrs[p], 32);
                        v[p % 32] ^= 0x10;
                        b2.values[p] = v;
                        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, qs[i].ak, nonces[i], nonce_lens[i], &b2, 1),
                                   CP_EBINDING);
                }
                /* swapped order */
                {
                        cp_tpm_pcr_bank b2 = bank;
                        b2.values[0] = bank.values[1];
                        b2.values[1] = bank.values[0];
                        if (memcmp(qs[i].pcrs[0], qs[i].pcrs[1], 32) != 0)
                                ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &b2, 1), CP_EBINDING);
                }
                /* missing value, missing bank, wrong digest algorithm */
                {
                        cp_tpm_pcr_bank b2 = bank;
                        b2.values[23] = NULL;
                        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &b2, 1), CP_EINVAL);
                        b2 = bank;
                        b2.hash_alg = CP_TPM_ALG_SHA384;
                        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &b2, 1), CP_EINVAL);
                        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA384, &bank, 1), CP_EBINDING);
                        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA1, &bank, 1), CP_EUNSUPPORTED);
                        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, qs[i].ak, nonces[i], nonce_lens[i], NULL, 0),
                                   CP_EINVAL);
                }
        }
        free_real(qs);
}

/* --- synthetic quotes --- */

typedef struct wbuf {
        uint8_t b[CP_MAX_TPM_ATTEST + 16];
        size_t n;
} wbuf;

static void w8(wbuf *w, uint8_t v) {
        ASSERT_TRUE(w->n < sizeof(w->b));
        w->b[w->n++] = v;
}
static void wbytes(wbuf *w, const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                w8(w, ((const uint8_t *) p)[i]);
}
static void w16(wbuf *w, uint16_t v) {
        uint8_t b[2];
        cp_put_be16(b, v);
        wbytes(w, b, sizeof(b));
}
static void w32(wbuf *w, uint32_t v) {
        uint8_t b[4];
        cp_put_be32(b, v);
        wbytes(w, b, sizeof(b));
}
static void w64(wbuf *w, uint64_t v) {
        uint8_t b[8];
        cp_put_be64(b, v);
        wbytes(w, b, sizeof(b));
}
static void w2b(wbuf *w, const void *p, size_t n) {
        w16(w, (uint16_t) n);
        wbytes(w, p, n);
}

typedef struct synth_sel {
        uint16_t alg;
        uint8_t size;
        uint8_t bits[4];
} synth_sel;

/* TPMS_ATTEST with the PCR digest computed over the given banks (digest_md). */
static void build_attest(wbuf *w, const uint8_t *nonce, size_t nonce_len, const synth_sel *sels, size_t n_sels,
                         const cp_tpm_pcr_bank *banks, size_t n_banks, const EVP_MD *digest_md) {
        static const uint8_t name[34] = { 0x00, 0x0b, 1, 2, 3 };
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        uint8_t digest[64];
        unsigned dlen;

        w->n = 0;
        w32(w, CP_TPM_GENERATED_VALUE);
        w16(w, CP_TPM_ST_ATTEST_QUOTE);
        w2b(w, name, sizeof(name));
        w2b(w, nonce, nonce_len);
        w64(w, 123456789);  /* clock */
        w32(w, 7);          /* resetCount */
        w32(w, 1);          /* restartCount */
        w8(w, 1);           /* safe */
        w64(w, UINT64_C(0x2020031200120003));
        w32(w, (uint32_t) n_sels);
        ASSERT_TRUE(ctx && EVP_DigestInit_ex(ctx, digest_md, NULL) == 1);
        for (size_t i = 0; i < n_sels; i++) {
                w16(w, sels[i].alg);
                w8(w, sels[i].size);
                wbytes(w, sels[i].bits, sels[i].size);
                const cp_tpm_pcr_bank *bank = NULL;
                for (size_t k = 0; k < n_banks; k++)
                        if (banks[k].hash_alg == sels[i].alg)
                                bank = &banks[k];
                for (unsigned p = 0; p < 24 && p / 8 < sels[i].size; p++)
                        if ((sels[i].bits[p / 8] >> (p % 8)) & 1) {
                                ASSERT_TRUE(bank && bank->values[p]);
                                EVP_DigestUpdate(ctx, bank->values[p], cp_tpm_hash_size(sels[i].alg));
                        }
        }
        ASSERT_TRUE(EVP_DigestFinal_ex(ctx, digest, &dlen) == 1);
        EVP_MD_CTX_free(ctx);
        w2b(w, digest, dlen);
}

static size_t sign(EVP_PKEY *key, const EVP_MD *md, int padding, const uint8_t *msg, size_t len, uint8_t *out,
                   size_t cap) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;
        size_t n = cap;
        ASSERT_TRUE(ctx && EVP_DigestSignInit(ctx, &pctx, md, NULL, key) == 1);
        if (padding) {
                ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1);
                if (padding == RSA_PKCS1_PSS_PADDING)
                        ASSERT_TRUE(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1);
        }
        ASSERT_TRUE(EVP_DigestSign(ctx, out, &n, msg, len) == 1);
        EVP_MD_CTX_free(ctx);
        return n;
}

static EVP_PKEY *rsa_key(unsigned bits) {
        EVP_PKEY *k = EVP_RSA_gen(bits);
        ASSERT_TRUE(k);
        return k;
}

static EVP_PKEY *ec_key(const char *curve) {
        EVP_PKEY *k = EVP_EC_gen(curve);
        ASSERT_TRUE(k);
        return k;
}

/* A TPMT_SIGNATURE for an RSA signature. */
static void tpmt_rsa(wbuf *w, uint16_t scheme, uint16_t hash, const uint8_t *sig, size_t n) {
        w->n = 0;
        w16(w, scheme);
        w16(w, hash);
        w2b(w, sig, n);
}

/* A TPMT_SIGNATURE for an ECDSA signature (DER from OpenSSL -> r, s). */
static void tpmt_ecdsa(wbuf *w, uint16_t hash, const uint8_t *der, size_t n, size_t field) {
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long) n);
        uint8_t r[66], s[66];
        ASSERT_TRUE(es);
        ASSERT_TRUE(BN_bn2binpad(ECDSA_SIG_get0_r(es), r, (int) field) == (int) field);
        ASSERT_TRUE(BN_bn2binpad(ECDSA_SIG_get0_s(es), s, (int) field) == (int) field);
        ECDSA_SIG_free(es);
        w->n = 0;
        w16(w, CP_TPM_ALG_ECDSA);
        w16(w, hash);
        w2b(w, r, field);
        w2b(w, s, field);
}

static uint8_t pcr256[24][32], pcr1[24][20], pcr384[24][48];

static void fill_pcrs(cp_tpm_pcr_bank *b256, cp_tpm_pcr_bank *b1, cp_tpm_pcr_bank *b384) {
        *b256 = (cp_tpm_pcr_bank) { .hash_alg = CP_TPM_ALG_SHA256 };
        *b1 = (cp_tpm_pcr_bank) { .hash_alg = CP_TPM_ALG_SHA1 };
        *b384 = (cp_tpm_pcr_bank) { .hash_alg = CP_TPM_ALG_SHA384 };
        for (unsigned p = 0; p < 24; p++) {
                memset(pcr256[p], 0x30 + p, 32);
                memset(pcr1[p], 0x60 + p, 20);
                memset(pcr384[p], 0x90 + p, 48);
                b256->values[p] = pcr256[p];
                b1->values[p] = pcr1[p];
                b384->values[p] = pcr384[p];
        }
}

/* Copies of banks with only the PCRs the selections cover (a caller must
 * not supply values the quote does not cover). */
static void keep_selected(const cp_tpm_pcr_bank *banks, size_t nb, const synth_sel *sels, size_t ns,
                          cp_tpm_pcr_bank *out) {
        for (size_t b = 0; b < nb; b++) {
                out[b] = banks[b];
                const synth_sel *sel = NULL;
                for (size_t i = 0; i < ns; i++)
                        if (sels[i].alg == banks[b].hash_alg)
                                sel = &sels[i];
                for (unsigned p = 0; p < 24; p++)
                        if (!sel || p / 8 >= sel->size || !(sel->bits[p / 8] & (1u << (p % 8))))
                                out[b].values[p] = NULL;
        }
}

TEST(synthetic_rsassa_and_pss) {
        cp_tpm_pcr_bank all[3], banks[3];
        fill_pcrs(&all[0], &all[1], &all[2]);
        const synth_sel sels[] = {
                { CP_TPM_ALG_SHA1, 3, { 0x01, 0x00, 0x80 } },          /* PCR 0, 23 */
                { CP_TPM_ALG_SHA256, 3, { 0x91, 0x08, 0x00 } },        /* PCR 0, 4, 7, 11 */
                { CP_TPM_ALG_SHA384, 4, { 0x00, 0x40, 0x00, 0x00 } },  /* PCR 14 */
        };
        static const uint8_t nonce[32] = { 0xde, 0xad, 0xbe, 0xef };
        keep_selected(all, 3, sels, 3, banks);
        EVP_PKEY *key = rsa_key(2048), *key3072 = rsa_key(3072), *small = rsa_key(1024), *ec = ec_key("P-256");
        wbuf att, tsig;
        uint8_t sig[512];
        size_t n;
        cp_tpm_quote q;
        cp_tpm_signature s;

        /* RSASSA SHA-256 */
        build_attest(&att, nonce, sizeof(nonce), sels, 3, banks, 3, EVP_sha256());
        n = sign(key, EVP_sha256(), RSA_PKCS1_PADDING, att.b, att.n, sig, sizeof(sig));
        tpmt_rsa(&tsig, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, sig, n);
        ASSERT_OK(cp_tpm_quote_parse(att.b, att.n, &q));
        ASSERT_EQ(q.n_selections, 3);
        ASSERT_EQ(q.clock, 123456789);
        ASSERT_EQ(q.reset_count, 7);
        ASSERT_EQ(q.restart_count, 1);
        ASSERT_TRUE(q.safe);
        ASSERT_OK(cp_tpm_signature_parse(tsig.b, tsig.n, &s));
        ASSERT_EQ(s.sig_alg, CP_TPM_ALG_RSASSA);
        ASSERT_EQ(s.sig_len, 256);
        ASSERT_OK(cp_tpm_quote_verify(&q, &s, key, nonce, sizeof(nonce), banks, 3));
        /* banks may come in any order; the quote's selection order decides */
        cp_tpm_pcr_bank rev[3] = { banks[2], banks[0], banks[1] };
        ASSERT_OK(cp_tpm_quote_verify(&q, &s, key, nonce, sizeof(nonce), rev, 3));
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, key, nonce, sizeof(nonce), banks, 2), CP_EINVAL);
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, key3072, nonce, sizeof(nonce), banks, 3), CP_ESIG);
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, ec, nonce, sizeof(nonce), banks, 3), CP_ESIG);
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, key, nonce, 31, banks, 3), CP_EBINDING);
        {
                /* a supplied value the quote does not cover is refused, as is a wrong selected one */
                uint8_t other[48] = { 1 };
                cp_tpm_pcr_bank b[3] = { banks[0], banks[1], banks[2] };
                b[0].values[1] = other;  /* SHA-256 PCR 1: not selected */
                ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, b, 3), CP_EBINDING);
                ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, all, 3), CP_EBINDING);
                b[0].values[1] = NULL;
                ASSERT_OK(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, b, 3));
                b[1].values[23] = other; /* SHA-1 PCR 23: selected */
                ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, b, 3), CP_EBINDING);
        }
        /* raw and marshalled give the same result */
        ASSERT_OK(cp_tpm_signature_from_raw(sig, n, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s));
        ASSERT_OK(cp_tpm_quote_verify(&q, &s, key, nonce, sizeof(nonce), banks, 3));

        /* RSAPSS SHA-384 with a 3072-bit key, PCR digest in SHA-384 */
        build_attest(&att, nonce, 0, sels + 1, 1, all, 3, EVP_sha384());
        cp_tpm_pcr_bank only256[1];
        keep_selected(all, 1, sels + 1, 1, only256);
        n = sign(key3072, EVP_sha384(), RSA_PKCS1_PSS_PADDING, att.b, att.n, sig, sizeof(sig));
        tpmt_rsa(&tsig, CP_TPM_ALG_RSAPSS, CP_TPM_ALG_SHA384, sig, n);
        ASSERT_OK(cp_tpm_quote_parse(att.b, att.n, &q));
        ASSERT_EQ(q.extra_data_len, 0);
        ASSERT_OK(cp_tpm_signature_parse(tsig.b, tsig.n, &s));
        /* a quote without a nonce proves no freshness: the full verify refuses it */
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, key3072, NULL, 0, only256, 1), CP_EINVAL);
        ASSERT_OK(cp_tpm_quote_verify_signature(&q, &s, key3072));
        ASSERT_OK(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA384, only256, 1));
        ASSERT_ERR(cp_tpm_quote_verify(&q, &s, key3072, nonce, 1, only256, 1), CP_EBINDING);
        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, only256, 1), CP_EBINDING);
        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA384, banks, 3), CP_EBINDING);
        s.sig_alg = CP_TPM_ALG_RSASSA;
        ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, key3072), CP_ESIG);

        /* keys below 2048 bits are refused even when the signature is right */
        n = sign(small, EVP_sha256(), RSA_PKCS1_PADDING, att.b, att.n, sig, sizeof(sig));
        ASSERT_OK(cp_tpm_signature_from_raw(sig, n, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s));
        ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, small), CP_EUNSUPPORTED);

        EVP_PKEY_free(key);
        EVP_PKEY_free(key3072);
        EVP_PKEY_free(small);
        EVP_PKEY_free(ec);
}

TEST(synthetic_ecdsa) {
        cp_tpm_pcr_bank banks[3];
        fill_pcrs(&banks[0], &banks[1], &banks[2]);
        const synth_sel sel = { CP_TPM_ALG_SHA256, 3, { 0xff, 0xff, 0xff } };
        static const uint8_t nonce[20] = "nonce-for-ecdsa-AK!";
        static const struct {
                const char *curve;
                size_t field;
                uint16_t hash;
        } cases[] = {
                { "P-256", 32, CP_TPM_ALG_SHA256 },
                { "P-384", 48, CP_TPM_ALG_SHA384 },
        };

        for (size_t c = 0; c < CP_ELEMENTSOF(cases); c++) {
                EVP_PKEY *key = ec_key(cases[c].curve), *other = ec_key(cases[c].curve), *rsa = rsa_key(2048);
                const EVP_MD *md = cases[c].hash == CP_TPM_ALG_SHA256 ? EVP_sha256() : EVP_sha384();
                wbuf att, tsig;
                uint8_t der[200];
                size_t n;
                cp_tpm_quote q;
                cp_tpm_signature s;

                build_attest(&att, nonce, sizeof(nonce), &sel, 1, banks, 3, md);
                n = sign(key, md, 0, att.b, att.n, der, sizeof(der));
                tpmt_ecdsa(&tsig, cases[c].hash, der, n, cases[c].field);
                ASSERT_OK(cp_tpm_quote_parse(att.b, att.n, &q));
                ASSERT_OK(cp_tpm_signature_parse(tsig.b, tsig.n, &s));
                ASSERT_EQ(s.sig_alg, CP_TPM_ALG_ECDSA);
                ASSERT_EQ(s.ecdsa_r_len, cases[c].field);
                ASSERT_OK(cp_tpm_quote_verify(&q, &s, key, nonce, sizeof(nonce), banks, 1));
                ASSERT_ERR(cp_tpm_quote_verify(&q, &s, other, nonce, sizeof(nonce), banks, 1), CP_ESIG);
                ASSERT_ERR(cp_tpm_quote_verify(&q, &s, rsa, nonce, sizeof(nonce), banks, 1), CP_ESIG);
                /* flip each byte of the marshalled signature's r and s */
                for (size_t j = 4; j < tsig.n; j++) {
                        wbuf t2 = tsig;
                        cp_tpm_signature s2;
                        t2.b[j] ^= 0x04;
                        int k = cp_tpm_signature_parse(t2.b, t2.n, &s2);
                        if (k == 0)
                                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s2, key), CP_ESIG);
                }
                /* hash mismatch */
                s.hash_alg = cases[c].hash == CP_TPM_ALG_SHA256 ? CP_TPM_ALG_SHA384 : CP_TPM_ALG_SHA256;
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, key), CP_ESIG);
                /* the RSA schemes do not apply to an EC key */
                ASSERT_OK(cp_tpm_signature_from_raw(der, n, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s));
                ASSERT_ERR(cp_tpm_quote_verify_signature(&q, &s, key), CP_ESIG);
                EVP_PKEY_free(key);
                EVP_PKEY_free(other);
                EVP_PKEY_free(rsa);
        }
        cp_tpm_signature s;
        ASSERT_ERR(cp_tpm_signature_from_raw(nonce, sizeof(nonce), CP_TPM_ALG_ECDSA, CP_TPM_ALG_SHA256, &s),
                   CP_EUNSUPPORTED);
        ASSERT_ERR(cp_tpm_signature_from_raw(nonce, sizeof(nonce), CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA1, &s),
                   CP_EUNSUPPORTED);
        ASSERT_ERR(cp_tpm_signature_from_raw(nonce, 0, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s), CP_EFORMAT);
}

/* --- parser negatives --- */

/* Offsets of the fields in the Genoa quote the mutations start from. */
enum {
        QO_NAME = 6,
        QO_EXTRA = QO_NAME + 2 + 34,
        QO_CLOCK = QO_EXTRA + 2 + 48,
        QO_SAFE = QO_CLOCK + 16,
        QO_COUNT = QO_SAFE + 1 + 8,
        QO_SEL = QO_COUNT + 4,
        QO_DIGEST = QO_SEL + 2 + 1 + 3,
};

typedef struct quote_mut {
        const char *name;
        size_t off;
        unsigned width; /* 1: a byte, 2: a big-endian 16-bit value */
        uint16_t value;
        int want;       /* the error parsing must give, or 0 for any failure */
} quote_mut;

static const quote_mut quote_muts[] = {
        { "magic_first", 0, 1, 0xfe, CP_EFORMAT },
        { "magic_last", 3, 1, 0x48, CP_EFORMAT },
        { "type_certify", 4, 2, 0x8014, CP_EFORMAT },       /* TPM_ST_ATTEST_CERTIFY */
        { "type_command_audit", 4, 2, 0x8017, CP_EFORMAT }, /* TPM_ST_ATTEST_COMMAND_AUDIT */
        { "name_67", QO_NAME, 2, 67, CP_EFORMAT },          /* name > TPMU_NAME */
        { "name_ffff", QO_NAME, 2, 0xffff, CP_EFORMAT },
        { "name_35", QO_NAME, 2, 35, 0 },                   /* shifts every later field */
        { "name_33", QO_NAME, 2, 33, 0 },
        { "extra_65", QO_EXTRA, 2, 65, CP_EFORMAT },        /* extraData > TPMU_HA */
        { "extra_64", QO_EXTRA, 2, 64, 0 },
        { "extra_47", QO_EXTRA, 2, 47, 0 },
        { "safe_2", QO_SAFE, 1, 2, CP_EFORMAT },
        { "banks_9", QO_COUNT + 3, 1, 9, CP_EUNSUPPORTED }, /* too many banks */
        { "banks_high", QO_COUNT, 1, 0x80, CP_EUNSUPPORTED },
        { "banks_2", QO_COUNT + 3, 1, 2, CP_EUNSUPPORTED }, /* digest size read as a bank hash */
        { "banks_0", QO_COUNT + 3, 1, 0, CP_ETRAILING },    /* selection read as an 11-byte digest */
        { "bank_hash", QO_SEL, 2, 0x0012, CP_EUNSUPPORTED }, /* unknown bank hash */
        { "size_of_select_5", QO_SEL + 2, 1, 5, CP_EUNSUPPORTED },
        { "digest_33", QO_DIGEST, 2, 33, CP_ETRUNC },
        { "digest_65", QO_DIGEST, 2, 65, CP_EFORMAT },
        { "digest_31", QO_DIGEST, 2, 31, CP_ETRAILING },
};

typedef struct quote_bytes {
        const uint8_t *b;
        size_t n;
} quote_bytes;

static void check_quote_mut(void *ctx, const void *row) {
        const quote_bytes *orig = ctx;
        const quote_mut *m = row;
        uint8_t b[CP_MAX_TPM_ATTEST + 1];
        cp_tpm_quote q;
        memcpy(b, orig->b, orig->n);
        if (m->width == 2)
                cp_put_be16(b + m->off, m->value);
        else
                b[m->off] = (uint8_t) m->value;
        if (m->want)
                ASSERT_ERR(cp_tpm_quote_parse(b, orig->n, &q), m->want);
        else
                ASSERT_FAILS(cp_tpm_quote_parse(b, orig->n, &q));
}

static void quote_truncations(const uint8_t *orig, size_t len) {
        cp_tpm_quote q;
        for (size_t l = 0; l < len; l++) {
                uint8_t *t = malloc(l ? l : 1);
                ASSERT_TRUE(t);
                memcpy(t, orig, l);
                ASSERT_ERR(cp_tpm_quote_parse(t, l, &q), CP_ETRUNC);
                free(t);
        }
        ASSERT_ERR(cp_tpm_quote_parse(NULL, 0, &q), CP_ETRUNC);
        ASSERT_ERR(cp_tpm_quote_parse(orig, len, NULL), CP_EINVAL);
}

static void quote_trailing(const uint8_t *orig, size_t len) {
        uint8_t b[CP_MAX_TPM_ATTEST + 1];
        cp_tpm_quote q;
        memcpy(b, orig, len);
        b[len] = 0;
        ASSERT_ERR(cp_tpm_quote_parse(b, len + 1, &q), CP_ETRAILING);
        ASSERT_ERR(cp_tpm_quote_parse(b, CP_MAX_TPM_ATTEST + 1, &q), CP_ETOOBIG);
}

/* Hand-built quotes: a fixed header, then these selections and an empty digest. */
typedef struct quote_sels {
        const char *name;
        uint32_t n_sels;
        synth_sel sels[2];
        int want;                              /* 0, or the error parsing must give */
        void (*then)(const cp_tpm_quote *q); /* more checks on a parsed one */
} quote_sels;

static void size4_selects_pcr0_but_empty_digest(const cp_tpm_quote *q) {
        ASSERT_EQ(q->selections[0].size_of_select, 4);
        ASSERT_TRUE(cp_tpm_pcr_selected(&q->selections[0], 0));
        /* ... but an empty pcrDigest never matches */
        cp_tpm_pcr_bank bk = { .hash_alg = CP_TPM_ALG_SHA256 };
        uint8_t z[32] = {};
        bk.values[0] = z;
        ASSERT_ERR(cp_tpm_quote_check_pcrs(q, CP_TPM_ALG_SHA256, &bk, 1), CP_EBINDING);
}

static void no_selections(const cp_tpm_quote *q) {
        ASSERT_EQ(q->n_selections, 0);
}

static const quote_sels quote_sels_cases[] = {
        { "pcr_24", 1, { { CP_TPM_ALG_SHA256, 4, { 0, 0, 0, 0x01 } } }, CP_EUNSUPPORTED, NULL },
        /* sizeofSelect 4 without high bits, empty digest: fine */
        { "size_of_select_4", 1, { { CP_TPM_ALG_SHA256, 4, { 0x01, 0, 0, 0 } } }, 0,
          size4_selects_pcr0_but_empty_digest },
        { "duplicate_bank", 2,
          { { CP_TPM_ALG_SHA256, 3, { 0x01, 0, 0 } }, { CP_TPM_ALG_SHA256, 3, { 0x02, 0, 0 } } }, CP_EFORMAT,
          NULL },
        { "no_selection", 0, {}, 0, no_selections },
};

static void quote_sels_header(wbuf *w) {
        w->n = 0;
        w32(w, CP_TPM_GENERATED_VALUE);
        w16(w, CP_TPM_ST_ATTEST_QUOTE);
        w16(w, 0);
        w16(w, 0);
        w64(w, 0);
        w32(w, 0);
        w32(w, 0);
        w8(w, 0);
        w64(w, 0);
}

/* ctx: the header, from quote_sels_header */
static void check_quote_sels(void *ctx, const void *row) {
        const quote_sels *c = row;
        wbuf w = *(const wbuf *) ctx;
        cp_tpm_quote q;
        w32(&w, c->n_sels);
        for (uint32_t i = 0; i < c->n_sels; i++) {
                w16(&w, c->sels[i].alg);
                w8(&w, c->sels[i].size);
                for (unsigned k = 0; k < c->sels[i].size; k++)
                        w8(&w, c->sels[i].bits[k]);
        }
        w16(&w, 0);
        if (c->want) {
                ASSERT_ERR(cp_tpm_quote_parse(w.b, w.n, &q), c->want);
                return;
        }
        ASSERT_OK(cp_tpm_quote_parse(w.b, w.n, &q));
        c->then(&q);
}

TEST(quote_parse_negatives) {
        size_t len;
        uint8_t *orig = cp_test_read(TRUSTEE "evidence-genoa.tpm-quote-message.bin", &len);
        cp_tpm_quote q;

        ASSERT_OK(cp_tpm_quote_parse(orig, len, &q));
        ASSERT_EQ(QO_DIGEST + 2 + 32, len);
        quote_truncations(orig, len);
        quote_bytes ob = { orig, len };
        TEST_TABLE(quote_muts, check_quote_mut, &ob);
        quote_trailing(orig, len);
        wbuf header;
        quote_sels_header(&header);
        TEST_TABLE(quote_sels_cases, check_quote_sels, &header);
        free(orig);
}

/* RSA signatures a parser refuses, made by tpmt_rsa. */
typedef struct rsa_sig_case {
        const char *name;
        uint16_t scheme, hash;
        size_t sig_len;
        int want;
} rsa_sig_case;

static const rsa_sig_case rsa_sig_cases[] = {
        { "scheme_rsa", 0x0001 /* TPM_ALG_RSA */, CP_TPM_ALG_SHA256, 256, CP_EUNSUPPORTED },
        { "scheme_null", CP_TPM_ALG_NULL, CP_TPM_ALG_SHA256, 256, CP_EUNSUPPORTED },
        { "scheme_ecdaa", 0x001a /* ECDAA */, CP_TPM_ALG_SHA256, 256, CP_EUNSUPPORTED },
        { "hash_sha1", CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA1, 256, CP_EUNSUPPORTED },
        { "hash_sm3", CP_TPM_ALG_RSAPSS, 0x0012 /* SM3 */, 256, CP_EUNSUPPORTED },
        { "empty", CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA512, 0, CP_EFORMAT },
};

static void check_rsa_sig_case(void *ctx, const void *row) {
        const rsa_sig_case *c = row;
        const uint8_t *sig = ctx;
        wbuf w;
        cp_tpm_signature s;
        tpmt_rsa(&w, c->scheme, c->hash, sig, c->sig_len);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n, &s), c->want);
}

/* A 256-byte RSASSA signature (ctx) whose size field says otherwise. */
typedef struct rsa_size_case {
        const char *name;
        uint16_t size;
        int want;
} rsa_size_case;

static const rsa_size_case rsa_size_cases[] = {
        { "size_513", 513, CP_EFORMAT },
        { "size_257", 257, CP_ETRUNC },
        { "size_255", 255, CP_ETRAILING },
};

static void check_rsa_size_case(void *ctx, const void *row) {
        const rsa_size_case *c = row;
        wbuf w = *(const wbuf *) ctx;
        cp_tpm_signature s;
        cp_put_be16(w.b + 4, c->size);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n, &s), c->want);
}

TEST(signature_parse_negatives) {
        uint8_t sig[256];
        wbuf w;
        cp_tpm_signature s;

        memset(sig, 0x5a, sizeof(sig));
        tpmt_rsa(&w, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, sig, sizeof(sig));
        ASSERT_OK(cp_tpm_signature_parse(w.b, w.n, &s));
        ASSERT_EQ(s.hash_alg, CP_TPM_ALG_SHA256);
        ASSERT_TRUE(s.sig == w.b + 6);
        for (size_t l = 0; l < w.n; l++)
                ASSERT_ERR(cp_tpm_signature_parse(w.b, l, &s), CP_ETRUNC);
        w.b[w.n] = 0;
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n + 1, &s), CP_ETRAILING);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, CP_MAX_TPM_SIGNATURE + 1, &s), CP_ETOOBIG);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n, NULL), CP_EINVAL);

        TEST_TABLE(rsa_sig_cases, check_rsa_sig_case, sig);
        tpmt_rsa(&w, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, sig, sizeof(sig));
        TEST_TABLE(rsa_size_cases, check_rsa_size_case, &w);

        /* ECDSA */
        w.n = 0;
        w16(&w, CP_TPM_ALG_ECDSA);
        w16(&w, CP_TPM_ALG_SHA384);
        w2b(&w, sig, 48);
        w2b(&w, sig, 48);
        ASSERT_OK(cp_tpm_signature_parse(w.b, w.n, &s));
        ASSERT_EQ(s.ecdsa_s_len, 48);
        for (size_t l = 0; l < w.n; l++)
                ASSERT_ERR(cp_tpm_signature_parse(w.b, l, &s), CP_ETRUNC);
        cp_put_be16(w.b + 4, 67);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n, &s), CP_EFORMAT);
        w.n = 0;
        w16(&w, CP_TPM_ALG_ECDSA);
        w16(&w, CP_TPM_ALG_SHA384);
        w2b(&w, sig, 0);
        w2b(&w, sig, 48);
        ASSERT_ERR(cp_tpm_signature_parse(w.b, w.n, &s), CP_EFORMAT);
}

/* A quote selecting no PCRs, or only some, must not vouch for the values a
 * caller supplies beyond them. */
TEST(quote_must_cover_supplied_pcrs) {
        cp_tpm_pcr_bank all[3];
        fill_pcrs(&all[0], &all[1], &all[2]);
        static const uint8_t nonce[8] = "freshnes";
        wbuf att;
        cp_tpm_quote q;
        build_attest(&att, nonce, sizeof(nonce), NULL, 0, all, 3, EVP_sha256());
        ASSERT_OK(cp_tpm_quote_parse(att.b, att.n, &q));
        ASSERT_EQ(q.n_selections, 0);
        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, all, 1), CP_EBINDING);
        const synth_sel pcr0 = { CP_TPM_ALG_SHA256, 3, { 0x01, 0x00, 0x00 } };
        build_attest(&att, nonce, sizeof(nonce), &pcr0, 1, all, 3, EVP_sha256());
        ASSERT_OK(cp_tpm_quote_parse(att.b, att.n, &q));
        ASSERT_ERR(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, all, 1), CP_EBINDING);
        cp_tpm_pcr_bank just0 = { .hash_alg = CP_TPM_ALG_SHA256 };
        just0.values[0] = all[0].values[0];
        ASSERT_OK(cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &just0, 1));
}
