/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz TPMS_ATTEST / TPMT_SIGNATURE parsing and quote verification.
 * Input: u8 flags (bit 0: signature is a marshalled TPMT_SIGNATURE, else a
 * raw RSASSA/SHA-256 signature), u16 big-endian TPMS_ATTEST length, the
 * TPMS_ATTEST, then the signature.  Verification uses a fixed RSA AK (the
 * AK of kinvolk/azure-cvm-tooling akpub.pem), so its real quote reaches
 * the nonce and PCR checks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "basic/cursor.h"
#include "confpool/tpm_quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ak_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAh/zPnAAAQVXPyGWeKFj0\n"
        "UmbmtufZK7yeoeLZn0GbA0VVyjh+BPybG/ZrsgXFF7aQsOyaW2OLaKeeFzXqy6v3\n"
        "kCZRONtxLOXWlTSK2ytRrXvzJnjF86gqD4z9VkJ5GyWhPNI4P67+eJKu8iaHmSrP\n"
        "WKAVJbJ9+YaZwP48E3Q0wQ1rZjRT8VVJNrjCAT0gRivoEqN5GZMrwIeCjddvs13/\n"
        "A4pBc6+Na7ojQ8ljmF6I/dV9dvJWi/GsQXNgjjSjw2SgYdyuZts7syyuKx42idCJ\n"
        "qxJb6Zmmjb6VWfoOo/cr5ZvjSeQFaBEVuAgP47fYLlhVjIQddKM/IDxW6fovr8OO\n"
        "YwIDAQAB\n"
        "-----END PUBLIC KEY-----\n";

static EVP_PKEY *ak(void) {
        static EVP_PKEY *key;
        if (!key) {
                BIO *bio = BIO_new_mem_buf(ak_pem, (int) sizeof(ak_pem) - 1);
                if (bio)
                        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
                BIO_free(bio);
        }
        return key;
}

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cp_cursor c = cp_cursor_make(data, size);
        const uint8_t *attest, *sig;
        uint8_t flags;
        uint16_t alen;
        size_t slen;
        cp_tpm_quote q;
        cp_tpm_signature s;
        static uint8_t zero[32];
        cp_tpm_pcr_bank bank = { .hash_alg = CP_TPM_ALG_SHA256 };

        if (cp_cursor_u8(&c, &flags) < 0 || cp_cursor_be16(&c, &alen) < 0 || cp_cursor_ptr(&c, alen, &attest) < 0)
                return 0;
        slen = cp_cursor_remaining(&c);
        if (cp_cursor_ptr(&c, slen, &sig) < 0)
                return 0;

        if (cp_tpm_quote_parse(attest, alen, &q) < 0)
                return 0;
        for (unsigned i = 0; i < CP_TPM_PCR_COUNT; i++)
                bank.values[i] = zero;
        sink = cp_tpm_quote_check_nonce(&q, (const uint8_t *) "challenge", 9);
        sink = cp_tpm_quote_check_pcrs(&q, CP_TPM_ALG_SHA256, &bank, 1);

        int k = (flags & 1) ? cp_tpm_signature_parse(sig, slen, &s)
                            : cp_tpm_signature_from_raw(sig, slen, CP_TPM_ALG_RSASSA, CP_TPM_ALG_SHA256, &s);
        if (k < 0 || !ak())
                return 0;
        sink = cp_tpm_quote_verify(&q, &s, ak(), (const uint8_t *) "challenge", 9, &bank, 1);
        return 0;
}
